"""Run-size estimates: exact against a real tiny world; too-large runs refused; large runs noted."""

from __future__ import annotations

import numpy as np
import pytest

from simnet.config import load_scenario, parse_overrides, run_budget
from simnet.errors import ConfigError
from simnet.sim.engine import run_variant
from simnet.sim.world import build_world
from tests.paths import TINY


@pytest.mark.parametrize("overrides", [[], ["ues.count=3", "ues.stagger=false", "downlink.slot_period_s=0.3"],
                                       ["ues.sample_spacing_m=0.25", "ues.report_spacing_m=0.75",
                                        "ues.track_length_m=5.9"]], ids=["tiny", "three-unstaggered", "odd-spacing"])
def test_estimate_counts_what_the_run_does(overrides: list[str]):
    sc = load_scenario(TINY, overrides=parse_overrides(overrides))
    world = build_world(sc, cache_dir=None)
    rec = run_variant(world, sc.policies[0])
    est = run_budget.check_at_load(sc)
    assert est is not None
    assert est.num_samples == sum(len(s) for s in world.samples)
    assert est.channel_bytes == sum(h.nbytes for h in world.h)
    assert est.num_reports == len([p for p in rec["packets"] if p["kind"] == "csi"])
    assert est.num_slots == len({row["t_s"] for row in rec["slots"]})
    assert len(rec["slots"]) <= est.num_table_rows - est.num_reports  # one row per UE and slot at most


def test_the_channels_limit_names_the_keys_to_change():
    sc = load_scenario(TINY, overrides=parse_overrides(["ues.track_length_m=100"]))
    est = run_budget.estimate(sc, [100.0] * 1000)
    assert est.channel_bytes == 1000 * 201 * 4 * 8 * 8
    overrides = parse_overrides(["ues.count=1000", "ues.sample_spacing_m=0.001", "ues.report_spacing_m=0.001",
                                 "ues.track_length_m=100"])
    with pytest.raises(ConfigError, match=r"run size: the channels of 1000 users x 100,001 samples x 4 antennas x 8 "
                                          r"subcarriers need 23.8 GiB, more than 8 GiB: raise ues.sample_spacing_m "
                                          r"\(0.001\), shorten ues.track_length_m or lower ues.count"):
        load_scenario(TINY, overrides=overrides)


def test_slow_users_on_fast_slots_are_refused_at_load_and_name_the_slot_period():
    overrides = parse_overrides(["ues.speed_mps=0.01", "downlink.slot_period_s=1e-6"])
    with pytest.raises(ConfigError, match=r"run size: 6.5e\+08 downlink slots and 14 reports per variant .* raise "
                                          r"downlink.slot_period_s \(1e-06\) or ues.speed_mps \(0.01\)"):
        load_scenario(TINY, overrides=overrides)
    fits = load_scenario(TINY, overrides=parse_overrides(["ues.speed_mps=0.01", "downlink.slot_period_s=1e-4"]))
    assert run_budget.check_at_load(fits).num_events < run_budget.MAX_EVENTS  # type: ignore[union-attr]


def test_track_length_past_the_route_is_an_error_not_a_silent_cut():
    sc = load_scenario(TINY, overrides=parse_overrides(["ues.track_length_m=10"]))
    short = [np.array([[0.0, 0.0, 1.5], [3.0, 4.0, 1.5]]), np.array([[0.0, 0.0, 1.5], [30.0, 0.0, 1.5]])]
    with pytest.raises(ConfigError, match=r"ues.track_length_m: value 10 is longer than the 5 m route of UE 0"):
        run_budget.check_tracks(sc, short)
    assert run_budget.check_tracks(sc, [short[1], short[1]]).num_samples == 2 * 21


def test_a_large_run_is_noted_before_it_starts(capsys: pytest.CaptureFixture[str]):
    run_budget.note_cost(load_scenario(TINY))
    assert capsys.readouterr().err == ""
    big = load_scenario(TINY, overrides=parse_overrides(["ues.count=200", "ues.track_length_m=250",
                                                        "system.num_subcarriers=64", "system.bs_array=[8, 8]"]))
    run_budget.note_cost(big)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("note: a large run: 200 users, 100,200 channel samples (3.06 GiB)")
