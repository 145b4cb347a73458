"""Compute and throughput of rd-cnn vs rd-cnn-paper, measured in one run -> benchmarks/results/codecs.json.

FLOPs are counted by torch.utils.flop_counter.FlopCounterMode on one 64x64 report through the encoder and
decoder networks (multiply and add counted separately; range coding not included). Throughput is
compress + decompress (networks, real range coding, canonical check) of a batch, on 2 torch threads.
Optionally (--rd-budget-s > 0) both codecs are trained on the same o1_like data for the same wall-clock
budget and evaluated on held-out tracks.

    python benchmarks/bench_codecs.py [--batch 256] [--rd-budget-s 0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from simnet.codecs import CODECS, default_checkpoint, load_codec

OUT = Path(__file__).parent / "results" / "codecs.json"


def count_flops(codec: torch.nn.Module, h: np.ndarray) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = codec.analysis(torch.as_tensor(h[:1]))
        codec.synthesis(torch.round(y))
    return int(counter.get_total_flops())


def throughput(codec: torch.nn.Module, h: np.ndarray, min_s: float = 3.0) -> float:
    codec.decompress(codec.compress(h[:4]))  # warm-up (tables, caches)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_s:
        codec.decompress(codec.compress(h))
        done += len(h)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rd-budget-s", type=float, default=0.0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    from simnet.pretrain import sample_channels

    h = sample_channels("o1_like", args.batch, seed=99, split="test")
    codecs = {"rd-cnn": load_codec(default_checkpoint()), "rd-cnn-paper": CODECS.make("rd-cnn-paper").eval()}
    result: dict = {"torch_threads": torch.get_num_threads(), "batch": args.batch, "codecs": {}}
    for name, codec in codecs.items():
        num_params = sum(p.numel() for p in codec.parameters())
        names = set(codec.decoder_parameter_names())
        num_decoder = sum(p.numel() for n, p in codec.named_parameters() if n in names)
        batch = h if name == "rd-cnn" else h[: max(8, args.batch // 8)]  # the paper codec is ~100x slower
        result["codecs"][name] = {
            "flops_per_report": count_flops(codec, h),
            "num_params": num_params,
            "num_decoder_params": num_decoder,
            "reports_per_s": throughput(codec, batch),
            "throughput_batch": len(batch),
        }
    base = result["codecs"]["rd-cnn-paper"]
    mine = result["codecs"]["rd-cnn"]
    result["ratios_vs_paper"] = {
        "flops": mine["flops_per_report"] / base["flops_per_report"],
        "params": mine["num_params"] / base["num_params"],
        "reports_per_s": mine["reports_per_s"] / base["reports_per_s"],
    }
    if args.rd_budget_s > 0:
        from simnet.evaluate import evaluate
        from simnet.pretrain import train_codec

        h_tr = sample_channels("o1_like", 2000, seed=0, split="train")
        h_va = sample_channels("o1_like", 200, seed=1, split="val")
        h_te = sample_channels("o1_like", 300, seed=2, split="test")
        rd = {}
        for name in codecs:
            codec = CODECS.make(name)
            train_codec(codec, h_tr, h_va, 4.0, max_epochs=1000, lr=1e-2 if name == "rd-cnn" else 1e-3,
                        time_budget_s=args.rd_budget_s, progress=False)
            path = Path("/tmp") / f"bench_{name}.pt"
            from simnet.codecs import save_codec

            save_codec(codec, path, lmbda=4.0)
            rd[name] = evaluate(path, h=h_te)
        result["rd_equal_wallclock"] = {"budget_s_each": args.rd_budget_s, "lmbda": 4.0, "results": rd}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
