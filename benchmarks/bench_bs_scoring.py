"""The BS's scoring: batched (reports and slots many per numpy call) against one call per report and per slot.

The same world and the same never-policy variant run twice, back to back: once as simnet runs it, once with
``CHUNK_CHANNELS = PENDING_CHANNELS = 1`` (each report and slot scored alone, as the BS did before it batched).
Channels are synthetic (i.i.d. Gaussian, 64 antennas x 64 subcarriers) so that only the engine is timed; the
codec is the shipped learned-transform codec. Writes benchmarks/results/bs_scoring.json.

    python benchmarks/bench_bs_scoring.py [--ues 8 32] [--length-m 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simnet.config import PolicySpec, load_scenario
from simnet.sim import bs as bs_module
from simnet.sim.engine import run_variant
from simnet.sim.mobility import Trajectory
from simnet.sim.world import World, build_codec

ROOT = Path(__file__).resolve().parents[1]


def _world(num_ues: int, length_m: float) -> World:
    sc = load_scenario(ROOT / "scenarios" / "congestion.yaml", overrides={"ues": {"count": num_ues}})
    codec, info = build_codec(sc.codec, sc.system, sc.path)
    rng = np.random.default_rng(0)
    samples, h = [], []
    for u in range(num_ues):
        smp = Trajectory(np.array([[0.0, 2.0 * u, 1.5], [length_m, 2.0 * u, 1.5]]), 1.4).sample(0.01)
        samples.append(smp)
        shape = (len(smp), sc.system.num_bs_ant, sc.system.num_subcarriers)
        h.append(((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)).astype(np.complex64))
    return World(sc, samples, h, codec, 2, list(np.random.SeedSequence(0).spawn(num_ues)), {"source": "synthetic"},
                 info)


def _time(world: World, chunk: int, pending: int) -> tuple[float, dict[str, Any]]:
    bs_module.CHUNK_CHANNELS, bs_module.PENDING_CHANNELS = chunk, pending
    t0 = time.perf_counter()
    rec = run_variant(world, PolicySpec(label="never", type="never"))
    return time.perf_counter() - t0, rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ues", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--length-m", type=float, default=2.0)
    args = ap.parse_args()
    defaults = bs_module.CHUNK_CHANNELS, bs_module.PENDING_CHANNELS
    rows = []
    for n in args.ues:
        world = _world(n, args.length_m)
        _time(world, *defaults)  # warm-up: coding tables, imports
        t_batched, rec = _time(world, *defaults)
        t_alone, rec_alone = _time(world, 1, 1)
        bs_module.CHUNK_CHANNELS, bs_module.PENDING_CHANNELS = defaults
        same_slots = all(a == b for a, b in zip(rec["slots"], rec_alone["slots"], strict=True))
        rows.append({"num_users": n, "num_reports": len(rec["reports"]), "num_slot_rows": len(rec["slots"]),
                     "batched_s": t_batched, "one_call_each_s": t_alone, "ratio": t_alone / t_batched,
                     "slot_rows_identical": same_slots})
        print(rows[-1], flush=True)
    out = {"benchmark": "bs_scoring", "ratio": "one_call_each_s / batched_s, timed back to back in this run",
           "length_m": args.length_m, "chunk_channels": defaults[0], "pending_channels": defaults[1],
           "machine": {"platform": platform.platform(), "torch": torch.__version__, "cpu_count": os.cpu_count(),
                       "load_average_start": list(os.getloadavg())}, "rows": rows}
    path = ROOT / "benchmarks" / "results" / "bs_scoring.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
