"""Checkpoints: save/load round trip, shipped defaults, corrupt or mismatched files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from simnet.codecs import (
    CODECS,
    default_checkpoint,
    load_codec,
    save_codec,
    shipped_checkpoints,
    shipped_sha256,
)
from simnet.errors import ConfigError, DataError
from tests.codecs.conftest import few_path_channels


@pytest.mark.parametrize("name", ["learned-transform", "rd-cnn-paper", "rd-crnet", "rd-crnet-hyperprior"])
def test_save_load_roundtrip_gives_identical_streams(name: str, tmp_path: Path) -> None:
    codec = CODECS.make(name, num_bs_ant=8, num_subcarriers=8, seed=1).eval()
    path = save_codec(codec, tmp_path / "c.pt", lmbda=2.0, data_hash="abc")
    loaded = load_codec(path)
    h = few_path_channels(4, 8, 8, seed=3)
    assert loaded.compress(h) == codec.compress(h)
    assert loaded.checkpoint_meta == {"lmbda": 2.0, "data_hash": "abc"}
    assert loaded.config == codec.config


def test_corrupt_and_foreign_checkpoints_are_data_errors(tmp_path: Path) -> None:
    codec = CODECS.make("learned-transform", num_bs_ant=8, num_subcarriers=8).eval()
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
    lambdas = {p: load_codec(p).checkpoint_meta["lmbda"] for p in paths if p.name.startswith("learned-transform_")}
    assert lambdas[default_checkpoint()] == min(lambdas.values())
    codec = load_codec(default_checkpoint())
    assert (codec.num_bs_ant, codec.num_subcarriers) == (64, 64)
    h = few_path_channels(2, 64, 64, seed=0)
    np.testing.assert_array_equal(codec.decompress(codec.compress(h)), codec.reconstruct(h)[0])


@pytest.mark.slow
def test_shipped_rd_curve_is_monotone_and_bits_match_the_estimate() -> None:
    from simnet.analysis.evaluate import evaluate
    from simnet.learning.pretrain import sample_channels

    h = sample_channels("o1_like", 200, seed=7, split="test")
    points = sorted(
        (evaluate(p, h=h) for p in shipped_checkpoints() if p.name.startswith("learned-transform_")),
        key=lambda r: r["lmbda"],
    )
    assert len(points) >= 4
    for r in points:
        assert r["bits_per_report_real"] <= 1.02 * r["bits_per_report_est"] + 64
    rates = [r["bits_per_dim_real"] for r in points]
    nmses = [r["nmse_db"] for r in points]
    assert rates == sorted(rates) and nmses == sorted(nmses, reverse=True)


def test_the_shipped_sha256_list_matches_the_shipped_files_exactly() -> None:
    listed = shipped_sha256()
    assert sorted(listed) == sorted(p.name for p in shipped_checkpoints())
    for path in shipped_checkpoints():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == listed[path.name], path.name


def test_setup_cfg_ships_the_sha256_list() -> None:
    setup_cfg = Path(__file__).resolve().parents[2] / "setup.cfg"
    package_data = setup_cfg.read_text().split("[options.package_data]")[1].split("[")[0]
    assert "codecs/checkpoints/SHA256SUMS" in package_data


def _damaged_copies(tmp_path: Path) -> list[Path]:
    """A shipped checkpoint with 4 KiB zeroed at three places and with 3 bytes flipped at three places."""
    data = default_checkpoint().read_bytes()
    copies = []
    for k, offset in enumerate((4096, len(data) // 2, len(data) - 8192)):
        zeroed = bytearray(data)
        zeroed[offset : offset + 4096] = bytes(4096)
        copies.append(tmp_path / f"zeroed{k}.pt")
        copies[-1].write_bytes(bytes(zeroed))
    rng = np.random.default_rng(0)
    for k in range(3):
        flipped = bytearray(data)
        for pos in rng.integers(1024, len(data) - 4096, size=3):
            flipped[pos] ^= 0x5A
        copies.append(tmp_path / f"flipped{k}.pt")
        copies[-1].write_bytes(bytes(flipped))
    return copies


def test_a_damaged_checkpoint_is_refused_by_its_zip_crcs(tmp_path: Path) -> None:
    for damaged in _damaged_copies(tmp_path):
        assert damaged.read_bytes() != default_checkpoint().read_bytes()
        with pytest.raises(DataError, match=f"{damaged.name}.* is corrupt") as err:
            load_codec(damaged)
        assert "\n" not in str(err.value)


def test_a_shipped_checkpoint_that_differs_from_its_listed_sha256_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import simnet.codecs.checkpoint as checkpoint

    shipped = tmp_path / "checkpoints"
    monkeypatch.setattr(checkpoint, "CHECKPOINT_DIR", shipped)
    monkeypatch.setattr(checkpoint, "SHA256_LIST", shipped / "SHA256SUMS")
    codec = CODECS.make("learned-transform", num_bs_ant=8, num_subcarriers=8, seed=1).eval()
    path = save_codec(codec, shipped / "small.pt", lmbda=1.0)  # writing into the shipped folder lists it
    assert checkpoint.shipped_sha256() == {"small.pt": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert load_codec(path).checkpoint_sha256 == checkpoint.shipped_sha256()["small.pt"]
    listed = (shipped / "SHA256SUMS").read_text()
    torch.save({**torch.load(path, weights_only=True), "meta": {"lmbda": 2.0}}, path)  # valid zip, new bytes
    (shipped / "SHA256SUMS").write_text(listed)
    with pytest.raises(DataError, match="small.pt.* has SHA-256 .* not the .* listed in SHA256SUMS"):
        load_codec(path)


def test_a_directory_or_text_file_as_checkpoint_gets_one_line_naming_it(tmp_path: Path) -> None:
    from simnet.codecs.checkpoint import resolve_checkpoint

    folder = tmp_path / "ckpt.pt"
    folder.mkdir()
    text = tmp_path / "notes.pt"
    text.write_text("these are my notes, not weights\n")
    with pytest.raises(DataError, match=r"'.*ckpt\.pt' is a directory; give the path of a \.pt file"):
        load_codec(resolve_checkpoint(str(folder)))
    with pytest.raises(DataError, match=r"'.*notes\.pt' is not a checkpoint .*simnet pretrain") as err:
        load_codec(resolve_checkpoint(str(text)))
    assert "pop from empty list" not in str(err.value)


def test_the_checkpoint_sha256_reaches_the_codec_info() -> None:
    from simnet.config import load_scenario
    from simnet.sim.world import build_codec
    from tests.paths import ROOT

    sc = load_scenario(ROOT / "scenarios" / "smoke.yaml")  # codec: {type: learned-transform, checkpoint: default}
    _, info = build_codec(sc.codec, sc.system)
    assert info["checkpoint_sha256"] == shipped_sha256()[default_checkpoint().name]


def test_a_checkpoint_saved_under_the_retired_name_rd_cnn_loads_as_learned_transform(tmp_path: Path) -> None:
    codec = CODECS.make("learned-transform", num_bs_ant=8, num_subcarriers=8, seed=1).eval()
    blob = {"format": "simnet-codec/1", "type": "rd-cnn", "config": dict(codec.config),
            "state_dict": codec.state_dict(), "meta": {"lmbda": 4.0}}  # fmt: skip
    torch.save(blob, tmp_path / "old.pt")
    loaded = load_codec(tmp_path / "old.pt")
    h = few_path_channels(3, 8, 8, seed=2)
    assert type(loaded) is CODECS.get("learned-transform")
    assert loaded.compress(h) == codec.compress(h)


def test_the_retired_codec_name_rd_cnn_names_its_new_name_in_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^codec 'rd-cnn' was renamed 'learned-transform' \(.*'rd-cnn-paper'"):
        CODECS.make("rd-cnn", num_bs_ant=8, num_subcarriers=8)
