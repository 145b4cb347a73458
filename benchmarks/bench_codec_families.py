"""RD, compute and fine-tune cost of every codec family with shipped checkpoints -> results/codec_families.json.

For every shipped checkpoint (grouped by codec type; the learned-transform codec is the same-run baseline of every
ratio), on held-out o1_like channels (the test split, tracks no checkpoint was trained on):

- ``rd``: bits per real dimension (``8 * len(stream)`` of the real bitstreams), NMSE [dB] and mean SGCS of the
  decoded reports, per lambda (a codec that reports directions, ``eigen-sgcs`` or ``eigen-crnet``, is scored by
  SGCS: its NMSE is that of a unit-norm precoder against the channel, meaningless);
- ``flops_per_report`` (encoder + decoder networks, torch's FLOP counter), ``num_params``, ``num_decoder_params``
  (what a model update carries);
- ``reports_per_s``: compress + decompress of a batch (networks and real range coding), and
  ``single_call_reports_per_s`` (one report per call, the simulator's pattern);
- ``finetune_s``: one 30-step full-model fine-tune on 80 samples of a quadriga_track window with the codec's
  own fine-tuning defaults, coded update included (median of ``--repeats`` after a warm-up), and its update bits.

    python benchmarks/bench_codec_families.py [--threads 2] [--batch 256] [--repeats 3] [--codecs TYPE ...]

``--codecs`` measures only those codec types, with the baseline in the same run, and merges them into the
existing ``--out`` file: their entries and their ratios (against that run's baseline, kept in their entry as
``same_run_baseline``) replace the file's; the other families and the file's baseline stay as they were.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simnet.codecs import checkpoint_header, load_codec, shipped_checkpoints
from simnet.experiments import count_flops, stream_rd, track_channels
from simnet.files import write_json
from simnet.learning.finetune import FinetuneConfig
from simnet.learning.procedures import full_model
from simnet.sim.beamforming import sgcs

OUT = Path(__file__).parent / "results" / "codec_families.json"
BASELINE = "learned-transform"


def rate(step: Callable[[], object], num_reports: int, min_s: float = 2.0) -> float:
    """Reports per second of ``step`` (which handles ``num_reports`` reports), run for at least ``min_s``."""
    step()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_s:
        step()
        done += num_reports
    return done / (time.perf_counter() - start)


def finetune_seconds(codec: Any, window: np.ndarray, repeats: int) -> dict[str, float]:
    """Median wall time of a 30-step full-model fine-tune on ``window`` (after one warm-up) and its update bits."""
    cfg = FinetuneConfig(steps=30)
    full_model(codec, window, np.random.default_rng(0), cfg)  # warm-up: the first backward pass pays start-up
    times, bits = [], 0
    for k in range(repeats):
        start = time.perf_counter()
        result = full_model(codec, window, np.random.default_rng(k), cfg)
        times.append(time.perf_counter() - start)
        bits = result.bits
    return {"finetune_s": statistics.median(times), "finetune_update_bits": float(bits)}


def family(paths: list[Path], h_test: np.ndarray, h_rate: np.ndarray, window: np.ndarray,
           repeats: int) -> dict[str, Any]:
    """Every number of one codec type: RD per checkpoint, cost measured on its lowest-lambda checkpoint."""
    codecs = sorted(((load_codec(p), p) for p in paths), key=lambda cp: cp[0].checkpoint_meta["lmbda"])
    rd = []
    for codec, path in codecs:
        point = stream_rd(codec, h_test)
        score = float(np.mean(sgcs(h_test, codec.decompress(codec.compress(h_test)))))
        rd.append({"checkpoint": path.name, "lmbda": codec.checkpoint_meta["lmbda"],
                   "bits_per_dim": point["latent_bpd"], "nmse_db": point["nmse_db"], "sgcs": score})  # fmt: skip
    codec = codecs[0][0]
    decoder = set(codec.decoder_parameter_names())
    single = h_rate[:32]
    return {
        "rd": rd,
        "flops_per_report": count_flops(codec),
        "num_params": sum(p.numel() for p in codec.parameters()),
        "num_decoder_params": sum(p.numel() for n, p in codec.named_parameters() if n in decoder),
        "checkpoint_bytes": max(p.stat().st_size for p in paths),
        "reports_per_s": rate(lambda: codec.decompress(codec.compress(h_rate)), len(h_rate)),
        "single_call_reports_per_s": rate(
            lambda: [codec.decompress(codec.compress(single[i : i + 1])) for i in range(len(single))], len(single)
        ),
        **finetune_seconds(codec, window, repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256, help="reports per batched compress+decompress call")
    parser.add_argument("--num-test", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--codecs", nargs="+", metavar="TYPE",
                        help="only these codec types (and the baseline), merged into the existing --out file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from simnet.learning.pretrain import sample_channels

    h_test = sample_channels("o1_like", args.num_test, seed=2, split="test")
    h_rate = sample_channels("o1_like", args.batch, seed=99, split="test")
    window = track_channels("quadriga_track", 80, 50.0)
    by_type: dict[str, list[Path]] = {}
    for path in shipped_checkpoints():
        by_type.setdefault(checkpoint_header(path)["type"], []).append(path)
    names = sorted(set(by_type) - {BASELINE}) if args.codecs is None else sorted(set(args.codecs) - {BASELINE})
    unknown = [n for n in names if n not in by_type]
    if args.codecs is not None and not Path(args.out).is_file():
        parser.error(f"--codecs merges into {args.out}, which does not exist; run once without --codecs first")
    if unknown:
        parser.error(f"--codecs: no shipped checkpoint of {unknown}; shipped: {', '.join(sorted(by_type))}")
    result: dict[str, Any] = {"torch_threads": torch.get_num_threads(), "batch": args.batch,
                              "num_test": args.num_test, "baseline": BASELINE, "codecs": {}}  # fmt: skip
    for name in [BASELINE, *names]:
        result["codecs"][name] = family(by_type[name], h_test, h_rate, window, args.repeats)
        print(name, json.dumps({k: v for k, v in result["codecs"][name].items() if k != "rd"}), flush=True)
    base = result["codecs"][BASELINE]
    ratios = {name: {k: c[k] / base[k] for k in RATIO_KEYS} for name, c in result["codecs"].items()}
    if args.codecs is not None:
        result = merged(json.loads(Path(args.out).read_text()), result, names, ratios)
    else:
        result["ratios_vs_baseline"] = ratios
    write_json(Path(args.out), result)
    print(json.dumps(result["ratios_vs_baseline"], indent=2))


RATIO_KEYS = ("flops_per_report", "num_params", "num_decoder_params", "reports_per_s", "single_call_reports_per_s",
              "finetune_s")  # fmt: skip


def merged(old: dict[str, Any], run: dict[str, Any], names: list[str],
           ratios: dict[str, dict[str, float]]) -> dict[str, Any]:
    """``old`` (a full run's file) with ``names``' entries and ratios from ``run``, each entry keeping the cost
    numbers of its own run's baseline (throughput depends on the machine's load: only same-run ratios compare)."""
    base = run["codecs"][BASELINE]
    same_run = {k: base[k] for k in ("reports_per_s", "single_call_reports_per_s", "finetune_s")}
    out = {**old, "codecs": dict(old["codecs"]), "ratios_vs_baseline": dict(old["ratios_vs_baseline"])}
    for name in names:
        out["codecs"][name] = {**run["codecs"][name], "same_run_baseline": {**same_run,
                               "torch_threads": run["torch_threads"]}}  # fmt: skip
        out["ratios_vs_baseline"][name] = ratios[name]
    return out


if __name__ == "__main__":
    main()
