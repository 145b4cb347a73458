"""The held-out comparison (simnet.analysis.heldout) on tiny synthetic summaries, and the scenario it reads."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from simnet.analysis.heldout import compare, main
from simnet.config import load_scenario
from simnet.errors import DataError
from tests.paths import ROOT

# lambda 1: J = 10**(nmse/10) + bits; never 0.29953, periodic 2 m 0.29125, periodic 8 m 0.29849
FIXED = [("never", math.nan, 0.10, -7.0, 0), ("periodic", 2.0, 0.15, -8.5, 48), ("periodic", 8.0, 0.14, -8.0, 12)]


def summary(drift_bits: float, drift_nmse_db: float) -> pd.DataFrame:
    rows = FIXED + [("drift", math.nan, drift_bits, drift_nmse_db, 7), ("drift", math.nan, 0.10, -8.0, 2)]
    df = pd.DataFrame(rows, columns=["policy", "interval_m", "total_bits_per_dim", "nmse_report_db",
                                     "num_model_updates"])
    return df.assign(variant=[p for p, *_ in FIXED] + ["drift", "drift-gate"])


def test_drift_below_every_fixed_schedule_ranks_first():
    c = compare(summary(0.12, -8.0), 1.0)
    assert c["best_interval_m"] == 2.0 and c["best_updates"] == 48
    assert c["adaptive_J"] == pytest.approx(10 ** -0.8 + 0.12)
    assert c["dJ"] == pytest.approx(c["adaptive_J"] - (10 ** -0.85 + 0.15))
    assert c["never_J"] == pytest.approx(10 ** -0.7 + 0.10)
    assert (c["rank"], c["num_fixed"], c["at_least_as_good"], c["dominated"]) == (1, 3, True, False)


def test_drift_worse_and_dominated_is_reported_as_such():
    c = compare(summary(0.16, -8.0), 1.0)  # periodic 2 m: fewer bits and lower NMSE
    assert (c["rank"], c["at_least_as_good"], c["dominated"]) == (4, False, True)
    assert c["dJ"] > 0


def test_never_counts_as_a_fixed_schedule_with_infinite_interval():
    c = compare(summary(0.12, -8.0), 0.0)  # lambda 0: J = bits, never is cheapest
    assert c["best_interval_m"] == math.inf and not c["at_least_as_good"] and c["rank"] == 2


def test_interval_tuned_elsewhere_is_scored_on_this_run():
    c = compare(summary(0.12, -8.0), 1.0, tuned_interval_m=8.0)
    assert c["tuned_J"] == pytest.approx(10 ** -0.8 + 0.14) and c["tuned_J"] > c["best_J"]
    assert compare(summary(0.12, -8.0), 1.0, tuned_interval_m=math.inf)["tuned_J"] == pytest.approx(c["never_J"])
    assert math.isnan(compare(summary(0.12, -8.0), 1.0)["tuned_J"])
    with pytest.raises(DataError, match="interval_m 3"):
        compare(summary(0.12, -8.0), 1.0, tuned_interval_m=3.0)


def test_missing_rows_are_data_errors():
    with pytest.raises(DataError, match="'drift'"):
        compare(summary(0.12, -8.0).iloc[:3], 1.0)
    with pytest.raises(DataError, match="'never'"):
        compare(summary(0.12, -8.0).iloc[1:], 1.0)


def test_cli_writes_one_row_per_run(tmp_path: Path):
    runs = []
    for name, seed, bits in (("a", 1, 0.12), ("b", 2, 0.16)):
        run = tmp_path / name
        run.mkdir()
        summary(bits, -8.0).to_csv(run / "summary.csv", index=False)
        scenario = {"channel": {"type": "geometric", "kwargs": {"preset": "o1_like"}}}
        (run / "manifest.json").write_text(json.dumps({"seed": seed, "scenario": scenario, "codec": {"lmbda": 1.0}}))
        runs.append(str(run))
    assert main(runs + ["--out", str(tmp_path / "agg"), "--tuning", runs[0]]) == 0
    df = pd.read_csv(tmp_path / "agg" / "heldout.csv")
    assert list(df.seed) == [1, 2] and list(df.scene) == ["o1_like"] * 2 and list(df.lmbda) == [1.0, 1.0]
    assert list(df.at_least_as_good) == [True, False] and list(df.tuned_interval_m) == [2.0, 2.0]
    text = (tmp_path / "agg" / "heldout.md").read_text()
    assert "| a | o1_like | 1 | drift | 0.1200 |" in text and "| 0.2913 (2 m) |" in text


def test_cli_writes_one_row_per_run_and_variant(tmp_path: Path):
    run = tmp_path / "a"
    run.mkdir()
    summary(0.16, -8.0).to_csv(run / "summary.csv", index=False)
    scenario = {"channel": {"type": "geometric", "kwargs": {"preset": "o1_like"}}}
    (run / "manifest.json").write_text(json.dumps({"seed": 4, "scenario": scenario, "codec": {"lmbda": 1.0}}))
    assert main([str(run), "--out", str(tmp_path / "agg"), "--adaptive", "drift", "drift-gate"]) == 0
    df = pd.read_csv(tmp_path / "agg" / "heldout.csv")
    assert list(df.variant) == ["drift", "drift-gate"] and list(df.adaptive_updates) == [7, 2]
    # drift-gate (0.10 bits/dim, -8 dB: J 0.2585) beats every fixed schedule, drift (0.16 bits/dim) does not
    assert list(df.at_least_as_good) == [False, True] and list(df.best_interval_m) == [2.0, 2.0]


@pytest.mark.parametrize("quick", [False, True])
def test_heldout_scenario_gives_drift_no_interval_and_the_sweep_its_fine_tune(quick: bool):
    sc = load_scenario(ROOT / "scenarios" / "drift_heldout.yaml", quick=quick,
                       overrides={"channel": {"preset": "o1_like"}})
    by_type: dict[str, list[dict]] = {}
    for spec in sc.policies:
        by_type.setdefault(spec.type, []).append(spec.kw())
    assert sorted(by_type) == ["drift", "never", "periodic"]
    # round 1's defaults, then the same trigger with the gate (round 2), the gate with probing (round 3) and
    # the gate over a shadow model that learns every 2 m (round 4)
    drift, gated, probing, shadow = by_type["drift"]
    assert "check_fraction" not in drift and gated.pop("check_fraction") > 0
    assert {k: v for k, v in gated.items() if k not in ("min_check_samples", "payback_reports")} == drift
    labels = ["drift", "drift-gate", "drift-probe", "drift-shadow"]
    assert [s.label for s in sc.policies if s.type == "drift"] == labels
    assert probing["check_fraction"] > 0 and probing["probe_m"] > 0 and "interval_m" not in probing
    assert shadow["shadow"] is True and shadow["check_fraction"] > 0 and "interval_m" not in shadow
    assert "interval_m" not in drift and len(by_type["periodic"]) >= 2
    assert all(p["steps"] == drift["steps"] for p in by_type["periodic"])


def test_cli_names_a_run_it_cannot_score_and_writes_nothing(tmp_path: Path, capsys):
    run = tmp_path / "old"
    run.mkdir()
    summary(0.12, -8.0).to_csv(run / "summary.csv", index=False)
    scenario = {"channel": {"type": "geometric", "kwargs": {"preset": "o1_like"}}}
    (run / "manifest.json").write_text(json.dumps({"seed": 1, "scenario": scenario, "codec": {}}))
    assert main([str(run), "--out", str(tmp_path / "agg")]) == 2
    assert "records no codec lambda" in capsys.readouterr().err and not (tmp_path / "agg").exists()
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "agg")]) == 2
    assert main([str(run), "--out", str(tmp_path / "agg"), "--lmbda", "2"]) == 0
    assert list(pd.read_csv(tmp_path / "agg" / "heldout.csv").lmbda) == [2.0]
