"""The run pipeline called directly: the same summary.csv as the command line, resume and overwrite through the
API, the file read once, experiments through the same entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import simnet.config.file
from simnet.cli import run_sim_main
from simnet.config import load_scenario
from simnet.errors import ConfigError, DataError, SimnetError
from simnet.experiments import ExperimentSpec
from simnet.pipeline import RunResult, load_run_file, read_run, run_experiment, run_scenario
from tests.paths import ROOT, TINY

EXPERIMENT = ROOT / "tests" / "data" / "experiment_tiny.yaml"


def test_run_scenario_writes_the_cli_summary_byte_for_byte(tmp_path: Path):
    cache = tmp_path / "cache"
    assert run_sim_main([str(TINY), "--out", str(tmp_path / "cli"), "--quiet", "--workers", "1",
                         "--cache-dir", str(cache)]) == 0
    result = run_scenario(TINY, out=tmp_path / "api", cache_dir=cache)
    assert isinstance(result, RunResult) and result.out == tmp_path / "api" and not result.is_experiment
    assert (result.out / "summary.csv").read_bytes() == (tmp_path / "cli" / "summary.csv").read_bytes()
    assert list(result.summary.variant) == ["never"] and result.summary.num_reports.iloc[0] > 0
    on_disk = json.loads((result.out / "manifest.json").read_text())
    assert on_disk["status"] == "complete" == result.manifest["status"]
    assert on_disk["scenario_file"] == str(TINY) and on_disk["workers"] == 1 and result.figures == ()
    assert result.wall_time_s == on_disk["wall_time_s"] > 0
    back = read_run(result.out)  # what the held-out tool reads: the folder alone
    assert back.manifest == on_disk and back.wall_time_s == result.wall_time_s and back.figures == ()
    assert list(back.summary.variant) == ["never"]
    assert back.summary.num_reports.iloc[0] == result.summary.num_reports.iloc[0]
    with pytest.raises(DataError, match="no readable manifest.json"):
        read_run(tmp_path)


def test_a_loaded_scenario_runs_like_its_file_and_records_how_it_was_read(tmp_path: Path):
    cache = tmp_path / "cache"
    by_path = run_scenario(TINY, out=tmp_path / "a", cache_dir=cache, seed=7, overrides=["ues.count=1"])
    loaded = load_scenario(TINY, seed=7, overrides={"ues": {"count": 1}})
    by_object = run_scenario(loaded, out=tmp_path / "b", cache_dir=cache, overrides=["ues.count=1"])
    assert (by_path.out / "summary.csv").read_bytes() == (by_object.out / "summary.csv").read_bytes()
    assert by_path.manifest["seed"] == 7 and by_path.manifest["overrides"] == ["ues.count=1"]
    assert by_path.summary.num_reports.iloc[0] < run_scenario(TINY, out=tmp_path / "c").summary.num_reports.iloc[0]


def test_resume_and_overwrite_through_the_api(tmp_path: Path):
    out, cache = tmp_path / "run", tmp_path / "cache"
    first = run_scenario(TINY, out=out, cache_dir=cache)
    summary_bytes = (out / "summary.csv").read_bytes()
    with pytest.raises(SimnetError, match="already holds a run"):
        run_scenario(TINY, out=out, cache_dir=cache)
    with pytest.raises(SimnetError, match="give one of them"):
        run_scenario(TINY, out=out, resume=True, overwrite=True)
    resumed = run_scenario(TINY, out=out, cache_dir=cache, resume=True)  # complete: nothing left to run
    assert (out / "summary.csv").read_bytes() == summary_bytes
    assert [r["status"] for r in resumed.manifest["resumed"]] == ["complete"]
    cols = ["total_bits_per_dim", "nmse_db", "num_reports"]  # the resumed rows are read back from the csv
    assert np.allclose(resumed.summary[cols].astype(float), first.summary[cols].astype(float), rtol=1e-5)
    assert list(resumed.summary.variant) == list(first.summary.variant)
    replaced = run_scenario(TINY, out=out, cache_dir=cache, overwrite=True, seed=11)
    assert replaced.manifest["seed"] == 11 and "resumed" not in replaced.manifest
    assert json.loads((out / "manifest.json").read_text())["seed"] == 11


def test_the_file_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    reads: list[str] = []
    real = simnet.config.file.load_bytes

    def counting(data: bytes) -> Any:
        reads.append("read")
        return real(data)

    monkeypatch.setattr(simnet.config.file, "load_bytes", counting)
    assert run_sim_main([str(TINY), "--out", str(tmp_path / "run"), "--quiet", "--no-cache"]) == 0
    assert reads == ["read"]
    reads.clear()
    assert isinstance(load_run_file(EXPERIMENT), ExperimentSpec) and reads == ["read"]


def test_an_experiment_runs_through_the_same_pipeline(tmp_path: Path):
    result = run_experiment(EXPERIMENT, out=tmp_path / "exp", quick=True, plots=False)
    assert result.is_experiment and result.figures == ()
    assert list(result.summary.num_bins) == [64]
    assert sorted(p.name for p in result.out.iterdir()) == ["manifest.json", "table.csv", "table.md"]
    assert result.manifest["status"] == "complete" and result.manifest["quick"] is True
    with pytest.raises(ConfigError, match="is an experiment file"):
        run_scenario(EXPERIMENT, out=tmp_path / "wrong")
    with pytest.raises(ConfigError, match="is a scenario file"):
        run_experiment(TINY, out=tmp_path / "wrong")
    assert not (tmp_path / "wrong").exists()


def test_without_out_the_run_lands_in_output_dir_under_a_timestamped_name(tmp_path: Path):
    """The default main job gives no --out: the folder is named once, created, and holds the whole run."""
    base = tmp_path / "results"
    code = run_sim_main([str(TINY), "--quiet", "--workers", "1", "--cache-dir", str(tmp_path / "cache"),
                         "--set", f"output.dir={base}"])
    assert code == 0
    (run,) = list(base.iterdir())
    assert run.name.startswith("tiny-")
    assert json.loads((run / "manifest.json").read_text())["status"] == "complete"
    assert (run / "summary.csv").is_file()
