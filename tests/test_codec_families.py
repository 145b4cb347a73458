"""The codec-family study's table and figure from a study frame, and its command-line checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simnet.codec_families import family_table, plot_families
from simnet.errors import ConfigError


def _study() -> pd.DataFrame:
    rows = []
    for name, costs in (("a_lambda1", [1.0, 0.9, 0.8, 0.95, 0.7]), ("b_lambda1", [1.0, 1.2, 1.1, 1.05, 0.9])):
        for (policy, variant, interval), j in zip(
            [("never", "never", np.nan), ("periodic", "periodic[interval_m=2]", 2.0),
             ("periodic", "periodic[interval_m=8]", 8.0), ("drift", "drift-shadow", np.nan),
             ("genie", "genie", 8.0)], costs):  # fmt: skip
            rows.append({"preset": "p", "codec": name[0], "checkpoint": name, "policy": policy, "variant": variant,
                         "interval_m": interval, "rd_cost": j, "update_bits_per_report": 10.0 * j})  # fmt: skip
    return pd.DataFrame(rows)


def test_the_family_table_names_the_best_interval_and_the_gain_over_never(tmp_path: Path):
    statics = {n: {"o1_like": {"nmse_db": -10.0, "bpd": 0.1}, "p": {"nmse_db": -7.5, "bpd": 0.12}}
               for n in ("a_lambda1", "b_lambda1")}  # fmt: skip
    table = family_table(_study(), statics).set_index("checkpoint")
    assert table.loc["a_lambda1", "best_interval_m"] == 8.0 and table.loc["a_lambda1", "j_best_periodic"] == 0.8
    assert table.loc["a_lambda1", "best_policy"] == "periodic[interval_m=8]"
    assert table.loc["a_lambda1", "gain_vs_never"] == pytest.approx(0.2)
    assert table.loc["b_lambda1", "best_policy"] == "never" and table.loc["b_lambda1", "gain_vs_never"] == 0.0
    assert table.loc["b_lambda1", "j_drift_shadow"] == 1.05 and table.loc["a_lambda1", "j_genie"] == 0.7
    assert (table.shift_loss_db == 2.5).all()
    assert plot_families(_study(), tmp_path / "f.png").stat().st_size > 1000


def test_an_unknown_checkpoint_is_one_line_before_any_run(tmp_path: Path):
    from simnet.codec_families import run_codec_families

    with pytest.raises(ConfigError, match="--checkpoints: 'nope' not found"):
        run_codec_families("scenarios/codec_families.yaml", ["nope"], ["o2_dynamic_like"], tmp_path, None, 1)


def test_the_long_interval_scenario_is_the_study_with_its_short_intervals_cut():
    """scenarios/codec_families_long_intervals.yaml (rd-cnn-paper's rows) must stay the same world as
    scenarios/codec_families.yaml, or its rows stop comparing with the other families'."""
    from simnet.config import load_scenario

    full, long = (load_scenario(f"scenarios/{n}.yaml") for n in ("codec_families", "codec_families_long_intervals"))
    for key in ("seed", "system", "channel", "ues", "codec", "uplink", "downlink"):
        assert getattr(long, key) == getattr(full, key), key
    kept = [p for p in full.policies if p.type != "periodic" or dict(p.kwargs)["interval_m"] >= 8]
    assert [(p.label, p.kwargs) for p in long.policies] == [(p.label, p.kwargs) for p in kept]
    assert len(kept) < len(full.policies)
