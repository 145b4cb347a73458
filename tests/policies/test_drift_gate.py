"""The ``drift`` policy's "update only if it pays" gate (check_fraction / payback_reports)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from policies import Observation
from simnet.coding.updates import decoder_state
from simnet.errors import ConfigError
from simnet.learning.finetune import FinetuneConfig, objective
from simnet.learning.procedures import full_model
from tests.policies.test_contract import FAST, ToyCodec, csi, make

GATE = {"check_fraction": 0.25, "min_check_samples": 3}
"""On the 12-sample window of ``csi``: 3 samples held out, 9 fine-tuned on."""


def test_an_update_that_pays_is_sent_and_was_learnt_without_the_held_out_samples() -> None:
    codec, h = ToyCodec(), csi(1)
    res = make("drift", **GATE, payback_reports=10**6).update(codec, h, np.random.default_rng(7))
    assert not res.declined and res.payload is not None
    assert res.info["gate_num_check"] == 3 and res.info["gate_j_new"] < res.info["gate_j_old"]
    assert res.info["gate_j_old"] == objective(ToyCodec(), h[-3:])["loss"]
    # the same fine-tune as on the first 9 samples alone
    plain = full_model(ToyCodec(), h[:-3], np.random.default_rng(7), FinetuneConfig(**FAST))
    assert res.payload == plain.payload


def test_an_update_that_does_not_pay_is_declined_after_its_compute() -> None:
    codec, h = ToyCodec(), csi(1)
    before = {k: v.clone() for k, v in decoder_state(codec).items()}
    res = make("drift", **GATE, payback_reports=1).update(codec, h, np.random.default_rng(7))
    assert res.declined and res.payload is None and res.update_bits == 0
    assert res.codec is codec and res.num_steps == FAST["steps"]
    assert res.info["gate_j_new"] >= res.info["gate_j_old"] and res.info["gate_update_bits"] > 0
    assert all(torch.equal(v, before[k]) for k, v in decoder_state(codec).items())


def test_a_window_no_longer_than_the_check_is_declined_without_fine_tuning() -> None:
    res = make("drift", **GATE).update(ToyCodec(), csi(1)[:3], np.random.default_rng(7))
    assert res.declined and res.num_steps == 0 and res.payload is None


def test_without_the_gate_every_fine_tune_is_sent_on_the_whole_window() -> None:
    res = make("drift").update(ToyCodec(), csi(1), np.random.default_rng(7))
    plain = full_model(ToyCodec(), csi(1), np.random.default_rng(7), FinetuneConfig(**FAST))
    assert not res.declined and res.payload == plain.payload


def test_after_a_decline_the_current_level_becomes_the_reference() -> None:
    """NMSE steps up 2 dB at report 6 and again at report 20; nothing is ever busy."""
    def nmse_db(k: int) -> float:
        return -15.0 + 2.0 * (k >= 6) + 2.0 * (k >= 20)

    obs = [Observation(k, 0.5 * k, k, nmse_db(k), 400, k + 1, False) for k in range(30)]
    kw = {"threshold_db": 1.0, "hysteresis_db": 0.5, "min_spacing_m": 0.0, "num_average": 2, "num_reference": 2}
    fired = {}
    for payback in (1, None):  # payback 1: every update is declined; None: no gate, no update applied
        policy = make("drift", **kw, **({} if payback is None else {**GATE, "payback_reports": payback}))
        policy.reset(np.random.default_rng(0))
        fired[payback] = []
        for o in obs:
            if policy.should_update(o):
                fired[payback].append(o.report_index)
                assert policy.update(ToyCodec(), csi(1), np.random.default_rng(0)).declined == (payback == 1)
    # the first step fires both; only after a decline is the new level the reference, so the second step
    # fires again (without one the policy stays disarmed, drift never falling below 0.5 dB)
    assert fired[None] == [6]
    assert fired[1] == [6, 20]


def probe_distances(payback: int, length_m: float = 80.0) -> tuple[list[float], list[float]]:
    """Walk a flat track (no drift ever fires) with probing on; every probe's update is run through the gate.

    Returns the distances at which the policy fired and the probing distance after each decision."""
    policy = make("drift", **GATE, payback_reports=payback, probe_m=8.0, probe_min_m=2.0, probe_max_m=32.0)
    policy.reset(np.random.default_rng(0))
    fired, probes = [], []
    for k in range(int(length_m / 0.5) + 1):
        if policy.should_update(Observation(k, 0.5 * k, k, -15.0, 400, k + 1, False)):
            fired.append(0.5 * k)
            probes.append(policy.update(ToyCodec(), csi(1), np.random.default_rng(7)).info["probe_m"])
    return fired, probes


def test_probing_halves_its_distance_while_updates_pay_and_doubles_it_while_they_do_not() -> None:
    fired, probes = probe_distances(payback=10**6)  # every update pays: 8 -> 4 -> 2 -> 2 ...
    assert fired[:4] == [8.0, 12.0, 14.0, 16.0] and probes[:4] == [4.0, 2.0, 2.0, 2.0]
    fired, probes = probe_distances(payback=1)  # none pays: 8 -> 16 -> 32 (the cap) -> 32
    assert fired == [8.0, 24.0, 56.0] and probes == [16.0, 32.0, 32.0]


def test_probing_needs_the_gate_and_ordered_bounds() -> None:
    with pytest.raises(ConfigError, match="probe_m needs the gate"):
        make("drift", probe_m=8.0)
    with pytest.raises(ConfigError, match="probe_m"):
        make("drift", **GATE, probe_m=1.0, probe_min_m=2.0)
    with pytest.raises(ConfigError, match="probe_max_m"):
        make("drift", **GATE, probe_m=8.0, probe_max_m=4.0)
