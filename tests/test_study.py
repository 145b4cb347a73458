"""The congestion study: one row per (discipline, N, variant), load grows with N, and the optimal-interval
table agrees with study.csv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simnet.analysis.congestion import CRITERIA, candidates, optimal_intervals, ue_stderr
from simnet.config import load_scenario
from simnet.errors import ConfigError
from simnet.sim.engine import run_variant
from simnet.sim.world import build_world
from simnet.study import main
from tests.paths import TINY

# learned-transform on a 2 x 2 array, 8 subcarriers: real coded updates at a fraction of a second each
SWEPT = """name: congestion-tiny
seed: 5
system: {carrier_hz: 3.5e9, bandwidth_hz: 20.0e6, num_subcarriers: 8, bs_array: [2, 2], snr_db: 10}
channel: {type: geometric, preset: o2_dynamic_like}
ues: {count: 1, speed_mps: 1.4, sample_spacing_m: 0.05, report_spacing_m: 0.05, track_length_m: 0.3, window_max: 4}
codec: {type: learned-transform, num_delay_taps: 4, num_precursor_taps: 1}
uplink: {rate_bps: 4.0e4, discipline: fifo}
downlink: {slot_period_s: 0.02}
policies:
  - type: never
  - type: periodic
    steps: 1
    batch_size: 4
    sweep: {interval_m: [0.15, 0.3]}
