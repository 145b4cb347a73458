"""summary.csv's interval_m is what each policy reports as its fine-tuning interval, not a raw keyword."""

from __future__ import annotations

import math

from simnet.config import load_scenario
from simnet.recording import learning_interval_m
from tests.paths import ROOT


def test_interval_comes_from_the_policy() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "o2_dynamic_walk.yaml")
    got = {s.label: learning_interval_m(s) for s in scenario.policies}
    assert got["drift-shadow"] == 2.0  # its learning cadence (probe_m = min = max = 2), no interval_m keyword
    assert math.isinf(got["never"])  # summarize writes NaN for it
    assert math.isnan(got["drift"])  # the channel decides when
    assert got["periodic[interval_m=4]"] == 4.0
    genie = next(s for s in scenario.policies if s.type == "genie")
    assert got[genie.label] == genie.kw().get("interval_m", genie.config.interval_m)
