"""Fig. 7 analogue of paper 000: no FT / encoder-only / full-model / genie / translation on moving-UE tracks.

    python benchmarks/bench_fig7.py [--quick] [--presets quadriga_track o2_dynamic_like]

Runs the ``finetune_schemes`` experiment (``simnet/experiments/schemes.py``; the same as
``python run_sim.py scenarios/paper/fig7_schemes_offline.yaml``) and writes its rows, the mean margins and
the wall time to ``benchmarks/results/fig7.json``. For each preset one UE walks its preset track: the first
``--window`` samples are the fine-tune window, the next ``--num-eval`` the evaluation reports. Every shipped
checkpoint gives one RD point per method: total rate = real latent bits + the update payload's bits spread
over the evaluation reports, per real CSI dimension. Margin: the method's NMSE minus the reference curve's
(never / encoder-only) at the same total rate (linear in log-rate): negative = better.
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

from simnet.codecs import CODECS
from simnet.experiments import EXPERIMENTS, RunContext
from simnet.experiments.schemes import margins
from simnet.files import write_json
from simnet.learning.finetune import update_coding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["quadriga_track", "o2_dynamic_like"])
    parser.add_argument("--window", type=int, default=250, help="fine-tune window [samples]")
    parser.add_argument("--num-eval", type=int, default=350, help="evaluation reports after the window")
    parser.add_argument("--start-m", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="10 steps (smoke run)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fig7.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    experiment = EXPERIMENTS.make("finetune_schemes", presets=tuple(args.presets), window=args.window,
                                  num_eval=args.num_eval, start_m=args.start_m,
                                  finetune={"steps": 10} if args.quick else {})
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    table = experiment.run(RunContext(seed=args.seed, cache_dir=None, log=lambda line: print(line, flush=True)))
    wall = time.perf_counter() - t0
    vs_eo = margins(table, "encoder_only")
    codec = CODECS.get("learned-transform")  # the experiment's checkpoints: their class's update coding
    summary: dict[str, Any] = {}
    for (preset, method), grp in table.groupby(["preset", "method"], sort=False):
        summary.setdefault(preset, {})[method] = {
            "vs_never_db": round(float(grp.margin_vs_never_db.mean()), 3),
            "vs_encoder_only_db": round(float(np.nanmean(vs_eo[grp.index])), 3)}
    report = {
        "setup": {"window": args.window, "num_eval": args.num_eval, "start_m": args.start_m, "seed": args.seed,
                  "rate": "total_bpd = (latent stream bits + update payload bits) / (num_eval * 2 * A * S)",
                  "margin": "method NMSE minus reference NMSE at equal total rate (dB, negative = better)"},
        "finetune_config": vars(experiment.config()) | {"coding": vars(update_coding(codec, experiment.config()))},
        "translation_config": vars(experiment.translation_config()) | {
            "coding": vars(update_coding(codec, experiment.translation_config()))},
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": 1,
                    "load_average_start": load_start, "load_average_end": os.getloadavg()},
        "wall_s": wall,
        "margins_db_at_equal_total_rate": summary,
        "rows": table.to_dict(orient="records"),
    }
    print(json.dumps(summary, indent=2))
    print(f"wrote {write_json(args.out, report)}")


if __name__ == "__main__":
    main()
