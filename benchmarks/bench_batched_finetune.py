"""K users' fine-tunes one by one vs as one batched computation -> results/batched_finetune.json.

Each user starts from its own parameters (the codec perturbed per user) and trains on its own window; the
sequential and batched runs of the same K are timed back to back in this run, and their parameters compared.

    python benchmarks/bench_batched_finetune.py [--users 1 2 4 8 16] [--steps 10] [--window 64]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simnet.codecs import CODECS
from simnet.codecs.rd_crnet import CRNetTransforms
from simnet.files import write_json
from simnet.learning import procedures
from simnet.learning.batched import batched_finetune
from simnet.learning.finetune import FinetuneConfig

NUM_ANT, NUM_SC, BS_ARRAY = 64, 64, (8, 8)


def users(codec_name: str, num_users: int, window: int) -> tuple[list[Any], list[np.ndarray]]:
    """Untrained codecs perturbed per user, and random windows [window, A, S] complex64 (timing only)."""
    kwargs = {"bs_array": BS_ARRAY} if codec_name == "learned-transform" else {}
    base = CODECS.make(codec_name, num_bs_ant=NUM_ANT, num_subcarriers=NUM_SC, **kwargs).eval()
    codecs, windows = [], []
    for k in range(num_users):
        codec = CODECS.make(codec_name, num_bs_ant=NUM_ANT, num_subcarriers=NUM_SC, **kwargs).eval()
        codec.load_state_dict(base.state_dict())
        gen = torch.Generator().manual_seed(k)
        with torch.no_grad():
            for p in codec.parameters():
                p.add_(0.01 * torch.randn(p.shape, generator=gen))
        codecs.append(codec)
        rng = np.random.default_rng(k)
        shape = (window, NUM_ANT, NUM_SC)
        windows.append((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64))
    return codecs, windows


def time_one(codec_name: str, num_users: int, cfg: FinetuneConfig, window: int) -> dict[str, Any]:
    codecs, windows = users(codec_name, num_users, window)
    t0 = time.perf_counter()
    seq = [procedures.full_model(c, w, np.random.default_rng(k), cfg)
           for k, (c, w) in enumerate(zip(codecs, windows, strict=True))]
    t_seq = time.perf_counter() - t0
    row: dict[str, Any] = {"codec": codec_name, "num_users": num_users, "sequential_s": t_seq}
    if isinstance(codecs[0], CRNetTransforms):
        row.update(batched_s=None, ratio=None, note="batched: torch.func.vmap cannot run its channels_last layout")
        return row
    t0 = time.perf_counter()
    bat = batched_finetune(codecs, windows, [np.random.default_rng(k) for k in range(num_users)], "full-model", cfg)
    t_bat = time.perf_counter() - t0
    max_diff = max(float((a - b).detach().abs().max()) for s, r in zip(seq, bat, strict=True)
                   for a, b in zip(s.codec.parameters(), r.codec.parameters(), strict=True))
    same_payloads = sum(s.payload == r.payload for s, r in zip(seq, bat, strict=True))
    row.update(batched_s=t_bat, ratio=t_seq / t_bat, max_abs_param_diff=max_diff,
               equal_payloads=f"{same_payloads}/{num_users}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--codecs", nargs="+", default=["learned-transform", "rd-crnet"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "batched_finetune.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = FinetuneConfig(steps=args.steps)
    time_one(args.codecs[0], 2, FinetuneConfig(steps=2), 8)  # warm-up: first-call costs out of the timings
    report: dict[str, Any] = {
        "benchmark": "batched_finetune", "procedure": "full-model (coded update)", "steps": args.steps,
        "window": args.window, "batch_size": cfg.batch_size, "num_bs_ant": NUM_ANT, "num_subcarriers": NUM_SC,
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": args.threads,
                    "cpu_count": os.cpu_count(), "load_average_start": os.getloadavg()},
        "ratio": "sequential_s / batched_s, timed back to back in this run", "rows": []}
    for codec_name in args.codecs:
        for num_users in args.users:
            row = time_one(codec_name, num_users, cfg, args.window)
            report["rows"].append(row)
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    report["machine"]["load_average_end"] = os.getloadavg()
    print(f"wrote {write_json(args.out, report)}")


if __name__ == "__main__":
    main()
