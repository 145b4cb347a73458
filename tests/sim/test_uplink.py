"""The shared uplink: exact timelines under FIFO and CSI-first, delivered into per-kind stores."""

from __future__ import annotations

import simpy

from simnet.sim.packets import Packet
from simnet.sim.uplink import Uplink


def _receive(env, store, log):
    while True:
        packet = yield store.get()
        log.append((packet.meta["name"], env.now))


def _world(discipline: str, rate_bps: float = 1000.0, latency_s: float = 0.0):
    env = simpy.Environment()
    log: list[tuple[str, float]] = []
    link = Uplink(env, rate_bps, discipline, latency_s)  # type: ignore[arg-type]
    for store in link.delivered.values():
        env.process(_receive(env, store, log))
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


def test_each_kind_arrives_in_its_own_store():
    env = simpy.Environment()
    link = Uplink(env, 1000.0, "fifo")
    link.send(Packet(ue=0, kind="update", payload=bytes(10), meta={"name": "u"}))
    link.send(Packet(ue=1, kind="csi", payload=bytes(10), meta={"name": "c"}))
    env.run()
    assert [p.meta["name"] for p in link.delivered["csi"].items] == ["c"]
    assert [p.meta["name"] for p in link.delivered["update"].items] == ["u"]


def test_latency_is_added_after_service():
    env, link, log = _world("fifo", rate_bps=800.0, latency_s=0.5)
    link.send(Packet(ue=0, kind="csi", payload=bytes(100), meta={"name": "a"}))
    env.run()
    assert log == [("a", 1.5)]


def test_the_receiver_acts_before_an_ordinary_event_due_at_the_same_instant():
    env, link, log = _world("fifo")
    _send_at(env, link, 0.0, 0, "csi", 125, "a")  # delivered at 1.0

    def tick(env):  # its timeout is scheduled after the packet's service timeout, for the same instant
        yield env.timeout(0.5)
        yield env.timeout(0.5)
        log.append(("tick", env.now))

    env.process(tick(env))
    env.run()
    # a direct call at delivery acts before "tick"; so must the hand-over through the store (a plain
    # simpy.Store would let "tick" run first)
    assert log == [("a", 1.0), ("tick", 1.0)]


def test_a_zero_bit_packet_is_delivered_at_once_past_the_queue_and_takes_no_airtime():
    env, link, log = _world("fifo", latency_s=0.3)
    _send_at(env, link, 0.0, 0, "update", 125, "big")  # in service 0 .. 1, delivered at 1.3
    _send_at(env, link, 0.1, 1, "csi", 25, "queued")  # waits for big
    _send_at(env, link, 0.2, 1, "update", 0, "genie")
    env.run()
    assert log == [("genie", 0.2), ("big", 1.3), ("queued", 1.5)]
    assert [p.meta["name"] for p in link.sent] == ["big", "queued"]
    assert [p.seq for p in link.sent] == [0, 1]
    assert abs(link.busy_s - 1.2) < 1e-12