output: {plots: false}
"""


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
    # a second study into the same folder replaces the per-run tables instead of appending to them
    rows = len(pd.read_parquet(out / "fifo_n3" / "reports.parquet"))
    assert main(["congestion", str(TINY), "--counts", "3", "--disciplines", "fifo", "--out", str(out),
                 "--workers", "1", "--cache-dir", str(tmp_path / "cache")]) == 0
    assert len(pd.read_parquet(out / "fifo_n3" / "reports.parquet")) == rows


def test_optimum_table_agrees_with_study_csv(tmp_path: Path):
    scenario = tmp_path / "swept.yaml"
    scenario.write_text(SWEPT)
    out = tmp_path / "study"
    rc = main(["congestion", str(scenario), "--counts", "1", "2", "--disciplines", "fifo", "--out", str(out),
               "--workers", "1", "--cache-dir", str(tmp_path / "cache")])
    assert rc == 0
    df, opt = pd.read_csv(out / "study.csv"), pd.read_csv(out / "optima.csv")
    assert len(df) == 2 * 3 and (df[df.policy == "periodic"].update_bits_per_report > 0).all()
    assert len(opt) == len(CRITERIA) * 2
    for r in opt.itertuples():
        col, sense, _ = CRITERIA[r.criterion]
        cand = candidates(df[df.num_ues == r.num_ues])
        assert r.value == pytest.approx(cand[col].max() if sense == "max" else cand[col].min())
        chosen = cand[cand.variant == r.variant].iloc[0]
        assert chosen[col] == pytest.approx(r.value) and (chosen.interval_m == r.interval_m or
                                                           not np.isfinite(chosen.interval_m + r.interval_m))
    assert np.isnan(opt[(opt.num_ues == 1) | (opt.variant == "never")].vs_never_stderr).all()
    # the spread over UEs of a periodic variant's gain, against the slot table by hand
    probe = opt[(opt.criterion == "se") & (opt.num_ues == 2)].assign(variant="periodic[interval_m=0.15]")
    slots = pd.read_parquet(out / "fifo_n2" / "slots.parquet")
    per_ue = slots.groupby(["variant", "ue"]).se_zf_bps_hz.mean()
    gain = per_ue.loc["periodic[interval_m=0.15]"] - per_ue.loc["never"]
    assert ue_stderr(out, probe).iloc[0] == pytest.approx(gain.std(ddof=1) / np.sqrt(2)) and gain.std() > 0
    assert (opt.offered_load >= opt.uplink_utilisation - 1e-9).all() and (opt.offered_load > 0).all()
    assert (out / "congestion.png").stat().st_size > 10_000
    assert (out / "fifo_n2" / "slots.parquet").is_file()


def test_optimal_intervals_picks_by_criterion_and_treats_never_as_infinite():
    rows = [("never", np.nan, 5.0, 0.70, 0.1), ("periodic[interval_m=0.2]", 0.2, 5.3, 0.80, 0.9),
            ("periodic[interval_m=0.4]", 0.4, 5.4, 0.75, 0.5), ("drift", np.nan, 9.0, 0.10, 0.2)]
    df = pd.DataFrame([{"discipline": "fifo", "num_ues": 4, "policy": v.split("[")[0], "variant": v,
                        "interval_m": i, "se_zf_bps_hz": se, "se_bps_hz": se, "rd_cost_at_use": j, "nmse_db": -1.0,
                        "mean_csi_age_ms": 7.0, "mean_queue_delay_ms": 1.0, "uplink_utilisation": u,
                        "num_model_updates": 0} for v, i, se, j, u in rows])
    opt = optimal_intervals(df).set_index("criterion")
    assert opt.loc["se", "interval_m"] == 0.4 and opt.loc["se", "runner_up"] == "periodic[interval_m=0.2]"
    assert opt.loc["se", "margin"] == pytest.approx(0.1) and opt.loc["se", "vs_never"] == pytest.approx(0.4)
    assert opt.loc["j", "variant"] == "never" and opt.loc["j", "interval_m"] == np.inf  # drift does not compete
    assert opt.loc["j", "vs_never"] == 0.0 and opt.loc["j", "max_utilisation"] == pytest.approx(0.9)


def test_a_policy_without_update_packets_is_the_same_under_every_discipline(tmp_path: Path):
    """Why the study runs ``never`` once per N and reuses it for the other disciplines."""
    recs = []
    for disc in ("fifo", "csi-first"):
        sc = load_scenario(TINY, overrides={"ues": {"count": 3}, "uplink": {"discipline": disc}})
        recs.append(run_variant(build_world(sc, cache_dir=tmp_path), sc.policies[0]))
    assert recs[0]["slots"] and recs[0] == recs[1]


def test_congestion_study_rejects_bad_arguments(tmp_path: Path):
    with pytest.raises(ConfigError, match="--counts"):
        main(["congestion", str(TINY), "--counts", "0", "--out", str(tmp_path)])
    with pytest.raises(ConfigError, match="--disciplines"):
        main(["congestion", str(TINY), "--disciplines", "lifo", "--out", str(tmp_path)])


def test_replot_redraws_its_own_kind_and_names_the_other_in_one_line(tmp_path: Path):
    from simnet.errors import DataError
    from simnet.study import replot

    rows = [{"preset": p, "codec": c, "checkpoint": f"{c}_lambda1", "policy": pol, "variant": pol,
             "interval_m": iv, "rd_cost": j} for p in ("quadriga_track",) for c in ("learned-transform", "rd-crnet")
            for pol, iv, j in (("never", np.nan, 0.7), ("periodic", 2.0, 0.6), ("periodic", 4.0, 0.65))]
    pd.DataFrame(rows).to_csv(tmp_path / "study.csv", index=False)
    assert replot("codec-families", tmp_path) == tmp_path / "families.png"
    assert (tmp_path / "families.png").stat().st_size > 0
    with pytest.raises(DataError, match="not a congestion study .*simnet study codec-families --replot"):
        replot("congestion", tmp_path)
    with pytest.raises(DataError, match="no study.csv"):
        replot("codec-families", tmp_path / "missing")


def test_one_pool_of_workers_costliest_first_gives_the_tables_of_one_process(tmp_path: Path):
    """Every variant of every (N, discipline) runs in one pool, costliest first; the tables are those of a
    sequential run, row for row."""
    scenario = tmp_path / "swept.yaml"
    scenario.write_text(SWEPT)
    args = ["congestion", str(scenario), "--counts", "1", "2", "--cache-dir", str(tmp_path / "cache")]
    assert main([*args, "--out", str(tmp_path / "one"), "--workers", "1"]) == 0
    assert main([*args, "--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    one, two = pd.read_csv(tmp_path / "one" / "study.csv"), pd.read_csv(tmp_path / "two" / "study.csv")
    assert len(one) == 2 * 2 * 3 and one.equals(two)
    for run in ("fifo_n2", "csi-first_n2"):
        for table in ("reports", "slots", "packets", "finetunes"):
            a = pd.read_parquet(tmp_path / "one" / run / f"{table}.parquet")
            assert a.equals(pd.read_parquet(tmp_path / "two" / run / f"{table}.parquet")), (run, table)
