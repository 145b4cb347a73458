"""The optional summary columns: lost reports and the 5th percentile over users of the scores at use."""

from __future__ import annotations

import pandas as pd
import pytest

from simnet.analysis.results import SUMMARY_COLUMNS, user_percentile_scores, write_summary


def _slots(means: list[float]) -> list[dict]:
    """Two slots per user, averaging to ``means[u]`` for user ``u`` (SE, ZF SE and SGCS alike)."""
    return [{"ue": u, "se_mrt_bps_hz": m + d, "se_zf_bps_hz": 2 * (m + d), "sgcs": (m + d) / 10}
            for u, m in enumerate(means) for d in (-0.5, 0.5)]


def test_the_percentile_is_over_users_means_not_over_slots():
    scores = user_percentile_scores(_slots([1.0, 2.0, 3.0]))
    # per-user means 1, 2, 3: the 5th percentile (linear) sits at 0.05 * (3 - 1) = 0.1 of the way to the second
    assert scores == pytest.approx({"se_p5_bps_hz": 1.1, "se_zf_p5_bps_hz": 2.2, "sgcs_p5": 0.11}, abs=1e-12)
    slots = pd.DataFrame(_slots([1.0, 2.0, 3.0]))
    assert slots.se_mrt_bps_hz.quantile(0.05) != pytest.approx(1.1)  # the pooled slots would give another number


def test_summary_has_the_optional_columns_only_when_a_row_has_them(tmp_path):
    base = {c: 1.0 for c in SUMMARY_COLUMNS}
    assert list(write_summary(tmp_path, [base]).columns) == SUMMARY_COLUMNS
    rows = [{**base, "num_reports_lost": 3, "se_p5_bps_hz": 0.5}, base]
    df = write_summary(tmp_path, rows)
    assert list(df.columns) == [*SUMMARY_COLUMNS, "num_reports_lost", "se_p5_bps_hz"]
    assert pd.read_csv(tmp_path / "summary.csv").num_reports_lost.tolist()[0] == 3
