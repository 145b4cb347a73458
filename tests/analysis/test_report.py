"""report.md's section at time of use: margins over ``never`` paired by user, and its verdict lines."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simnet.analysis.plots import plot_at_use_vs_interval
from simnet.analysis.report import at_use_section, paired_user_difference

USERS = 6


def _slots(variant: str, offset: np.ndarray) -> list[dict]:
    """Three slots per user; user u's scores are its own level plus ``offset[u]`` (SE, ZF SE, SGCS/10)."""
    rng = np.random.default_rng(0)  # the same draw for every variant: the users' own channels
    level = rng.uniform(2.0, 8.0, size=(USERS, 3))
    return [{"variant": variant, "policy": variant.split("[")[0], "ue": u, "se_mrt_bps_hz": level[u, k] + offset[u],
             "se_zf_bps_hz": level[u, k] + offset[u], "sgcs": (level[u, k] + offset[u]) / 10}
            for u in range(USERS) for k in range(3)]


def _summary(slots: pd.DataFrame, ages: dict[str, float], update_bits: dict[str, float]) -> pd.DataFrame:
    means = slots.groupby("variant", sort=False)[["se_mrt_bps_hz", "se_zf_bps_hz", "sgcs"]].mean()
    return pd.DataFrame([{"variant": v, "policy": v.split("[")[0], "interval_m": 4.0 if "[" in v else math.nan,
                          "se_bps_hz": r.se_mrt_bps_hz, "se_zf_bps_hz": r.se_zf_bps_hz, "sgcs": r.sgcs,
                          "mean_csi_age_ms": ages[v], "update_bits_per_report": update_bits[v],
                          "num_model_updates": 3 if update_bits[v] else 0, "nmse_db": -3.0, "nmse_report_db": -6.0}
                         for v, r in means.iterrows()])


def _write(tmp_path, offsets: dict[str, np.ndarray], ages: dict[str, float], bits: dict[str, float]):
    slots = pd.DataFrame([row for v, off in offsets.items() for row in _slots(v, off)])
    slots.to_parquet(tmp_path / "slots.parquet")
    return _summary(slots, ages, bits), slots


def test_the_margin_is_paired_by_user_and_its_error_is_over_users(tmp_path):
    off = np.array([0.1, 0.3, 0.2, 0.1, 0.3, 0.2])
    _, slots = _write(tmp_path, {"never": np.zeros(USERS), "genie": off}, {"never": 3, "genie": 3},
                      {"never": 0, "genie": 0})
    diff, se = paired_user_difference(slots, "genie", "never", "se_mrt_bps_hz")
    assert diff == pytest.approx(off.mean())
    assert se == pytest.approx(off.std(ddof=1) / math.sqrt(USERS))  # the users' own levels cancel
    assert math.isnan(paired_user_difference(slots, "other", "never", "sgcs")[0])


def test_a_tie_is_said_in_one_line_and_winners_and_losers_are_named(tmp_path):
    tiny = np.array([0.01, -0.01, 0.02, -0.02, 0.01, -0.01])
    summary, _ = _write(tmp_path, {"never": np.zeros(USERS), "genie": tiny}, {"never": 3, "genie": 3},
                        {"never": 0, "genie": 0})
    text = "\n".join(at_use_section(summary, tmp_path / "slots.parquet"))
    assert "no variant differs from `never` by more than two standard errors" in text
    assert "beats" not in text and "loses" not in text

    offsets = {"never": np.zeros(USERS), "genie": np.full(USERS, 0.2) + tiny,
               "periodic[interval_m=4]": np.full(USERS, -0.3) + tiny}
    summary, _ = _write(tmp_path, offsets, {"never": 3.0, "genie": 3.0, "periodic[interval_m=4]": 3.6},
                        {"never": 0, "genie": 0, "periodic[interval_m=4]": 20.0})
    text = "\n".join(at_use_section(summary, tmp_path / "slots.parquet"))
    assert "- `genie` beats `never` at time of use beyond noise on: spectral efficiency, MRT" in text
    assert "- `periodic[interval_m=4]` loses to `never`" in text
    assert "hold the shared uplink: its CSI is 3.60 ms old when used against 3.00 ms" in text
    assert "no variant differs" not in text
    assert plot_at_use_vs_interval(summary, tmp_path / "at_use.png") and (tmp_path / "at_use.png").stat().st_size


def test_no_section_without_never_or_slots(tmp_path):
    summary, _ = _write(tmp_path, {"genie": np.zeros(USERS)}, {"genie": 3}, {"genie": 0})
    assert at_use_section(summary, tmp_path / "slots.parquet") == []
    assert at_use_section(summary, tmp_path / "missing.parquet") == []
