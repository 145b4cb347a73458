"""The shared uplink: exact timelines under FIFO and CSI-first."""

from __future__ import annotations

import simpy

from simnet.sim.uplink import Packet, Uplink


def _world(discipline: str, rate_bps: float = 1000.0):
    env = simpy.Environment()
    log: list[tuple[str, float]] = []
    link = Uplink(env, rate_bps, discipline, lambda p: log.append((p.meta["name"], env.now)))  # type: ignore[arg-type]
    return env, link, log


def _send_at(env, link, t, ue, kind, nbytes, name):
    def proc(env):
        yield env.timeout(t)
        link.send(Packet(ue=ue, kind=kind, payload=bytes(nbytes), meta={"name": name}))

    env.process(proc(env))


def test_fifo_serves_in_arrival_order_with_service_time_bits_over_rate():
    env, link, log = _world("fifo")
    _send_at(env, link, 0.0, 0, "update", 125, "big")  # 1000 bits -> 1 s
    _send_at(env, link, 0.1, 1, "csi", 25, "a")  # 200 bits -> 0.2 s
    _send_at(env, link, 0.2, 0, "csi", 25, "b")
    env.run()
    assert log == [("big", 1.0), ("a", 1.2), ("b", 1.4)]
    assert [p.t_start_s for p in link.sent] == [0.0, 1.0, 1.2]
    assert abs(link.busy_s - 1.4) < 1e-12


def test_csi_first_overtakes_queued_updates_but_never_preempts():
    env, link, log = _world("csi-first")
    _send_at(env, link, 0.0, 0, "update", 125, "big1")
    _send_at(env, link, 0.1, 0, "update", 125, "big2")
    _send_at(env, link, 0.2, 1, "csi", 25, "a")
    env.run()
    # big1 is in service when a arrives: it finishes; a then goes before big2.
    assert log == [("big1", 1.0), ("a", 1.2), ("big2", 2.2)]


def test_latency_is_added_after_service():
    env = simpy.Environment()
    log: list[float] = []
    link = Uplink(env, 800.0, "fifo", lambda p: log.append(env.now), latency_s=0.5)
    link.send(Packet(ue=0, kind="csi", payload=bytes(100)))
    env.run()
    assert log == [1.5]
