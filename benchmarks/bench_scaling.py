"""Engine wall time vs number of users and vs report spacing, real codec -> results/scaling.json.

The smoke scenario's street and shipped learned-transform codec on short tracks; per world the ``never`` policy
(reports only) and one ``periodic`` policy (coded full-model updates) run through ``engine.run_variant``
(world building, i.e. channels, is not timed). The 1-user run is the same-run baseline; the cost model
``t = a + b * num_reports (+ c * num_finetunes)`` is fitted by least squares over every run of a policy.
The periodic policy also runs with ``ues.batch_finetunes`` (the UEs' overlapping fine-tunes as one vmapped
batch): ``batched_ratio`` = one-by-one wall / batched wall, back to back, with whether the fine-tune rows agree.

    SIMNET_CACHE=/tmp/cache python benchmarks/bench_scaling.py [--users 1 2 4 ... 64] [--length-m 1.5]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simnet.config import load_scenario
from simnet.files import write_json
from simnet.sim.engine import run_variant
from simnet.sim.world import build_world

ROOT = Path(__file__).resolve().parents[1]


def run_world(num_users: int, spacing_m: float, length_m: float, interval_m: float, steps: int,
              cache: Path | None) -> list[dict[str, Any]]:
    """Time every policy of one world: rows with wall time, reports, fine-tunes, slots."""
    overrides = {
        "ues": {"count": num_users, "track_length_m": length_m, "sample_spacing_m": spacing_m,
                "report_spacing_m": spacing_m},
        "policies": [{"type": "never"}, {"type": "periodic", "interval_m": interval_m, "steps": steps}],
    }
    scenario = load_scenario(ROOT / "scenarios" / "smoke.yaml", overrides=overrides)
    world = build_world(scenario, cache)
    rows = []
    for spec in scenario.policies:
        t0 = time.perf_counter()
        rec = run_variant(world, spec)
        wall_s = time.perf_counter() - t0
        rows.append({"policy": spec.label, "num_users": num_users, "report_spacing_m": spacing_m,
                     "num_reports": len(rec["reports"]), "num_finetunes": len(rec["finetunes"]),
                     "num_slot_rows": len(rec["slots"]), "wall_s": wall_s})
        if rec["finetunes"]:
            batched = dataclasses.replace(scenario, ues=dataclasses.replace(scenario.ues, batch_finetunes=True))
            t0 = time.perf_counter()
            rec_b = run_variant(dataclasses.replace(world, scenario=batched), spec)
            wall_b = time.perf_counter() - t0
            keys = ("ue", "t_done_s", "update_bits")
            rows[-1].update(wall_s_batched=wall_b, batched_ratio=wall_s / wall_b, batched_equal_finetunes=all(
                tuple(a[k] for k in keys) == tuple(b[k] for k in keys)
                for a, b in zip(rec["finetunes"], rec_b["finetunes"], strict=True)))
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    return rows


def fit(rows: list[dict[str, Any]], with_finetunes: bool) -> dict[str, float]:
    """Least squares ``wall_s = a + b * num_reports [+ c * num_finetunes]`` and its R^2."""
    cols = [np.ones(len(rows)), np.array([r["num_reports"] for r in rows], dtype=float)]
    if with_finetunes:
        cols.append(np.array([r["num_finetunes"] for r in rows], dtype=float))
    x, y = np.stack(cols, axis=1), np.array([r["wall_s"] for r in rows])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    r2 = 1.0 - float(np.sum((y - x @ coef) ** 2)) / max(float(np.sum((y - y.mean()) ** 2)), 1e-30)
    out = {"a_s": float(coef[0]), "b_ms_per_report": 1e3 * float(coef[1]), "r2": r2}
    if with_finetunes:
        out["c_s_per_finetune"] = float(coef[2])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    parser.add_argument("--spacings-m", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.4])
    parser.add_argument("--spacing-users", type=int, default=8, help="users in the report-spacing sweep")
    parser.add_argument("--length-m", type=float, default=1.5)
    parser.add_argument("--interval-m", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "scaling.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cache = Path(os.environ["SIMNET_CACHE"]) if os.environ.get("SIMNET_CACHE") else None
    report: dict[str, Any] = {
        "benchmark": "engine_scaling", "scenario": "scenarios/smoke.yaml (street, learned-transform default)",
        "length_m": args.length_m, "periodic": {"interval_m": args.interval_m, "steps": args.steps},
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": args.threads,
                    "cpu_count": os.cpu_count(), "load_average_start": os.getloadavg()},
    }
    by_users = [r for n in args.users for r in run_world(n, 0.1, args.length_m, args.interval_m, args.steps, cache)]
    by_spacing = [r for s in args.spacings_m
                  for r in run_world(args.spacing_users, s, args.length_m, args.interval_m, args.steps, cache)]
    for rows in (by_users, by_spacing):
        for r in rows:
            base = next(b for b in rows if b["policy"] == r["policy"])  # first world of the sweep: the baseline
            r["ratio_to_first"] = r["wall_s"] / base["wall_s"]
            r["ms_per_report"] = 1e3 * r["wall_s"] / max(r["num_reports"], 1)
    every = by_users + by_spacing
    report.update(
        users=by_users, report_spacing=by_spacing,
        fit={"never": fit([r for r in every if r["policy"] == "never"], False),
             "periodic": fit([r for r in every if r["policy"] != "never"], True)},
    )
    report["machine"]["load_average_end"] = os.getloadavg()
    print(report["fit"])
    print(f"wrote {write_json(args.out, report)}")


if __name__ == "__main__":
    main()
