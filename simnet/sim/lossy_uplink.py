"""A shared uplink that loses packets: each transmission lost with a fixed probability, HARQ-like retries or a drop.

    _serve: bits / rate --> lost? (own generator, one draw per transmission)
        no  --> [latency] --> delivered[packet.kind]
        yes --> CSI report: retransmit and retries left? --> after retransmit_delay_s back into the queue
                                                     else --> dropped (never delivered, counted as lost)
                model update: always back into the queue after retransmit_delay_s (a reliable bearer: the BS
                              must end up holding the decoder the UE switches to)

A retransmission keeps the packet's ``seq``, so within its class it goes ahead of packets enqueued after it
(HARQ retransmissions take precedence). Every transmission, lost or not, takes its airtime (``busy_s``).
A retransmitted report can arrive after a later report of its UE: the BS keeps the newest CSI it holds
(:class:`simnet.sim.bs.BaseStation`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from simnet.sim.packets import Packet
from simnet.sim.uplink import Discipline, Uplink


class LossyUplink(Uplink):
    """:class:`Uplink` whose transmissions are lost independently with probability ``loss_probability``.

    Args:
        env, rate_bps, discipline, latency_s: as :class:`Uplink`.
        loss_probability: probability that one transmission is lost, in [0, 1).
        retransmit: a lost CSI report is sent again (up to ``max_retransmissions`` times) instead of dropped.
        max_retransmissions: most retransmissions of one CSI report.
        retransmit_delay_s: time from the end of a lost transmission to its retransmission entering the
            queue [s] (the HARQ feedback delay).
        rng: the uplink's own generator (one draw per transmission).

    Attributes:
        num_lost_transmissions: transmissions lost so far (reports and updates).
    """

    def __init__(self, env: simpy.Environment, rate_bps: float, discipline: Discipline, latency_s: float,
                 loss_probability: float, retransmit: bool, max_retransmissions: int, retransmit_delay_s: float,
                 rng: np.random.Generator) -> None:
        if not 0.0 <= loss_probability < 1.0:
            raise ValueError(f"loss_probability must be in [0, 1), got {loss_probability}")
        super().__init__(env, rate_bps, discipline, latency_s)
        self.loss_probability = float(loss_probability)
        self.retransmit = bool(retransmit)
        self.max_retransmissions = int(max_retransmissions)
        self.retransmit_delay_s = float(retransmit_delay_s)
        self.rng = rng
        self.num_lost_transmissions = 0

    def _transmitted(self, env: simpy.Environment, packet: Packet) -> None:
        if self.rng.random() >= self.loss_probability:
            super()._transmitted(env, packet)
            return
        self.num_lost_transmissions += 1
        retries_left = packet.kind == "update" or (self.retransmit and packet.num_attempts <= self.max_retransmissions)
        if retries_left:
            env.process(self._retransmit(env, packet))
        else:
            packet.dropped = True

    def _retransmit(self, env: simpy.Environment, packet: Packet) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(self.retransmit_delay_s)
        self._enqueue(packet)
