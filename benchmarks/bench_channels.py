"""Channel-source throughput: fast engine vs quadriga-lib per-element engine, full quadriga_track, cache hit.

Usage:  python benchmarks/bench_channels.py [--quick]
Writes benchmarks/results/channels.json. Ratios are against the quadriga-lib full per-element computation
measured in the same run, on the same positions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from simnet.channels import cached_channels, make_source


def track_samples(src, num: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """quadriga_track samples at 29.6 samples/m, 5 km/h (10,360 samples for the whole 350 m)."""
    a, b = src.tracks(1)[0][[0, -1]]
    length = float(np.linalg.norm(b - a))
    total = int(round(length * src.cfg["samples_per_m"]))
    num = total if num is None else num
    s_m = np.arange(num) / src.cfg["samples_per_m"]
    return a + s_m[:, None] * (b - a) / length, s_m / src.cfg["speed_mps"]


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="skip the full 10,360-position track")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    res: dict = {"machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()}

    kw = {"preset": "quadriga_track", "seed": 0, "normalization": "none"}
    fast = make_source("geometric", engine="fast", **kw)
    full = make_source("geometric", engine="full", **kw)
    pos, t = track_samples(fast, 10360)
    sub = np.linspace(0, len(pos) - 1, 200).astype(int)
    fast.channels(pos[:2], t[:2])  # warm up imports, patterns and the sites along the track
    full.channels(pos[:2], t[:2])
    h_fast, dt_fast = timed(fast.channels, pos[sub], t[sub])
    h_full, dt_full = timed(full.channels, pos[sub], t[sub])
    err = np.linalg.norm(h_fast - h_full, axis=(1, 2)) / np.linalg.norm(h_full, axis=(1, 2))
    res["per_position_64x64"] = {
        "num_positions": len(sub),
        "fast_positions_per_s": len(sub) / dt_fast,
        "full_quadriga_lib_positions_per_s": len(sub) / dt_full,
        "speedup_fast_vs_full": dt_full / dt_fast,
        "max_rel_error_fast_vs_full": float(err.max()),
        "processes": 1,
    }
    print(json.dumps(res["per_position_64x64"], indent=1))

    if not args.quick:
        src = make_source("geometric", preset="quadriga_track", seed=0, num_workers=args.workers)
        pos, t = track_samples(src)
        with tempfile.TemporaryDirectory() as cache_dir:
            h, dt_track = timed(cached_channels, src, pos, t, cache_dir)
            h2, dt_hit = timed(cached_channels, src, pos, t, cache_dir)
            assert np.array_equal(h, h2)
        res["quadriga_track_full"] = {
            "num_positions": len(pos),
            "workers": args.workers,
            "seconds": dt_track,
            "positions_per_s": len(pos) / dt_track,
            "target_seconds": 60.0,
            "cache_hit_seconds": dt_hit,
            "cache_hit_target_seconds": 2.0,
            "cache_file_mb": h.nbytes / 2**20,
        }
        print(json.dumps(res["quadriga_track_full"], indent=1))

    out = Path(__file__).with_name("results") / "channels.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print("wrote", out)


if __name__ == "__main__":
    main()
