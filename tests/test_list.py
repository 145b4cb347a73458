"""``simnet list``: every registered part on one line, codec sizes at the default grid, shipped checkpoints."""

from __future__ import annotations

from typing import Any

import pytest

from simnet.catalog import KINDS, entries, first_line, format_entries, registry_of
from simnet.cli import main


@pytest.fixture(scope="module")
def codecs() -> dict[str, Any]:
    return {e.name: e for e in entries("codecs")}


def test_every_registered_part_is_listed_once_with_its_docstring_line(capsys: Any):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for kind in KINDS:
        registry = registry_of(kind)
        assert f"{kind} ({len(registry)}):" in out
        for name in registry:
            lines = [line for line in out.splitlines() if line.split()[:1] == [name]]
            assert len(lines) == 1, (kind, name)
            assert first_line(registry.get(name)) in lines[0]


def test_one_section_only(capsys: Any):
    assert main(["list", "policies"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("policies (") and "codecs (" not in out and "  periodic " in out
    with pytest.raises(SystemExit) as err:  # argparse: not one of the four sections
        main(["list", "codec"])
    assert err.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_codec_sizes_at_the_default_grid(codecs: dict[str, Any]):
    learned_transform = codecs["learned-transform"]
    assert learned_transform.num_params == 61_440 and learned_transform.mflops_per_report == pytest.approx(5.24288)
    assert codecs["rd-cnn-paper"].num_params == 217_946  # the paper's "about 218 K parameters at 64 x 64"
    assert codecs["rd-cnn-paper"].mflops_per_report == pytest.approx(1109.1968)
    for codebook in ("type1", "etype2", "raw"):
        assert codecs[codebook].mflops_per_report is None


def test_shipped_checkpoints_belong_to_their_codec(codecs: dict[str, Any]):
    from simnet.codecs import shipped_checkpoints

    shipped = sorted(p.name for p in shipped_checkpoints())
    listed = sorted(name for entry in codecs.values() for name in entry.checkpoints)
    assert listed == shipped and shipped
    from simnet.codecs import CODECS

    for name, entry in codecs.items():  # named by lambda, or by the codec's rate option (bit-alloc: total_bits)
        prefix = f"{name}_{getattr(CODECS.get(name), 'rate_option', 'lambda')}"
        assert all(ckpt.startswith(prefix) for ckpt in entry.checkpoints), name
    assert len(codecs["learned-transform"].checkpoints) == 4  # the RD curve: lambda 1, 4, 16, 64
    assert len(codecs["rd-crnet"].checkpoints) == 6  # the same curve and two eType II payloads (0.1, 0.3)


def test_codebooks_print_a_dash_for_flops(codecs: dict[str, Any]):
    lines = format_entries("codecs", list(codecs.values()))
    type1 = next(line for line in lines if line.split()[0] == "type1")
    assert " - MFLOPs/report" in type1 and "0 params" in type1
    learned_transform = next(line for line in lines if line.split()[0] == "learned-transform")
    assert "61,440 params" in learned_transform and "5.243 MFLOPs/report" in learned_transform
    assert "learned-transform_lambda1.pt" in learned_transform
