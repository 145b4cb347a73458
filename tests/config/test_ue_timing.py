"""UE timing at load time: distance or NR-like time settings (exactly one), per-UE speeds and track durations."""

from __future__ import annotations

import pytest

from simnet.config import load_scenario, parse_overrides, ue_timing
from simnet.errors import ConfigError
from tests.paths import TINY, TINY_CELL


def _cell(*sets: str):
    return load_scenario(TINY_CELL, overrides=parse_overrides(list(sets)))


def test_time_settings_give_each_speed_its_own_sample_spacing():
    ues = _cell().ues
    assert ue_timing.is_time_based(ues) and ue_timing.report_every(ue_timing.Ctx("x"), ues) == 2
    assert [ue_timing.sample_spacing_m(ues, u) for u in range(2)] == pytest.approx([0.14, 0.5], abs=1e-12)
    assert [ue_timing.report_period_s(ues, u) for u in range(2)] == pytest.approx([0.2, 0.2], abs=1e-12)
    assert [ue_timing.track_length_m(ues, u) for u in range(2)] == pytest.approx([4.2, 15.0], abs=1e-12)


def test_the_distance_settings_are_unchanged():
    ues = load_scenario(TINY).ues
    assert not ue_timing.is_time_based(ues)
    assert (ue_timing.report_every(ue_timing.Ctx("x"), ues), ue_timing.sample_spacing_m(ues, 1)) == (2, 0.5)
    assert ue_timing.report_period_s(ues, 0) == pytest.approx(1.0 / 1.4, abs=1e-12)


def test_only_the_report_period_means_every_occasion_is_reported():
    ues = load_scenario(TINY_CELL, overrides={"ues": {"csi_rs_period_ms": None}}).ues
    assert ue_timing.report_every(ue_timing.Ctx("x"), ues) == 1 and ue_timing.csi_rs_period_s(ues) == 0.2


@pytest.mark.parametrize(("sets", "expect"), [
    (["ues.sample_spacing_m=0.1"], r"ues.csi_rs_period_ms: gives the report timing a second time beside "
                                   r"ues.sample_spacing_m: set either sample_spacing_m / report_spacing_m or "
                                   r"csi_rs_period_ms / report_period_ms, not both"),
    (["ues.report_period_ms=250"], r"ues.report_period_ms: value 250 must be a whole multiple of "
                                   r"ues.csi_rs_period_ms = 100"),
    (["ues.speed_mps=3"], r"ues.speeds_mps: gives the speed a second time beside ues.speed_mps"),
    (["ues.speeds_mps=[]"], r"ues.speeds_mps: is empty"),
    (["ues.speeds_mps=[1.4, -2]"], r"ues.speeds_mps\[1\]: value -2.0 is out of range"),
    (["ues.speeds_mps=[true]"], r"ues.speeds_mps\[0\]: must be a number \[m/s\], got True"),
    (["ues.track_length_m=3"], r"ues.track_duration_s: gives the track length a second time beside "
                               r"ues.track_length_m"),
    (["ues.track_duration_s=1000"], r"ues.track_duration_s: UE 0 at 1.4 m/s covers 1400 m in 1000 s, more than "
                                    r"its 300 m route .* give at most 214.285 s"),
])
def test_bad_timing_is_one_line_naming_the_keys(sets: list[str], expect: str):
    with pytest.raises(ConfigError, match=expect) as err:
        _cell(*sets)
    assert "\n" not in str(err.value)
