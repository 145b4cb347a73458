"""Fine-tuning cost, update-coding ablation and quantization sweep on quadriga_track -> results/finetune.json.

    python benchmarks/bench_finetune.py [--quick] [--no-ablation]

Channels: consecutive samples of the quadriga_track preset from ``--start-m``; the fine-tune window is the
first ``--window`` (250) samples, the evaluation reports the next ``--num-eval`` (350), never trained on.

1. Wall time of a full-model fine-tune (default ``FinetuneConfig``) of the default learned-transform checkpoint on
   100 and 250 samples, 1 torch thread, after one warm-up call (the first backward pass of a process pays
   a one-off start-up cost, reported separately), with update bits and non-zero count.
2. Ablation (paper 000, Fig. 8/9): prior in {spike-and-slab, gaussian, uniform} x regularize in
   {on, off}: update bits, non-zero updates, NMSE on the evaluation reports (real streams), latent
   bits per real dimension and total bits per real dimension with the update spread over those reports.
3. Quantization sweep (Table IV analogue): num_bins in 2..256 at the default bin width t.
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

from simnet.codecs import LearnedTransformCodec, default_checkpoint, load_codec, shipped_checkpoints
from simnet.experiments import EXPERIMENTS, RunContext, stream_rd, track_channels
from simnet.files import write_json
from simnet.learning.finetune import FinetuneConfig, update_coding
from simnet.learning.procedures import encoder_only, full_model, genie


def evaluate(codec: Any, h: np.ndarray) -> tuple[float, float]:
    """(NMSE [dB] of the real decoded streams, latent bits per real dimension) over ``h``."""
    rd = stream_rd(codec, h)
    return rd["nmse_db"], rd["latent_bpd"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (smoke run)")
    parser.add_argument("--no-ablation", action="store_true")
    parser.add_argument("--num-eval", type=int, default=350)
    parser.add_argument("--window", type=int, default=250)
    parser.add_argument("--start-m", type=float, default=50.0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "finetune.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    ckpt = default_checkpoint()
    if not ckpt.is_file() and shipped_checkpoints():
        ckpt = shipped_checkpoints()[-1]
    codec = load_codec(ckpt) if ckpt.is_file() else LearnedTransformCodec(64, 64).eval()
    t0 = time.perf_counter()
    h = track_channels("quadriga_track", args.window + args.num_eval, args.start_m)
    h_eval = h[args.window:]
    win = h[:args.window]
    report: dict[str, Any] = {
        "codec": str(ckpt.name) if ckpt.is_file() else "learned-transform (random init: no shipped checkpoint found)",
        "channels": (f"geometric/quadriga_track, {args.window + args.num_eval} samples from {args.start_m} m: "
                     f"window {args.window}, evaluation {args.num_eval}"),
        "channel_time_s": time.perf_counter() - t0,
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": 1,
                    "load_average_start": os.getloadavg()},
    }
    base_cfg = FinetuneConfig(steps=10) if args.quick else FinetuneConfig()
    report["config"] = {k: v for k, v in vars(base_cfg).items() if k not in ("coding", "coding_keywords")} | {
        "optimizer": "Adam", "coding": vars(update_coding(codec, base_cfg))}
    t0 = time.perf_counter()
    full_model(codec, h[:20], np.random.default_rng(99), FinetuneConfig(steps=2))
    report["warmup_s"] = time.perf_counter() - t0
    nmse_db, bpd = evaluate(codec, h_eval)
    report["no_ft"] = {"nmse_db": nmse_db, "latent_bpd": bpd}
    timing = []
    for num in (100, 250, 100, 250):  # twice each: the CPU here is shared, so report every run
        t0 = time.perf_counter()
        res = full_model(codec, h[:num], np.random.default_rng(0), base_cfg)
        wall = time.perf_counter() - t0
        nmse_db, bpd = evaluate(res.codec, h_eval)
        timing.append({"num_samples": num, "wall_s": wall, "steps": res.num_steps, "update_bits": res.bits,
                       "num_nonzero": res.num_nonzero, "estimated_update_bits": res.estimated_update_bits,
                       "eval_nmse_db": nmse_db, "eval_latent_bpd": bpd})
        print(timing[-1], flush=True)
    report["full_model_timing"] = timing
    for label, fn in (("encoder_only", encoder_only), ("genie", genie)):
        t0 = time.perf_counter()
        res = fn(codec, win, np.random.default_rng(0), base_cfg)
        nmse_db, bpd = evaluate(res.codec, h_eval)
        report[label] = {"wall_s": time.perf_counter() - t0, "eval_nmse_db": nmse_db, "eval_latent_bpd": bpd}
        print(label, report[label], flush=True)
    if not args.no_ablation:
        common = {"window": args.window, "num_eval": args.num_eval, "start_m": args.start_m,
                  "checkpoint": str(ckpt), "finetune": {"steps": base_cfg.steps}}
        ctx = RunContext(seed=0, cache_dir=None, log=lambda line: print(line, flush=True))
        ablation = EXPERIMENTS.make("update_prior", **common).run(ctx)
        report["ablation"] = ablation.to_dict(orient="records")
        sweep = EXPERIMENTS.make("update_quantization", **common).run(ctx)
        report["quantization_sweep"] = sweep.to_dict(orient="records")
        report["ablation_note"] = ("update_prior / update_quantization experiments (simnet/experiments): fine-tuned "
                                   "on the window; total_bpd spreads the update's bits over the num_eval reports")
    report["machine"]["load_average_end"] = os.getloadavg()
    print(f"wrote {write_json(args.out, report)}")


if __name__ == "__main__":
    main()
