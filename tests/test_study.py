"""The congestion study driver on the tiny world: one row per (discipline, N, variant), load grows with N."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from simnet.errors import ConfigError
from simnet.study import main
from tests.paths import TINY


def test_congestion_study_collects_rows_and_load_grows_with_users(tmp_path: Path):
    out = tmp_path / "study"
    rc = main(["congestion", str(TINY), "--counts", "1", "3", "--disciplines", "fifo", "csi-first",
               "--out", str(out), "--workers", "1", "--cache-dir", str(tmp_path / "cache")])
    assert rc == 0
    df = pd.read_csv(out / "study.csv")
    assert sorted(zip(df.discipline, df.num_ues)) == [("csi-first", 1), ("csi-first", 3), ("fifo", 1), ("fifo", 3)]
    fifo = df[df.discipline == "fifo"].set_index("num_ues")
    assert fifo.loc[3, "uplink_utilisation"] > 2.5 * fifo.loc[1, "uplink_utilisation"]
    assert fifo.loc[3, "num_reports"] > 2.5 * fifo.loc[1, "num_reports"]
    assert (out / "congestion.png").is_file() and "| fifo | 3 |" in (out / "study.md").read_text()


def test_congestion_study_rejects_bad_arguments(tmp_path: Path):
    with pytest.raises(ConfigError, match="--counts"):
        main(["congestion", str(TINY), "--counts", "0", "--out", str(tmp_path)])
    with pytest.raises(ConfigError, match="--disciplines"):
        main(["congestion", str(TINY), "--disciplines", "lifo", "--out", str(tmp_path)])
