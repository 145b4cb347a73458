"""Checkpoints: save/load round trip, shipped defaults, corrupt or mismatched files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from simnet.codecs import CODECS, default_checkpoint, load_codec, save_codec, shipped_checkpoints
from simnet.errors import DataError
from tests.codecs.conftest import few_path_channels


@pytest.mark.parametrize("name", ["rd-cnn", "rd-cnn-paper", "rd-crnet"])
def test_save_load_roundtrip_gives_identical_streams(name: str, tmp_path: Path) -> None:
    codec = CODECS.make(name, num_bs_ant=8, num_subcarriers=8, seed=1).eval()
    path = save_codec(codec, tmp_path / "c.pt", lmbda=2.0, data_hash="abc")
    loaded = load_codec(path)
    h = few_path_channels(4, 8, 8, seed=3)
    assert loaded.compress(h) == codec.compress(h)
    assert loaded.checkpoint_meta == {"lmbda": 2.0, "data_hash": "abc"}
    assert loaded.config == codec.config


def test_corrupt_and_foreign_checkpoints_are_data_errors(tmp_path: Path) -> None:
    codec = CODECS.make("rd-cnn", num_bs_ant=8, num_subcarriers=8).eval()
    path = save_codec(codec, tmp_path / "c.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:200])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    blob = torch.load(path, weights_only=True)
    blob["state_dict"] = {k: v[..., :1] for k, v in blob["state_dict"].items()}
    wrong_shapes = tmp_path / "shapes.pt"
    torch.save(blob, wrong_shapes)
    for bad in (truncated, garbage, foreign, wrong_shapes, tmp_path / "missing.pt"):
        with pytest.raises(DataError):
            load_codec(bad)
    with pytest.raises(DataError, match="num_bs_ant"):
        load_codec(path, num_bs_ant=64)


def test_shipped_checkpoints_load_and_default_is_the_low_rate_one() -> None:
    paths = shipped_checkpoints()
    assert default_checkpoint() in paths
    assert all(p.stat().st_size < 2 * 1024 * 1024 for p in paths)
    lambdas = {p: load_codec(p).checkpoint_meta["lmbda"] for p in paths if p.name.startswith("rd-cnn_")}
    assert lambdas[default_checkpoint()] == min(lambdas.values())
    codec = load_codec(default_checkpoint())
    assert (codec.num_bs_ant, codec.num_subcarriers) == (64, 64)
    h = few_path_channels(2, 64, 64, seed=0)
    np.testing.assert_array_equal(codec.decompress(codec.compress(h)), codec.reconstruct(h)[0])


@pytest.mark.slow
def test_shipped_rd_curve_is_monotone_and_bits_match_the_estimate() -> None:
    from simnet.evaluate import evaluate
    from simnet.pretrain import sample_channels

    h = sample_channels("o1_like", 200, seed=7, split="test")
    points = sorted(
        (evaluate(p, h=h) for p in shipped_checkpoints() if p.name.startswith("rd-cnn_")),
        key=lambda r: r["lmbda"],
    )
    assert len(points) >= 4
    for r in points:
        assert r["bits_per_report_real"] <= 1.02 * r["bits_per_report_est"] + 64
    rates = [r["bits_per_dim_real"] for r in points]
    nmses = [r["nmse_db"] for r in points]
    assert rates == sorted(rates) and nmses == sorted(nmses, reverse=True)
