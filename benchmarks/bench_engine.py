"""Engine overhead: simulated reports/s through the SimPy world vs a plain loop doing the same work.

Both paths use the same precomputed channels and an identity codec (bytes = the complex64 samples), so
what differs is only the engine: processes, the uplink queue, packets, version bookkeeping, records.
Writes benchmarks/results/engine.json; the figure of merit is ``overhead = t_engine / t_loop - 1``.

    python benchmarks/bench_engine.py [--ues 4] [--length-m 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simnet.config import PolicySpec, load_scenario
from simnet.sim.beamforming import cosine_similarity, mrt_se, nmse, to_db, zf_se
from simnet.sim.engine import run_variant
from simnet.sim.mobility import Trajectory
from simnet.sim.world import World

ROOT = Path(__file__).resolve().parents[1]


class IdentityCodec(torch.nn.Module):
    """No-op codec: the stream is the raw complex64 sample."""

    def __init__(self, num_bs_ant: int, num_subcarriers: int) -> None:
        super().__init__()
        self.num_bs_ant, self.num_subcarriers = num_bs_ant, num_subcarriers

    def compress(self, h: np.ndarray) -> list[bytes]:
        return [x.tobytes() for x in np.asarray(h, dtype=np.complex64)]

    def compress_with_reconstruction(self, h: np.ndarray) -> tuple[list[bytes], np.ndarray]:
        streams = self.compress(h)
        return streams, self.decompress(streams)

    def decompress(self, streams: list[bytes]) -> np.ndarray:
        return np.frombuffer(b"".join(streams), dtype=np.complex64).reshape(
            len(streams), self.num_bs_ant, self.num_subcarriers)

    def decoder_parameter_names(self) -> list[str]:
        return []


def make_world(num_ues: int, length_m: float, ant: int, sub: int) -> World:
    sc = load_scenario(ROOT / "scenarios" / "smoke.yaml")
    rng = np.random.default_rng(0)
    samples, h = [], []
    spacing, speed = 0.1, 1.4
    for u in range(num_ues):
        tr = Trajectory(np.array([[0.0, 5.0 * u, 1.5], [length_m, 5.0 * u, 1.5]]), speed,
                        t0_s=u * spacing / speed / num_ues)
        smp = tr.sample(spacing)
        samples.append(smp)
        h.append((rng.standard_normal((len(smp), ant, sub))
                  + 1j * rng.standard_normal((len(smp), ant, sub))).astype(np.complex64))
    return World(sc, samples, h, IdentityCodec(ant, sub), 1, np.random.SeedSequence(0).spawn(num_ues),
                 {"source": "random"}, {"type": "identity"})


def plain_loop(world: World) -> tuple[int, int]:
    """The same per-report and per-slot work in a flat loop, no simulation machinery."""
    codec, snr = world.codec, world.scenario.system.snr_db
    latest: list[Any] = [None] * len(world.samples)
    events = sorted((float(s.t_s[i]), u, i) for u, s in enumerate(world.samples) for i in range(len(s)))
    slot_dt = world.scenario.downlink.slot_period_s
    next_slot = slot_dt
    num_rows = 0
    t_end = max(float(s.t_s[-1]) for s in world.samples)
    for t, u, i in events + [(t_end + slot_dt / 2, -1, -1)]:
        while next_slot < t and next_slot <= t_end + 1e-12:
            active = [k for k in range(len(latest)) if latest[k] is not None
                      and world.samples[k].t_s[0] <= next_slot <= world.samples[k].t_s[-1] + 1e-12]
            num_rows += len(active)
            if active:
                h_true = np.stack([world.h[k][int(world.samples[k].index_at(next_slot))] for k in active])
                h_hat = np.stack([latest[k] for k in active])
                nmse(h_true, h_hat), cosine_similarity(h_true, h_hat), mrt_se(h_true, h_hat, snr)
                if len(active) > 1:
                    zf_se(h_true, h_hat, snr)
            next_slot += slot_dt
        if u < 0:
            break
        h = world.h[u]
        streams, h_ue = codec.compress_with_reconstruction(h[i : i + 1])
        stream = streams[0]
        float(to_db(nmse(h[i], h_ue[0])))
        h_hat = codec.decompress([stream])[0]
        float(nmse(h[i], h_hat)), float(nmse(h[int(world.samples[u].index_at(t))], h_hat))
        float(cosine_similarity(h[i], h_hat))
        latest[u] = h_hat
    return len(events), num_rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ues", type=int, default=4)
    ap.add_argument("--length-m", type=float, default=200.0)
    ap.add_argument("--ant", type=int, default=64)
    ap.add_argument("--sub", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    world = make_world(args.ues, args.length_m, args.ant, args.sub)
    spec = PolicySpec(label="never", type="never")
    t_engine, t_loop = [], []
    num_reports = 0
    for _ in range(args.repeat):  # interleaved so both see the same machine state
        t0 = time.perf_counter()
        rec = run_variant(world, spec)
        t_engine.append(time.perf_counter() - t0)
        num_reports = sum(1 for p in rec["packets"] if p["kind"] == "csi")
        t0 = time.perf_counter()
        n_loop, n_rows = plain_loop(world)
        t_loop.append(time.perf_counter() - t0)
    assert n_loop == num_reports, (n_loop, num_reports)
    # same scoring work (the loop sets a reconstruction at measurement, the engine at delivery)
    assert abs(n_rows - len(rec["slots"])) <= 0.01 * n_rows, (n_rows, len(rec["slots"]))
    te, tl = min(t_engine), min(t_loop)
    out = {
        "benchmark": "engine_overhead",
        "num_ues": args.ues, "length_m": args.length_m, "num_bs_ant": args.ant, "num_subcarriers": args.sub,
        "num_reports": num_reports, "num_slots": len(rec["slots"]),
        "engine_s": te, "loop_s": tl, "engine_reports_per_s": num_reports / te,
        "loop_reports_per_s": num_reports / tl, "overhead": te / tl - 1.0,
        "all_engine_s": t_engine, "all_loop_s": t_loop,
    }
    path = ROOT / "benchmarks" / "results" / "engine.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
