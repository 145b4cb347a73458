"""Encode time per report of eType II selection vs the shipped learned-transform -> benchmarks/results/codebooks.json.

Also the SGCS-trained convolutional codec of the same payloads (``eigen-crnet``, lambda 0.12, ~100 bits like
eType II pc4). All codecs encode the same o1_like held-out channels (default 8x8 array, 64 subcarriers) one
report per call, the simulator's calling pattern (``compress(h[i:i+1])``), on ``--threads`` torch threads; the
eType II time is the whole UE side (subband eigenvectors, beam and tap selection, quantization, bit packing).
Also the batched call (``compress(h)``) per report. ``ratio`` = a codec's time / the learned-transform's time.

    python benchmarks/bench_codebooks.py [--num-reports 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simnet.analysis.results import package_versions
from simnet.codecs import CODECS, default_checkpoint, load_codec, resolve_checkpoint
from simnet.files import write_json

OUT = Path(__file__).parent / "results" / "codebooks.json"


def seconds_per_report(step: Callable[[], object], num_reports: int, min_s: float) -> float:
    """Mean wall time of ``step`` (``num_reports`` reports) per report, repeated for at least ``min_s``."""
    step()  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_s:
        step()
        done += num_reports
    return (time.perf_counter() - start) / done


def timings(codec: Any, h: np.ndarray, min_s: float) -> dict[str, float]:
    single = seconds_per_report(lambda: [codec.compress(h[i : i + 1]) for i in range(len(h))], len(h), min_s)
    batched = seconds_per_report(lambda: codec.compress(h), len(h), min_s)
    bits = float(np.mean([8 * len(s) for s in codec.compress(h)]))
    return {"encode_s_per_report": single, "batched_encode_s_per_report": batched, "bits_per_report": bits}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-reports", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-s", type=float, default=2.0)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from simnet.learning.pretrain import sample_channels

    h = sample_channels("o1_like", args.num_reports, seed=12345, split="test")
    neural = load_codec(default_checkpoint()).eval()
    results: dict[str, Any] = {"learned-transform (default checkpoint)": timings(neural, h, args.min_s)}
    conv = load_codec(resolve_checkpoint("eigen-crnet_lambda0.12")).eval()
    results["eigen-crnet lambda=0.12"] = timings(conv, h, args.min_s)
    for pc in (1, 4, 8):
        codec = CODECS.make("etype2", num_bs_ant=h.shape[1], num_subcarriers=h.shape[2], bs_array=(8, 8),
                            param_combination=pc)
        results[f"etype2 pc{pc}"] = timings(codec, h, args.min_s)
    ref = results["learned-transform (default checkpoint)"]["encode_s_per_report"]
    for row in results.values():
        row["ratio_to_learned_transform"] = row["encode_s_per_report"] / ref
    out = {"num_reports": args.num_reports, "threads": args.threads, "channels": "o1_like test split, 8x8, 64 sc",
           "codecs": results, "versions": package_versions()}
    write_json(args.out, out)
    for key, row in results.items():
        print(f"{key:<28} {1e3 * row['encode_s_per_report']:8.2f} ms/report  x{row['ratio_to_learned_transform']:.2f}  "
              f"{row['bits_per_report']:.0f} bits")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
