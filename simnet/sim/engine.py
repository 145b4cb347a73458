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
    uplink = Uplink(env, sc.uplink.rate_bps, sc.uplink.discipline, sc.uplink.latency_s)
    # The BS's processes start before the UEs' (as they always did): same-instant events keep their order.
    BaseStation(env, uplink.delivered["csi"], uplink.delivered["update"],
                [copy.deepcopy(world.codec) for _ in world.samples], world.samples, world.h,
                sc.system.snr_db, sc.downlink.slot_period_s, log)
    for u, smp in enumerate(world.samples):
        cls = POLICIES.get(spec.type)
        # the config validated once at load time; a test double without one is built from its keywords
        policy = cls(spec.config) if spec.config is not None else cls(**spec.kw())
        rng = np.random.default_rng(world.ue_seeds[u])
        policy.reset(rng)
        UserEquipment(env, u, smp, world.h[u], world.report_every, copy.deepcopy(world.codec), policy, uplink,
                      rng, sc.ues.window_max, sc.ues.seconds_per_step, log, sc.uplink.report_crc)
    t_end = world.t_end_s
    steps = 50
    for k in range(1, steps + 1):
        env.run(until=t_end * k / steps + (sc.downlink.slot_period_s if k == steps else 0.0))
        if progress is not None:
            progress(k / steps)
    packets = [{"ue": p.ue, "kind": p.kind, "bits": p.bits, "seq": p.seq, "version": p.version,
                "t_enqueue_s": p.t_enqueue_s, "t_start_s": p.t_start_s, "t_deliver_s": p.t_deliver_s}
               for p in uplink.sent]
    return {**log, "packets": packets, "uplink_busy_s": uplink.busy_s, "t_end_s": t_end}
