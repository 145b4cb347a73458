"""Runs one policy variant on the shared world: UEs + shared uplink + BS in one simpy.Environment.

    World (simnet.sim.world, built once) -> per variant: UEs, Uplink, BS processes -> record tables
    UE --Packet--> Uplink.send -> Uplink.delivered[kind] (stores) -> BS receiving processes
    UE waits on packet.update.installed <- succeeded by the BS when it holds the new decoder
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import simpy

from policies import POLICIES
from simnet.config import PolicySpec
from simnet.sim.bs import BaseStation
from simnet.sim.finetune_batch import FinetuneBatcher
from simnet.sim.lossy_uplink import LossyUplink
from simnet.sim.ue import UserEquipment
from simnet.sim.uplink import Uplink
from simnet.sim.world import ProgressFn, World


def run_variant(world: World, spec: PolicySpec, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Run one policy variant on the world.

    Returns:
        ``{"reports", "slots", "packets", "finetunes"}``: lists of row dicts.
    """
    sc = world.scenario
    env = simpy.Environment()
    log: dict[str, list[dict[str, Any]]] = {"reports": [], "slots": [], "finetunes": []}
    uplink = build_uplink(env, world)
    # The BS's processes start before the UEs' (as they always did): same-instant events keep their order.
    bs = BaseStation(env, uplink.delivered["csi"], uplink.delivered["update"],
                [copy.deepcopy(world.codec) for _ in world.samples], world.samples, world.h,
                sc.system.snr_db, sc.downlink.slot_period_s, log, sc.downlink.max_served_per_slot)
    batcher = FinetuneBatcher() if sc.ues.batch_finetunes else None
    for u, smp in enumerate(world.samples):
        cls = POLICIES.get(spec.type)
        # the config validated once at load time; a test double without one is built from its keywords
        policy = cls(spec.config) if spec.config is not None else cls(**spec.kw())
        rng = np.random.default_rng(world.ue_seeds[u])
        policy.reset(rng)
        UserEquipment(env, u, smp, world.measured(u), world.report_every, copy.deepcopy(world.codec), policy, uplink,
                      rng, sc.ues.window_max, sc.ues.seconds_per_step, log, sc.uplink.report_crc, batcher)
    t_end = world.t_end_s
    steps = 50
    for k in range(1, steps + 1):
        env.run(until=t_end * k / steps + (sc.downlink.slot_period_s if k == steps else 0.0))
        if progress is not None:
            progress(k / steps)
    bs.finish()
    packets = [{"ue": p.ue, "kind": p.kind, "bits": p.bits, "seq": p.seq, "version": p.version,
                "t_enqueue_s": p.t_enqueue_s, "t_start_s": p.t_start_s, "t_deliver_s": p.t_deliver_s}
               for p in uplink.sent]
    rec: dict[str, Any] = {**log, "packets": packets, "uplink_busy_s": uplink.busy_s, "t_end_s": t_end}
    if isinstance(uplink, LossyUplink):  # columns only with losses, so lossless tables stay as they were
        for row, p in zip(packets, uplink.sent, strict=True):
            row.update(num_attempts=p.num_attempts, dropped=p.dropped)
        rec["num_reports_lost"] = sum(1 for p in uplink.sent if p.kind == "csi" and p.dropped)
    return rec


def build_uplink(env: simpy.Environment, world: World) -> Uplink:
    """The scenario's uplink: lossless, or a :class:`LossyUplink` with its own generator (``uplink.loss_probability``
    > 0)."""
    cfg = world.scenario.uplink
    if cfg.loss_probability <= 0.0:
        return Uplink(env, cfg.rate_bps, cfg.discipline, cfg.latency_s)
    seed = world.uplink_seed if world.uplink_seed is not None else np.random.SeedSequence(world.scenario.seed)
    return LossyUplink(env, cfg.rate_bps, cfg.discipline, cfg.latency_s, cfg.loss_probability, cfg.retransmit,
                       cfg.max_retransmissions, cfg.retransmit_delay_s, np.random.default_rng(seed))
