"""The eType II versus neural tables from run folders: the codec comes from each run's manifest."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from simnet.analysis.etype2_vs_neural import read_runs, sim_table
from simnet.errors import DataError

_ROW = {"policy": "never", "variant": "never", "latent_bits_per_report": 92.0, "update_bits_per_report": 0.0,
        "total_bits_per_report": 92.0, "sgcs": 0.7, "sgcs_report": 0.8, "se_bps_hz": 7.0, "num_model_updates": 0}


def _run(tmp_path, name: str, codec: str, bits: float):
    run = tmp_path / f"{name}-20261203-101010"
    run.mkdir()
    pd.DataFrame([{**_ROW, "total_bits_per_report": bits}]).to_csv(run / "summary.csv", index=False)
    (run / "manifest.json").write_text(json.dumps({"codec": {"type": codec}}))
    return run


def test_runs_carry_their_codec_and_sort_by_total_bits(tmp_path):
    runs = read_runs([_run(tmp_path, "etype2_vs_neural_pc4", "etype2", 97.5),
                      _run(tmp_path, "etype2_vs_neural_conv", "eigen-crnet", 60.0)])
    assert list(runs.run) == ["etype2_vs_neural_pc4", "etype2_vs_neural_conv"]
    assert list(runs.codec) == ["etype2", "eigen-crnet"]
    rows = sim_table(runs).splitlines()[2:]
    assert rows[0].startswith("| etype2_vs_neural_conv | eigen-crnet | never |") and "| etype2 |" in rows[1]


def test_a_run_without_manifest_is_one_clear_error(tmp_path):
    run = _run(tmp_path, "x", "etype2", 1.0)
    (run / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match="manifest.json: unreadable"):
        read_runs([run])
    with pytest.raises(DataError, match="run the scenario into"):
        read_runs([tmp_path / "missing"])


def test_the_figure_is_drawn_from_files_only(tmp_path):
    from simnet.analysis.etype2_vs_neural import plot

    runs = read_runs([_run(tmp_path, "etype2_vs_neural_pc4", "etype2", 97.5),
                      _run(tmp_path, "etype2_vs_neural_conv", "eigen-crnet", 60.0)])
    study = pd.DataFrame([{"preset": "o1_like", "family": f, "bits_per_report": b, "sgcs": v}
                          for f, b, v in (("etype2", 48, 0.71), ("etype2", 98, 0.80), ("eigen-crnet", 105, 0.78))])
    plot(study, runs, tmp_path / "fig.png")
    assert (tmp_path / "fig.png").stat().st_size > 10_000
