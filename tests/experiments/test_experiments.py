"""Offline experiment files: every paper file validates; tiny real runs write their files deterministically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simnet.config import load_scenario
from simnet.experiments import EXPERIMENTS, RunContext, is_experiment_file, load_experiment
from simnet.experiments.complexity import scheme_counts
from tests.paths import ROOT

PAPER = sorted((ROOT / "scenarios" / "paper").glob("*.yaml"))
TINY_EXPERIMENT = ROOT / "tests" / "data" / "experiment_tiny.yaml"


def _ctx(seed: int = 0) -> RunContext:
    return RunContext(seed=seed, cache_dir=None, log=lambda line: None)


@pytest.mark.parametrize("quick", [False, True])
@pytest.mark.parametrize("path", PAPER, ids=[p.stem for p in PAPER])
def test_every_paper_file_validates(path: Path, quick: bool):
    assert "Measured wall time" in path.read_text() or not is_experiment_file(path)
    if is_experiment_file(path):
        spec = load_experiment(path, quick=quick)
        assert spec.type in EXPERIMENTS and spec.name == path.stem
    else:
        assert load_scenario(path, quick=quick).policies


def test_paper_files_cover_every_experiment_type():
    types = {load_experiment(p).type for p in PAPER if is_experiment_file(p)}
    assert types == set(EXPERIMENTS.names())


def _run(out: Path, *extra: str, path: Path = TINY_EXPERIMENT) -> int:
    """``run_sim.py`` in this process (the subprocess path is tested in tests/test_config.py and test_run_sim.py)."""
    from simnet.cli import run_sim_main

    return run_sim_main([str(path), "--out", str(out), "--quiet", "--cache-dir", str(out.parent / "cache"), *extra])


def test_update_quantization_run_writes_its_folder_deterministically(tmp_path: Path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert _run(a) == 0
    for name in ("table.csv", "table.md", "figure.png", "manifest.json"):
        assert (a / name).is_file(), name
    table = pd.read_csv(a / "table.csv")
    assert list(table.num_bins) == [4, 64]
    assert (table.update_bits % 8 == 0).all() and (table.update_bits > 0).all()  # real payloads
    assert np.allclose(table.total_bpd, table.latent_bpd + table.update_bpd, rtol=1e-4)
    assert list(table.paper_nmse_db) == [-7.33, -15.35]  # the paper's Table IV beside ours
    assert "| 64 | (" in (a / "table.md").read_text()
    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["experiment"]["type"] == "update_quantization"
    assert manifest["seed"] == 4

    assert _run(b, "--no-plots") == 0  # channels from the cache this time
    assert (a / "table.csv").read_bytes() == (b / "table.csv").read_bytes()
    assert not (b / "figure.png").exists()

    # --quick and --seed apply; a finished folder is not overwritten without --overwrite
    assert _run(b, "--quick", "--seed", "5", "--overwrite") == 0
    assert list(pd.read_csv(b / "table.csv").num_bins) == [64]
    assert json.loads((b / "manifest.json").read_text())["seed"] == 5
    before = (a / "table.csv").read_bytes()
    assert _run(a) == 2 and "already holds a run" in capsys.readouterr().err
    assert (a / "table.csv").read_bytes() == before

    # the figure and the markdown are redrawn from the files alone
    (a / "figure.png").unlink()
    from simnet.cli import main

    assert main(["plot", str(a)]) == 0 and (a / "figure.png").stat().st_size > 10_000


def test_backbone_rd_file_runs_tiny_through_overrides(tmp_path: Path):
    path = ROOT / "scenarios" / "paper" / "fig5_distribution_shift.yaml"
    assert _run(tmp_path / "r", "--set", "experiment.num_samples=3", "--set",
                "experiment.checkpoints=[learned-transform_lambda1, learned-transform_lambda64]", "--set",
                "experiment.presets=[o1_like, quadriga_track]", "--no-plots", path=path) == 0
    table = pd.read_csv(tmp_path / "r" / "table.csv")
    assert list(table.preset) == ["o1_like"] * 2 + ["quadriga_track"] * 2
    assert (table[table.preset == "o1_like"].nmse_shift_db == 0).all()
    src = table[table.preset == "o1_like"]
    assert src.bits_per_dim_real.iloc[1] > src.bits_per_dim_real.iloc[0]  # lambda 64 spends more bits ...
    assert src.nmse_db.iloc[1] < src.nmse_db.iloc[0]  # ... for a lower distortion
    assert "quadriga_track` against `o1_like`" in (tmp_path / "r" / "table.md").read_text()


def test_complexity_counts_follow_the_schemes():
    from simnet.codecs import CODECS

    codec = CODECS.make("learned-transform").eval()
    counts = scheme_counts(codec, translation_channels=4)
    total = sum(p.numel() for p in codec.parameters())
    dec = set(codec.decoder_parameter_names())
    num_dec = sum(p.numel() for n, p in codec.named_parameters() if n in dec)
    assert counts["full_model"]["trainable_params"] == total
    assert counts["full_model"]["update_params"] == num_dec
    assert counts["encoder_only"]["trainable_params"] == total - num_dec
    assert counts["encoder_only"]["update_params"] == 0
    assert 0 < counts["translation"]["update_params"] < counts["translation"]["trainable_params"]
    assert counts["translation"]["flops_per_report"] > counts["full_model"]["flops_per_report"] > 0


def test_finetune_trace_ends_on_the_update_sent(tmp_path: Path):
    text = TINY_EXPERIMENT.read_text().replace("type: update_quantization", "type: finetune_trace").replace(
        "  num_bins: [4, 64]\n", "  priors: [spike-and-slab, uniform]\n  trace_every: 1\n")
    path = tmp_path / "trace.yaml"
    path.write_text(text.replace("quick:\n  experiment: {num_bins: [64]}\n", ""))
    spec = load_experiment(path)
    table = spec.experiment.run(_ctx(spec.seed))
    assert list(table.step) == [1, 2, 1, 2]
    last = table.groupby("prior").last()
    assert last.loc["uniform", "update_bits"] > last.loc["spike-and-slab", "update_bits"]
    assert (last.num_nonzero > 0).all()


@pytest.mark.slow
def test_codeword_mimic_quick_run_on_a_tiny_world(tmp_path: Path):
    from simnet.codecs import CODECS, load_codec, save_codec
    from simnet.errors import ConfigError

    teacher = tmp_path / "teacher.pt"  # an untrained 64 x 64 rd-crnet: the recipe, not the teacher, is tested
    save_codec(CODECS.make("rd-crnet", seed=1).eval(), teacher, lmbda=1.0)
    path = ROOT / "scenarios" / "paper" / "004_codeword_mimic.yaml"
    saved = tmp_path / "student.pt"
    sets = [f"experiment.teacher={teacher}", "experiment.num_train=16", "experiment.num_test=4",
            "experiment.batch_size=8", "experiment.epochs=2", f"experiment.save_student={saved}"]
    assert _run(tmp_path / "a", "--quick", "--no-plots", *[a for s in sets for a in ("--set", s)], path=path) == 0
    table = pd.read_csv(tmp_path / "a" / "table.csv")
    assert list(table.method) == ["teacher", "student plain", "student CM (cosine alpha)"]
    bits = table.bits_per_dim * 4 * 2 * 64 * 64
    assert np.allclose(bits, np.round(bits / 8) * 8) and (bits > 0).all()  # real streams: whole bytes
    assert table.codeword_mse.iloc[0] == 0.0 and (table.codeword_mse.iloc[1:] > 0).all()
    assert (table.ue_size_bits.iloc[1:] < table.ue_size_bits.iloc[0] / 10).all()
    assert (table.bs_params == table.bs_params.iloc[0]).all()
    assert list(table.paper_nmse_indoor_db) == [-24.40, -17.39, -19.25]  # paper 004 Table I beside ours
    assert "Verdict, student CM (cosine alpha)" in (tmp_path / "a" / "table.md").read_text()
    student = load_codec(saved)  # the CM student, as the table scored it
    meta = student.checkpoint_meta
    assert meta["teacher"] == "teacher.pt" and meta["recipe"]["mimic_fraction"] == 0.2
    assert meta["held_out"]["nmse_db"] == pytest.approx(table.nmse_db.iloc[2], abs=1e-4)
    assert meta["held_out"]["bits_per_dim"] == pytest.approx(table.bits_per_dim.iloc[2], abs=1e-6)
    with pytest.raises(ConfigError, match="save_student"):
        load_experiment(path, overrides={"experiment": {"save_student": str(tmp_path / "student.pth")}})
