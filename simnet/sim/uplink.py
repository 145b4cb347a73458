"""The shared uplink: one server with a finite bit rate and a queueing discipline.

Packets (CSI reports and model updates) wait in a priority store and are served one at a time,
non-preemptively; service time = bits / rate. Every packet's timeline is recorded.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import simpy

from simnet.coding.crc import ReportCheck

NO_CHECK = ReportCheck(None)

PacketKind = Literal["csi", "update"]
Discipline = Literal["fifo", "csi-first"]


@dataclass
class Packet:
    """One uplink transmission.

    Attributes:
        ue: sender index.
        kind: ``"csi"`` (a report's latent bitstream) or ``"update"`` (a model-update bitstream).
        payload: the real bytes; ``bits = 8 * len(payload) + check.num_bits``.
        meta: sender's bookkeeping carried to the receiver (report index, model version...).
        check: the CRC sent after the payload (``uplink.report_crc``; none by default).
        t_enqueue_s, t_start_s, t_deliver_s: timeline [s] filled in by the uplink.
    """

    ue: int
    kind: PacketKind
    payload: bytes
    meta: dict[str, Any] = field(default_factory=dict)
    check: ReportCheck = NO_CHECK
    t_enqueue_s: float = float("nan")
    t_start_s: float = float("nan")
    t_deliver_s: float = float("nan")
    seq: int = -1

    @property
    def bits(self) -> int:
        return 8 * len(self.payload) + self.check.num_bits


class Uplink:
    """A shared uplink of ``rate_bps`` bits per second.

    Args:
        env: the SimPy environment.
        rate_bps: bit rate [bit/s], > 0.
        discipline: ``"fifo"`` (arrival order) or ``"csi-first"`` (CSI reports before model updates,
            arrival order within a class; never preempts a packet in service).
        on_deliver: called with each packet when its last bit arrives.
        latency_s: fixed propagation/processing delay added after service [s].
    """

    def __init__(
        self,
        env: simpy.Environment,
        rate_bps: float,
        discipline: Discipline,
        on_deliver: Callable[[Packet], None],
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
        self.on_deliver = on_deliver
        self.sent: list[Packet] = []
        self.on_send: Callable[[Packet], None] | None = None
        self._queue = simpy.PriorityStore(env)
        self._seq = itertools.count()
        self.busy_s = 0.0
        env.process(self._serve(env))

    def _priority(self, packet: Packet) -> tuple[int, int]:
        cls = 0 if (self.discipline == "fifo" or packet.kind == "csi") else 1
        return (cls, packet.seq)

    def send(self, packet: Packet) -> None:
        """Enqueue ``packet`` now."""
        packet.seq = next(self._seq)
        packet.t_enqueue_s = self.env.now
        self.sent.append(packet)
        if self.on_send is not None:
            self.on_send(packet)
        self._queue.put(simpy.PriorityItem(self._priority(packet), packet))

    def queue_length(self) -> int:
        return len(self._queue.items)

    def _serve(self, env: simpy.Environment):  # type: ignore[no-untyped-def]
        while True:
            item = yield self._queue.get()
            packet: Packet = item.item
            packet.t_start_s = env.now
            service_s = packet.bits / self.rate_bps
            yield env.timeout(service_s)
            self.busy_s += service_s
            if self.latency_s > 0:
                env.process(self._propagate(env, packet))
            else:
                self._deliver(packet)

    def _propagate(self, env: simpy.Environment, packet: Packet):  # type: ignore[no-untyped-def]
        yield env.timeout(self.latency_s)
        self._deliver(packet)

    def _deliver(self, packet: Packet) -> None:
        packet.t_deliver_s = self.env.now
        self.on_deliver(packet)
