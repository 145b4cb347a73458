"""Hostile command lines: every bad flag, override or scenario path ends in one line and exit code 2, fast.

Each case runs ``run_sim.py`` in-process (``simnet.cli.run_sim_main``) on the tiny scenario and asserts: exit
code 2, no traceback, one ``error: ...`` line on stderr naming the key, nothing written, well under a
second. The broken scenario *files* are in ``tests/scenarios_broken`` (see ``test_config``); the inputs
that are accepted on purpose are at the end, each with what it is taken to mean.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

import simnet.sim.engine  # noqa: F401  (imported once here so that no case pays for torch's import)
from simnet.cli import run_sim_main
from simnet.config import load_scenario, parse_overrides
from simnet.errors import ConfigError
from tests.paths import ROOT, TINY

MAX_CASE_S = 3.0

# (id, --set values, what the one error line must contain)
BAD_OVERRIDES = [
    ("unknown-section", ["uplnk.rate_bps=1"], "uplnk: unknown section (from --set); did you mean 'uplink'?"),
    ("unknown-key", ["ues.cout=1"], "ues.cout: unknown key; did you mean 'count'?"),
    ("unknown-deep-section", ["downlnk.slot_period_s=0.1"], "did you mean 'downlink'?"),
    ("rate-below-1kbps", ["uplink.rate_bps=1"], "uplink.rate_bps: value 1 is out of range (allowed: >= 1000"),
    ("rate-millibit", ["uplink.rate_bps=1.0e-3"], "uplink.rate_bps: value 0.001 is out of range"),
    ("rate-word", ["uplink.rate_bps=fast"], "uplink.rate_bps: must be a number, got a string 'fast'"),
    ("rate-inf", ["uplink.rate_bps=.inf"], "uplink.rate_bps: must be a finite number"),
    ("carrier-inf", ["system.carrier_hz=.inf"], "system.carrier_hz: must be a finite number"),
    ("carrier-millihertz", ["system.carrier_hz=1e-3"], "system.carrier_hz: value 0.001 is out of range"),
    ("carrier-in-channel-block", ["channel.carrier_hz=3.7e9"], "channel.carrier_hz: is set by the system section"),
    ("bandwidth-nan", ["system.bandwidth_hz=.nan"], "system.bandwidth_hz: must be a finite number"),
    ("subcarriers-float", ["system.num_subcarriers=1e9"], "system.num_subcarriers: must be an integer, got a float"),
    ("bs-array-zero", ["system.bs_array=[0, 2]"], "system.bs_array: value [0, 2] is invalid"),
    ("snr-huge", ["system.snr_db=1e6"], "system.snr_db: value 1000000.0 is out of range"),
    ("count-true", ["ues.count=true"], "ues.count: must be an integer, got a boolean True"),
    ("count-zero", ["ues.count=0"], "ues.count: value 0 is out of range"),
    ("count-2000", ["ues.count=2000"], "ues.count: value 2000 is out of range (allowed: >= 1 and <= 1024)"),
    ("count-empty", ["ues.count="], "ues.count: must be given (null is not allowed)"),
    ("section-is-a-number", ["ues=3"], "ues: must be a mapping of keys, got int 3"),
    ("section-then-key", ["ues=3", "ues.count=2"], "ues was set to a value by an earlier --set"),
    ("key-then-section", ["ues.count=2", "ues=3"], "ues already has keys set by an earlier --set"),
    ("speed-1e-300", ["ues.speed_mps=1e-300"], "ues.speed_mps: value 1e-300 is out of range (allowed: >= 0.01"),
    ("speed-negative", ["ues.speed_mps=-1"], "ues.speed_mps: value -1 is out of range"),
    ("spacing-4um", ["ues.sample_spacing_m=4e-6"], "ues.sample_spacing_m: value 4e-06 is out of range"),
    ("track-1e12", ["ues.track_length_m=1e12"], "ues.track_length_m: value 1000000000000.0 is out of range"),
    ("track-past-route", ["ues.track_length_m=400"], "ues.track_length_m: value 400 is longer than the 300 m route"),
    ("step-inf", ["ues.seconds_per_step=.inf"], "ues.seconds_per_step: must be a finite number, got inf"),
    ("stagger-string", ["ues.stagger=maybe"], "ues.stagger: must be true or false"),
    ("slot-1ns", ["downlink.slot_period_s=1e-9"], "downlink.slot_period_s: value 1e-09 is out of range"),
    ("slot-inf", ["downlink.slot_period_s=.inf"], "downlink.slot_period_s: must be a finite number"),
    ("latency-nan", ["uplink.latency_s=.nan"], "uplink.latency_s: must be a finite number"),
    ("latency-negative", ["uplink.latency_s=-0.1"], "uplink.latency_s: value -0.1 is out of range"),
    ("discipline-unknown", ["uplink.discipline=lifo"], "uplink.discipline: value 'lifo' is invalid"),
    ("users-1000-memory", ["ues.count=1000", "ues.sample_spacing_m=0.001", "ues.report_spacing_m=0.001",
                           "ues.track_length_m=100"], "run size: the channels of 1000 users"),
    ("slots-without-end", ["ues.speed_mps=0.01", "ues.track_length_m=250", "downlink.slot_period_s=1e-5"],
     "downlink slots"),
    ("name-dotdot", ["name=../../etc"], "name: value '../../etc' cannot be a folder name"),
    ("name-absolute", ["name=/tmp/x"], "name: value '/tmp/x' cannot be a folder name"),
    ("name-dash", ["name=-rf"], "name: value '-rf' cannot be a folder name"),
    ("name-number", ["name=7"], "name: value 7 is invalid (allowed: a non-empty string)"),
    ("output-dir-empty", ["output.dir=''"], "output.dir: value '' is invalid"),
    ("output-dir-null", ["output.dir="], "output.dir: must be given"),
    ("plots-number", ["output.plots=1"], "output.plots: must be true or false, got an integer 1"),
    ("seed-negative", ["seed=-1"], "seed: value -1 is invalid"),
    ("seed-float", ["seed=1.5"], "seed: value 1.5 is invalid"),
    ("policies-empty", ["policies=[]"], "policies: must be a non-empty list"),
    ("policy-interval-string", ["policies=[{type: periodic, interval_m: '4'}]"], "interval_m: must be a number"),
    ("policy-interval-inf", ["policies=[{type: periodic, interval_m: .inf}]"], "interval_m: must be a finite number"),
    ("policy-steps-string", ["policies=[{type: periodic, steps: '30'}]"], "steps: must be an integer, got a string"),
    ("policy-regularize-word", ["policies=[{type: periodic, regularize: 'no'}]"], "regularize: must be true or false"),
    ("policy-shadow-number", ["policies=[{type: drift, check_fraction: 0.2, shadow: 1}]"], "shadow: must be true or"),
    ("policy-unknown", ["policies=[{type: perodic}]"], "did you mean 'periodic'?"),
    ("codec-unknown", ["codec.type=learned-transfrom"], "did you mean 'learned-transform'?"),
    ("quick-unknown-section", ["quick.uplnk.rate_bps=1"], "quick.uplnk: unknown section; did you mean 'uplink'?"),
    ("value-bad-yaml", ["ues.count=[1"], "the value is not valid YAML"),
    ("value-recursive-alias", ["description=&a [*a]"], "recursive alias"),
    ("value-python-tag", ["name=!!python/name:os.system"], "could not determine a constructor"),
    ("no-equals", ["ues.count"], "expected KEY.PATH=VALUE"),
    ("empty-key", ["=3"], "expected KEY.PATH=VALUE"),
    ("double-dot", ["ues..count=1"], "expected KEY.PATH=VALUE"),
]
# (id, argv after the scenario, what argparse's error line must contain)
BAD_FLAGS = [
    ("workers-zero", ["--workers", "0"], "argument --workers: 0 is not >= 1"),
    ("workers-negative", ["--workers", "-3"], "argument --workers: -3 is not >= 1"),
    ("workers-word", ["--workers", "many"], "argument --workers: 'many' is not an integer"),
    ("seed-negative", ["--seed", "-1"], "argument --seed: -1 is out of range"),
    ("seed-word", ["--seed", "abc"], "argument --seed: 'abc' is not an integer"),
    ("seed-2^64", ["--seed", str(2**64)], "argument --seed: 18446744073709551616 is out of range"),
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], float]:
    t0 = time.perf_counter()
    code = run_sim_main(argv)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    return code, lines, time.perf_counter() - t0


def _assert_one_line(code: int, lines: list[str], seconds: float, expect: str) -> None:
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in lines[0] and expect in lines[0], lines[0]
    assert len(lines[0]) < 700, "an error line quotes at most 200 characters of a value"
    assert seconds < MAX_CASE_S


@pytest.mark.parametrize(("values", "expect"), [c[1:] for c in BAD_OVERRIDES], ids=[c[0] for c in BAD_OVERRIDES])
def test_bad_override_is_one_line(values: list[str], expect: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]):
    argv = [str(TINY), "--out", str(tmp_path / "out"), "--quiet", "--no-cache"]
    for value in values:
        argv += ["--set", value]
    _assert_one_line(*_run(argv, capsys), expect)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("flags", "expect"), [c[1:] for c in BAD_FLAGS], ids=[c[0] for c in BAD_FLAGS])
def test_bad_flag_is_argparse_usage_and_one_error_line(flags: list[str], expect: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as info:
        run_sim_main([str(TINY), "--out", str(tmp_path / "out"), "--quiet", "--no-cache", *flags])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert info.value.code == 2
    assert lines[0].startswith("usage: run_sim.py") and lines[-1].startswith("run_sim.py: error: ")
    assert expect in lines[-1], lines[-1]
    assert not (tmp_path / "out").exists()


def _bad_paths(tmp: Path) -> dict[str, tuple[Path, str]]:
    big = tmp / "big.yaml"
    big.write_bytes(b"# padding\n" * 110_000)
    png = tmp / "figure.yaml"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    empty = tmp / "empty.yaml"
    empty.write_text("")
    listing = tmp / "list.yaml"
    listing.write_text("- a\n- b\n")
    return {
        "missing": (tmp / "nope.yaml", "scenario file not found"),
        "folder": (tmp, "is a folder, not a scenario file"),
        "device": (Path("/dev/null"), "is not a regular file"),
        "too-large": (big, "is too large for a scenario file"),
        "binary": (png, "not UTF-8 text: byte 0x89 at line 1"),
        "empty": (empty, "the top level must be a mapping of sections"),
        "top-level-list": (listing, "the top level must be a mapping of sections"),
    }


PATH_CASES = ["missing", "folder", "device", "too-large", "binary", "empty", "top-level-list"]


@pytest.mark.parametrize("case", PATH_CASES)
def test_bad_scenario_path_is_one_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path, expect = _bad_paths(tmp_path)[case]
    out = tmp_path / "out"
    _assert_one_line(*_run([str(path), "--out", str(out), "--quiet", "--no-cache"], capsys), expect)
    assert not out.exists()


def test_corpus_has_at_least_60_hostile_inputs():
    files = list((ROOT / "tests" / "scenarios_broken").glob("*.yaml"))
    assert len(BAD_OVERRIDES) + len(BAD_FLAGS) + len(PATH_CASES) + len(files) >= 60 + 42  # 42 files were there


# Accepted on purpose: what each is taken to mean.
def test_documented_acceptances():
    load = lambda *values: load_scenario(TINY, overrides=parse_overrides(list(values)))  # noqa: E731
    sc = load("system.bandwidth_hz=1.0e7", "uplink.rate_bps=5e4")  # YAML 1.2 floats: 1.0e7 is a number
    assert sc.system.bandwidth_hz == 1e7 and sc.uplink.rate_bps == 5e4
    assert load("ues.speed_mps=2").ues.speed_mps == 2.0  # an integer where a number is asked for
    assert load("name=run 1 (fifo)").name == "run 1 (fifo)"  # spaces and brackets make a fine folder name
    assert load("ues.count=2", "ues.count=1").ues.count == 1  # the same key twice: the last --set wins
    assert load("ues.track_length_m=300").ues.track_length_m == 300  # exactly the route's length
    assert load("downlink.slot_period_s=1e-6").downlink.slot_period_s == 1e-6  # the range's edge is allowed


HOSTILE_VALUES = [None, True, "x", -1, 0, 1e308, math.inf, math.nan, [], {}, [1, 2], "a" * 1000, 10**30, 2.5, "4"]
SECTION_KEYS = {
    "system": ["carrier_hz", "bandwidth_hz", "num_subcarriers", "bs_array", "snr_db"],
    "ues": ["count", "speed_mps", "sample_spacing_m", "report_spacing_m", "track_length_m", "window_max",
            "seconds_per_step", "stagger", "csi_rs_period_ms", "report_period_ms", "speeds_mps", "track_duration_s",
            "estimation_snr_db"],
    "uplink": ["rate_bps", "discipline", "latency_s", "loss_probability", "retransmit", "max_retransmissions",
               "retransmit_delay_s"],
    "downlink": ["slot_period_s"], "output": ["dir", "plots", "user_percentiles"],
}
POLICY_KEYS = {
    "periodic": ["interval_m", "window_size", "steps", "batch_size", "lr", "lambda", "beta", "prior", "num_bins",
                 "regularize"],
    "drift": ["threshold_db", "hysteresis_db", "min_spacing_m", "statistic", "num_average", "check_fraction",
              "payback_reports", "probe_m", "shadow"],
    "translation": ["num_channels"],
}


def _hostile_overrides() -> list[dict]:
    cases: list[dict] = []
    for value in HOSTILE_VALUES:
        cases += [{sec: {key: value}} for sec, keys in SECTION_KEYS.items() for key in keys]
        cases += [{sec: value} for sec in [*SECTION_KEYS, "channel", "codec", "policies", "name", "seed", "quick"]]
        cases += [{"policies": [{"type": typ, key: value}]} for typ, keys in POLICY_KEYS.items() for key in keys]
        cases += [{"policies": [{"type": "never", "label": value}]}, {"policies": [{"type": "never", "sweep": value}]},
                  {"codec": {"type": value}}, {"channel": {"type": "geometric", "preset": value}}]
    return cases


def test_every_key_takes_every_hostile_value_with_one_line_or_a_valid_scenario():
    """Every section key and policy keyword x 15 hostile values (~900 cases, load time only): no other
    exception than ConfigError, every message one bounded line."""
    cases = _hostile_overrides()
    assert len(cases) > 800
    t0 = time.perf_counter()
    for overrides in cases:
        try:
            load_scenario(TINY, overrides=overrides)
        except ConfigError as err:
            assert "\n" not in str(err) and len(str(err)) < 800, (overrides, str(err)[:300])
    assert time.perf_counter() - t0 < 20
