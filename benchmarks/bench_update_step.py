"""Update quantizer step ``t`` (and slab width) per codec -> results/update_step.json.

For each (checkpoint, preset, start) case: a 30-step full-model fine-tune on an 80-sample track window with the
codec's own optimisation defaults, coded with each ``(t, sigma_slab)`` of the grid; the NMSE of the next 200
reports (real streams) and the update's real payload bits. ``never`` (no fine-tune) and ``genie`` (uncoded,
free) bound what coding can reach. What it measures: which step suits the scale of each codec's decoder-side
parameters (``update_coding_defaults`` of the codec classes).

    python benchmarks/bench_update_step.py [--steps 30] [--case CHECKPOINT:PRESET:START_M ... --out FILE]

``--case`` (repeatable) replaces the default cases, e.g. ``--case bit-alloc_total_bits256:quadriga_track:30``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from simnet.codecs import load_codec, resolve_checkpoint
from simnet.coding.update_prior import UpdateCoding
from simnet.coding.updates import decoder_state
from simnet.experiments.data import stream_rd, track_channels
from simnet.files import write_json
from simnet.learning.finetune import FinetuneConfig
from simnet.learning.procedures import full_model, genie

CASES = [("rd-crnet_lambda1", "quadriga_track", 30.0), ("rd-crnet_lambda1", "o2_dynamic_like", 20.0),
         ("rd-crnet_lambda4", "quadriga_track", 60.0), ("learned-transform_lambda1", "quadriga_track", 30.0)]
GRID = [(0.05, 0.5), (0.02, 0.2), (0.01, 0.1), (0.005, 0.05), (0.002, 0.02), (0.001, 0.01)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--window", type=int, default=80)
    parser.add_argument("--num-eval", type=int, default=200)
    parser.add_argument("--case", action="append", default=None, metavar="CHECKPOINT:PRESET:START_M",
                        help="a case to run instead of the defaults (repeatable)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "update_step.json"))
    args = parser.parse_args()
    try:
        chosen = CASES if args.case is None else [(n, p, float(m)) for n, p, m in (c.split(":") for c in args.case)]
    except ValueError:
        parser.error(f"--case {args.case}: give CHECKPOINT:PRESET:START_M, e.g. rd-crnet_lambda1:quadriga_track:30")
    torch.set_num_threads(1)
    load_start = os.getloadavg()
    cases = []
    for name, preset, start_m in chosen:
        h = track_channels(preset, args.window + args.num_eval, start_m)
        h_win, h_eval = h[:args.window], h[args.window:]
        codec = load_codec(resolve_checkpoint(name)).eval()
        mags = torch.cat([v.detach().flatten().abs() for v in decoder_state(codec).values()])
        free = genie(codec, h_win, np.random.default_rng(0), FinetuneConfig(steps=args.steps))
        rows = []
        for t, sigma in GRID:
            cfg = FinetuneConfig(steps=args.steps, coding=UpdateCoding(t=t, sigma_slab=sigma))
            t0 = time.perf_counter()
            res = full_model(codec, h_win, np.random.default_rng(0), cfg)
            rows.append({"t": t, "sigma_slab": sigma, "update_bits": res.bits, "num_nonzero": res.num_nonzero,
                         **stream_rd(res.codec.eval(), h_eval, res.bits), "finetune_s": time.perf_counter() - t0})
            print(name, preset, rows[-1], flush=True)
        cases.append({"checkpoint": name, "preset": preset, "start_m": start_m,
                      "decoder_param_abs_median": float(mags.median()),
                      "decoder_param_abs_p90": float(mags.quantile(0.9)),
                      "never": stream_rd(codec, h_eval), "genie": stream_rd(free.codec.eval(), h_eval),
                      "coded": rows})
    write_json(Path(args.out), {
        "benchmark": "update_step", "steps": args.steps, "window": args.window, "num_eval": args.num_eval,
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": 1,
                    "load_average_start": load_start, "load_average_end": os.getloadavg()},
        "cases": cases})


if __name__ == "__main__":
    main()
