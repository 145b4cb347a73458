"""The strict YAML reader: duplicate keys, alias bombs, binary text and deep nesting refused fast."""

from __future__ import annotations

import time

import pytest

from simnet.config.strict_yaml import MAX_EXPANDED_NODES, StrictYAMLError, load_bytes, load_text, quote


def _bomb(levels: int, width: int = 9) -> str:
    text = "l0: &l0 [" + ", ".join(['"lol"'] * width) + "]\n"
    for i in range(1, levels):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]\n"
    return text


def test_billion_laughs_is_refused_in_milliseconds():
    text = _bomb(10)
    assert len(text) < 1024
    t0 = time.perf_counter()
    with pytest.raises(StrictYAMLError, match="alias bomb") as info:
        load_text(text)
    assert time.perf_counter() - t0 < 0.5
    assert info.value.line is not None and len(str(info.value)) < 200


def test_aliases_that_stay_small_are_allowed():
    assert load_text(_bomb(3))["l2"] == [[["lol"] * 9] * 9] * 9  # 9^3 values: well under the limit
    assert 9**5 < MAX_EXPANDED_NODES < 9**6
    assert load_text("base: &b {x: 1}\nother: {<<: *b, y: 2}\n")["other"] == {"x": 1, "y": 2}  # merge keys


@pytest.mark.parametrize(("text", "line"), [("a: 1\nb: 2\na: 3\n", 3), ("s: {k: 1, k: 2}\n", 1),
                                            ("s:\n  - {x: 1}\n  - {x: 1, y: 2, 'y': 3}\n", 3)])
def test_duplicate_keys_are_refused_with_their_line(text: str, line: int):
    with pytest.raises(StrictYAMLError, match="duplicate key") as info:
        load_text(text)
    assert info.value.line == line


def test_yaml12_floats_and_plain_safe_types():
    assert load_text("[3.5e9, 1e3, 1.0e-3, -2E+3, 1_000, .inf, '4', 1.2.3e4]")[:5] == [3.5e9, 1e3, 1e-3, -2e3, 1000]
    assert load_text("[1e3, '4', 1.2.3e4]") == [1000.0, "4", "1.2.3e4"]
    with pytest.raises(StrictYAMLError, match="could not determine a constructor"):
        load_text("a: !!python/object/apply:os.system [echo]")


@pytest.mark.parametrize(("data", "expect"), [(b"a: \xff\n", "not UTF-8 text: byte 0xff at line 1"),
                                              (b"a: 1\nb: \x00\n", "character 0x0 at position 8"),
                                              (b"[" * 500 + b"]" * 500, "nested more than 100 levels deep"),
                                              (b"x: &a [1, *a]\n", "recursive alias"),
                                              (b"#" * (2**20 + 1), "too large for a scenario file")])
def test_bad_bytes_are_one_clear_problem(data: bytes, expect: str):
    with pytest.raises(StrictYAMLError, match=expect):
        load_bytes(data)


def test_quote_bounds_what_a_message_repeats():
    assert quote("abc") == "'abc'"
    long = quote("x" * 10_000)
    assert len(long) < 240 and long.endswith("... (10002 characters)")
    assert load_bytes("\ufeffa: 1\n".encode()) == {"a": 1}  # a UTF-8 byte-order mark is fine
