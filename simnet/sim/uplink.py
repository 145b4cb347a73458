"""The shared uplink: one server with a finite bit rate and a queueing discipline.

Packets (CSI reports and model updates) wait in a priority store and are served one at a time,
non-preemptively; service time = bits / rate. A delivered packet is put into the store of its kind, where
the receiver (the BS) takes it. Every packet's timeline is recorded.

    send(packet) -> queue (PriorityStore) -> _serve: bits / rate [-> latency] -> delivered[packet.kind]
    send(zero-bit packet, e.g. a genie update) ----------------------------------> delivered[packet.kind]
"""

from __future__ import annotations

import itertools
from collections.abc import Generator
from typing import Any, Literal

import simpy

from simnet.sim.immediate import ImmediateStore
from simnet.sim.packets import Packet, PacketKind

Discipline = Literal["fifo", "csi-first"]


class Uplink:
    """A shared uplink of ``rate_bps`` bits per second.

    Args:
        env: the SimPy environment.
        rate_bps: bit rate [bit/s], > 0.
        discipline: ``"fifo"`` (arrival order) or ``"csi-first"`` (CSI reports before model updates,
            arrival order within a class; never preempts a packet in service).
        latency_s: fixed propagation/processing delay added after service [s].

    Attributes:
        delivered: per packet kind, the store the packets of that kind are put into when their last bit
            arrives (an :class:`ImmediateStore`: a receiver waiting on it acts in the same instant, before any
            ordinary event of that instant, as a direct call at delivery would).
        sent: every packet that took airtime, in enqueue order (``seq`` = position).
        busy_s: total service time so far [s].
    """

    def __init__(
        self,
        env: simpy.Environment,
        rate_bps: float,
        discipline: Discipline,
        latency_s: float = 0.0,
    ) -> None:
        if rate_bps <= 0:
            raise ValueError(f"rate_bps must be > 0, got {rate_bps}")
        if discipline not in ("fifo", "csi-first"):
            raise ValueError(f"unknown discipline {discipline!r}")
        self.env = env
        self.rate_bps = float(rate_bps)
        self.discipline = discipline
        self.latency_s = float(latency_s)
        self.delivered: dict[PacketKind, simpy.Store] = {"csi": ImmediateStore(env), "update": ImmediateStore(env)}
        self.sent: list[Packet] = []
        self._queue = simpy.PriorityStore(env)
        self._seq = itertools.count()
        self.busy_s = 0.0
        env.process(self._serve(env))

    def _enqueue(self, packet: Packet) -> None:
        """Put ``packet`` in the queue (its priority from its class and its ``seq``)."""
        self._queue.put(simpy.PriorityItem(self._priority(packet), packet))

    def _priority(self, packet: Packet) -> tuple[int, int]:
        cls = 0 if (self.discipline == "fifo" or packet.kind == "csi") else 1
        return (cls, packet.seq)

    def send(self, packet: Packet) -> None:
        """Enqueue ``packet`` now.

        A packet of zero bits (a genie update) takes no airtime: it is delivered at once, whatever the queue
        and the latency, and is not entered in ``sent``.
        """
        packet.t_enqueue_s = self.env.now
        if packet.bits == 0:
            packet.t_start_s = self.env.now
            self._deliver(packet)
            return
        packet.seq = next(self._seq)
        self.sent.append(packet)
        self._enqueue(packet)

    def queue_length(self) -> int:
        return len(self._queue.items)

    def _serve(self, env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        while True:
            item = yield self._queue.get()
            packet: Packet = item.item
            packet.t_start_s = env.now
            packet.num_attempts += 1
            service_s = packet.bits / self.rate_bps
            yield env.timeout(service_s)
            self.busy_s += service_s
            self._transmitted(env, packet)

    def _transmitted(self, env: simpy.Environment, packet: Packet) -> None:
        """The packet's airtime is over: deliver it after the latency (hook for uplinks that lose packets)."""
        if self.latency_s > 0:
            env.process(self._propagate(env, packet))
        else:
            self._deliver(packet)

    def _propagate(self, env: simpy.Environment, packet: Packet) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(self.latency_s)
        self._deliver(packet)

    def _deliver(self, packet: Packet) -> None:
        """The packet's last bit has arrived: hand it to the receiver (hook for channels that damage bits)."""
        packet.t_deliver_s = self.env.now
        self.delivered[packet.kind].put(packet)
