"""Compute and throughput of learned-transform vs rd-cnn-paper, measured in one run -> benchmarks/results/codecs.json.

FLOPs are counted by simnet.experiments.count_flops (torch FlopCounterMode) on one 64x64 report through the
encoder and decoder networks (multiply and add counted separately; range coding not included). Throughputs, all on
``--threads`` torch threads (2 by default) and in reports per second:

- ``reports_per_s``: compress + decompress of a batch (networks, real range coding, canonical check);
- ``network_reports_per_s``: the networks alone (quantize + dequantize), the ceiling of the line above;
- ``coding_reports_per_s``: the range coder alone (entropy_encode + entropy_decode with its check);
- ``single_call_reports_per_s``: one ``compress(h[i:i+1])`` + one ``decompress([stream])`` per report, the
  simulator's calling pattern.

Rates (``bits_per_report`` = 8 * stream length, ``estimated_bits_per_report`` = likelihood estimate) are
the means over the benchmark batch. Optionally (--rd-budget-s > 0) both codecs are trained on the same
o1_like data for the same wall-clock budget and evaluated on held-out tracks.

    python benchmarks/bench_codecs.py [--batch 256] [--threads 2] [--rd-budget-s 0]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simnet.codecs import CODECS, default_checkpoint, load_codec
from simnet.experiments import count_flops
from simnet.files import write_json

OUT = Path(__file__).parent / "results" / "codecs.json"


def rate(step: Callable[[], object], num_reports: int, min_s: float = 3.0) -> float:
    """Reports per second of ``step`` (which handles ``num_reports`` reports), run for at least ``min_s``."""
    step()  # warm-up (tables, caches)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_s:
        step()
        done += num_reports
    return done / (time.perf_counter() - start)


def throughputs(codec: Any, h: np.ndarray) -> dict[str, float]:
    codes, q = codec.quantize(h)
    streams = codec.entropy_encode(codes, q)
    single = h[: max(1, len(h) // 4)]
    return {
        "reports_per_s": rate(lambda: codec.decompress(codec.compress(h)), len(h)),
        "network_reports_per_s": rate(lambda: codec.dequantize(*codec.quantize(h)), len(h)),
        "coding_reports_per_s": rate(lambda: codec.entropy_decode(codec.entropy_encode(codes, q)), len(h)),
        "single_call_reports_per_s": rate(
            lambda: [codec.decompress(codec.compress(single[i : i + 1])) for i in range(len(single))], len(single)
        ),
        "bits_per_report": float(np.mean([8 * len(s) for s in streams])),
        "estimated_bits_per_report": float(codec.estimate_bits(h).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rd-budget-s", type=float, default=0.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from simnet.learning.pretrain import sample_channels

    h = sample_channels("o1_like", args.batch, seed=99, split="test")
    codecs = {"learned-transform": load_codec(default_checkpoint()), "rd-cnn-paper": CODECS.make("rd-cnn-paper").eval()}
    result: dict = {"torch_threads": torch.get_num_threads(), "batch": args.batch, "codecs": {}}
    for name, codec in codecs.items():
        num_params = sum(p.numel() for p in codec.parameters())
        names = set(codec.decoder_parameter_names())
        num_decoder = sum(p.numel() for n, p in codec.named_parameters() if n in names)
        batch = h if name == "learned-transform" else h[: max(8, args.batch // 8)]  # the paper codec is ~100x slower
        result["codecs"][name] = {
            "flops_per_report": count_flops(codec),
            "num_params": num_params,
            "num_decoder_params": num_decoder,
            **throughputs(codec, batch),
            "throughput_batch": len(batch),
        }
    base = result["codecs"]["rd-cnn-paper"]
    mine = result["codecs"]["learned-transform"]
    result["ratios_vs_paper"] = {
        "flops": mine["flops_per_report"] / base["flops_per_report"],
        "params": mine["num_params"] / base["num_params"],
        "reports_per_s": mine["reports_per_s"] / base["reports_per_s"],
    }
    result["coding_share_of_time"] = {
        name: 1.0 - c["reports_per_s"] / c["network_reports_per_s"] for name, c in result["codecs"].items()
    }
    if args.rd_budget_s > 0:
        from simnet.analysis.evaluate import evaluate
        from simnet.learning.pretrain import train_codec

        h_tr = sample_channels("o1_like", 2000, seed=0, split="train")
        h_va = sample_channels("o1_like", 200, seed=1, split="val")
        h_te = sample_channels("o1_like", 300, seed=2, split="test")
        rd = {}
        for name in codecs:
            codec = CODECS.make(name)
            train_codec(codec, h_tr, h_va, 4.0, max_epochs=1000, lr=1e-2 if name == "learned-transform" else 1e-3,
                        time_budget_s=args.rd_budget_s, progress=False)
            path = Path("/tmp") / f"bench_{name}.pt"
            from simnet.codecs import save_codec

            save_codec(codec, path, lmbda=4.0)
            rd[name] = evaluate(path, h=h_te)
        result["rd_equal_wallclock"] = {"budget_s_each": args.rd_budget_s, "lmbda": 4.0, "results": rd}
    write_json(OUT, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
