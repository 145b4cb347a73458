"""The paper-003 experiment (bit allocation, loss design) on a tiny world, through run_sim.py's entry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.paths import ROOT


def test_bit_allocation_quick_run_on_a_tiny_world(tmp_path: Path) -> None:
    from simnet.cli import run_sim_main

    path = ROOT / "scenarios" / "paper" / "003_bit_allocation.yaml"
    sets = ["experiment.num_train=16", "experiment.num_val=4", "experiment.num_test=4", "experiment.batch_size=8",
            "experiment.epochs=1", "experiment.total_bits=[64]"]
    out = tmp_path / "a"
    argv = [str(path), "--out", str(out), "--quiet", "--quick", *[a for s in sets for a in ("--set", s)]]
    assert run_sim_main(argv) == 0
    table = pd.read_csv(out / "table.csv", keep_default_na=False, na_values=["", "nan"])
    assert list(table.method) == ["proposed", "uniform", "plain-mse", "rd-crnet_lambda1 (range coded)"]
    trained = table.iloc[:3]
    assert (trained.bits_per_report == 64).all()  # 48 bits of indices + the 16-bit norm code, real bytes
    assert (trained.num_outputs == 12).all() and trained.allocation.tolist() == ["greedy", "uniform", "greedy"]
    assert trained.num_moved.iloc[1] == 0 and (trained.min_bits.iloc[1], trained.max_bits.iloc[1]) == (4, 4)
    assert table.bits_per_report.iloc[3] % 8 == 0 and table.bits_per_report.iloc[3] > 64
    assert trained.paper_setting.tolist() == ["512/4"] * 3
    assert trained.paper_nmse_db.iloc[0] == -21.90 and np.isnan(trained.paper_nmse_db.iloc[1])
    text = (out / "table.md").read_text()
    assert "Verdict (a) bit allocation vs uniform allocation, 64 bits" in text and "Verdict (b)" in text
    assert (table.seed.iloc[:3] == 0).all()
    assert (out / "figure.png").is_file()
