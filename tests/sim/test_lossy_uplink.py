"""A lossy uplink: each transmission lost with probability p; CSI reports dropped or retransmitted, updates retried."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from simnet.analysis.results import summarize
from simnet.config import PolicySpec
from simnet.sim.engine import run_variant
from simnet.sim.lossy_uplink import LossyUplink
from simnet.sim.packets import Packet
from tests.sim.test_engine import _world
from tests.sim.test_engine import big_update as big_update  # the fixture

RATE_BPS = 1.0e4
NUM_PACKETS = 200


def _send_reports(retransmit: bool, p: float = 0.3, seed: int = 7, delay_s: float = 0.05) -> tuple[LossyUplink, list]:
    """NUM_PACKETS 100-bit CSI reports, one every 20 ms (each takes 10 ms of airtime)."""
    env = simpy.Environment()
    uplink = LossyUplink(env, RATE_BPS, "fifo", 0.0, p, retransmit, 2, delay_s, np.random.default_rng(seed))
    got: list[Packet] = []

    def receiver(env: simpy.Environment):
        while True:
            got.append((yield uplink.delivered["csi"].get()))

    def sender(env: simpy.Environment):
        for k in range(NUM_PACKETS):
            uplink.send(Packet(ue=0, kind="csi", payload=bytes(12),
                               meta={"report": k}))
            yield env.timeout(0.02)

    env.process(receiver(env))
    env.process(sender(env))
    env.run(until=NUM_PACKETS * 0.02 + 10.0)
    return uplink, got


def test_without_retransmission_each_lost_transmission_is_a_lost_report():
    uplink, got = _send_reports(retransmit=False)
    lost = np.random.default_rng(7).random(NUM_PACKETS) < 0.3  # one draw per transmission, in airtime order
    assert [p.dropped for p in uplink.sent] == list(lost)
    assert [p.meta["report"] for p in got] == [k for k in range(NUM_PACKETS) if not lost[k]]
    assert all(math.isnan(p.t_deliver_s) for p in uplink.sent if p.dropped)
    assert uplink.num_lost_transmissions == int(lost.sum()) > 0
    assert uplink.busy_s == pytest.approx(NUM_PACKETS * 96 / RATE_BPS, abs=1e-9)  # lost ones took airtime too


def test_retransmission_resends_after_the_delay_up_to_the_limit_then_drops():
    uplink, got = _send_reports(retransmit=True)
    attempts = np.array([p.num_attempts for p in uplink.sent])
    dropped = np.array([p.dropped for p in uplink.sent])
    delivered = {id(p) for p in got}
    assert attempts.max() == 3 and attempts.min() == 1  # at most 1 + max_retransmissions
    assert dropped.sum() > 0 and (attempts[dropped] == 3).all()
    assert all((id(p) in delivered) != p.dropped for p in uplink.sent)  # each report delivered or dropped, once
    assert len(got) == len(delivered) == NUM_PACKETS - dropped.sum()
    assert uplink.num_lost_transmissions == int(attempts.sum()) - len(got)
    assert uplink.busy_s == pytest.approx(attempts.sum() * 96 / RATE_BPS, abs=1e-9)
    for p in got:  # a retransmitted report waited at least the HARQ delay per lost attempt
        assert p.t_deliver_s - p.t_enqueue_s >= p.num_attempts * 96 / RATE_BPS + (p.num_attempts - 1) * 0.05 - 1e-9
    order = [p.meta["report"] for p in got]
    assert order != sorted(order)  # later reports overtook retransmitted ones


def test_model_updates_are_never_dropped():
    env = simpy.Environment()
    uplink = LossyUplink(env, RATE_BPS, "fifo", 0.0, 0.6, False, 0, 0.01, np.random.default_rng(1))
    packets = [Packet(ue=0, kind="update", payload=bytes(10)) for _ in range(20)]
    for p in packets:
        uplink.send(p)
    env.run(until=100.0)
    assert len(uplink.delivered["update"].items) == 20 and not any(p.dropped for p in packets)
    assert sum(p.num_attempts for p in packets) > 20


def test_a_lost_or_reordered_report_keeps_the_bs_accounting(big_update):
    world = _world("fifo")
    sc = world.scenario
    uplink_cfg = type(sc.uplink)(rate_bps=1.0e5, discipline="fifo", loss_probability=0.5, retransmit=True,
                                 max_retransmissions=2, retransmit_delay_s=1.0)
    world.scenario = type(sc)(**{**sc.__dict__, "uplink": uplink_cfg})
    world.uplink_seed = np.random.SeedSequence(3)  # a seed whose draws lose, reorder and retire reports
    rec = run_variant(world, big_update)
    csi = [p for p in rec["packets"] if p["kind"] == "csi"]
    dropped = sum(p["dropped"] for p in csi)
    assert rec["num_reports_lost"] == dropped > 0
    delivered = [p for p in csi if math.isfinite(p["t_deliver_s"])]
    assert not any(p["dropped"] for p in delivered)
    assert len(rec["reports"]) == len(delivered)  # every delivered report has its row, a lost one none
    # (a report still being retransmitted when the run ends is neither delivered nor lost)
    superseded = [r for r in rec["reports"] if r.get("superseded")]
    assert any(math.isnan(r["nmse_report"]) for r in superseded)  # its decoder was already retired
    assert any(not math.isnan(r["nmse_report"]) for r in superseded)  # older than the CSI the BS held
    for u in (0, 1):  # the CSI the BS uses never goes back in time
        held = [s["t_s"] - s["age_s"] for s in sorted(rec["slots"], key=lambda s: s["t_s"]) if s["ue"] == u]
        assert np.all(np.diff(held) >= -1e-12)
    row = summarize("big", "big-update", math.nan, rec, 64)
    assert row["num_reports_lost"] == dropped and row["num_reports"] == len(csi)


def test_a_lossless_scenario_has_no_loss_columns():
    rec = run_variant(_world("fifo"), PolicySpec(label="never", type="never"))
    assert "num_reports_lost" not in rec and "dropped" not in rec["packets"][0]
    assert "num_reports_lost" not in summarize("never", "never", math.nan, rec, 64)
