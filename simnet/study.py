"""Studies that run a scenario many times: ``simnet study congestion SCENARIO``.

Congestion: the same scenario with N = 1..32 users on one uplink, FIFO against CSI-first. Each (N,
discipline) is a full run in its own sub-folder; ``study.csv`` collects every summary row with ``num_ues``
and ``discipline`` added, and ``congestion.png`` / ``study.md`` are drawn from that file only.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from simnet.errors import ConfigError  # noqa: E402


def run_congestion(scenario_path: str, counts: list[int], disciplines: list[str], out: Path,
                   cache_dir: Path | None, workers: int, seed: int | None = None, quick: bool = False) -> pd.DataFrame:
    """Run the scenario for every user count and discipline; returns the collected summary rows."""
    from simnet.config import load_scenario
    from simnet.engine import build_world
    from simnet.report import rd_cost
    from simnet.results import summarize, write_summary, write_tables
    from simnet.sweep import run_variants

    rows: list[dict[str, Any]] = []
    out.mkdir(parents=True, exist_ok=True)
    for disc in disciplines:
        for n in counts:
            sc = load_scenario(scenario_path, seed=seed, quick=quick,
                               overrides={"ues": {"count": n}, "uplink": {"discipline": disc}})
            t0 = time.perf_counter()
            world = build_world(sc, cache_dir=cache_dir)
            sub = out / f"{disc}_n{n}"
            sub.mkdir(exist_ok=True)
            num_dims = 2 * sc.system.num_bs_ant * sc.system.num_subcarriers
            part = []
            for spec, rec in run_variants(world, sc.policies, workers):
                part.append(summarize(spec.label, spec.type, spec.kw(), rec, num_dims))
                write_tables(sub, spec.label, spec.type, rec)
            write_summary(sub, part)
            for r in part:
                rows.append({"discipline": disc, "num_ues": n, **r})
            print(f"{disc:9s} N={n:3d}: {time.perf_counter() - t0:6.1f} s")
    df = pd.DataFrame(rows)
    lmbda = float(getattr(world.codec, "checkpoint_meta", {}).get("lmbda", 1.0))
    df["rd_cost_at_use"] = rd_cost(df, lmbda, "nmse_db")
    df.to_csv(out / "study.csv", index=False, float_format="%.6g")
    plot_congestion(out)
    return df


def plot_congestion(out: Path) -> None:
    """``congestion.png`` and ``study.md`` from ``study.csv``."""
    df = pd.read_csv(out / "study.csv")
    metrics = [("mean_csi_age_ms", "mean CSI age at use [ms]"), ("nmse_db", "NMSE at time of use [dB]"),
               ("se_zf_bps_hz", "ZF spectral efficiency per UE [bit/s/Hz]"),
               ("uplink_utilisation", "uplink utilisation")]
    fig, axes = plt.subplots(1, len(metrics), figsize=(18, 4))
    for (disc, variant), grp in df.groupby(["discipline", "variant"], sort=False):
        grp = grp.sort_values("num_ues")
        style = "-" if disc == "fifo" else "--"
        for ax, (col, _) in zip(axes, metrics):
            ax.plot(grp.num_ues, grp[col], style, marker="o", label=f"{variant} ({disc})")
    for ax, (_, label) in zip(axes, metrics):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("users sharing the uplink")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "congestion.png", dpi=120)
    plt.close(fig)
    lines = ["# Congestion study", "", "Best update interval (lowest RD cost at time of use) per user count:", "",
             "| discipline | users | best variant | NMSE at use [dB] | CSI age [ms] | utilisation |",
             "|---|---|---|---|---|---|"]
    for (disc, n), grp in df.groupby(["discipline", "num_ues"]):
        b = grp.loc[grp.rd_cost_at_use.idxmin()]
        lines.append(f"| {disc} | {n} | {b.variant} | {b.nmse_db:.2f} | {b.mean_csi_age_ms:.1f} | "
                     f"{b.uplink_utilisation:.2f} |")
    (out / "study.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    from simnet.cli import default_cache_dir

    ap = argparse.ArgumentParser(prog="simnet study", description="Run a multi-run study.")
    ap.add_argument("kind", choices=["congestion"])
    ap.add_argument("scenario")
    ap.add_argument("--counts", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    ap.add_argument("--disciplines", nargs="+", default=["fifo", "csi-first"])
    ap.add_argument("--out", default=None)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache-dir")
    args = ap.parse_args(argv)
    if any(n < 1 for n in args.counts):
        raise ConfigError(f"--counts: user counts must be >= 1, got {args.counts}")
    bad = [d for d in args.disciplines if d not in ("fifo", "csi-first")]
    if bad:
        raise ConfigError(f"--disciplines: unknown {bad}; allowed: fifo, csi-first")
    out = Path(args.out or f"results/congestion-{time.strftime('%Y%m%d-%H%M%S')}")
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    df = run_congestion(args.scenario, args.counts, args.disciplines, out, cache, args.workers, args.seed, args.quick)
    cols = ["discipline", "num_ues", "variant", "mean_csi_age_ms", "nmse_db", "se_zf_bps_hz", "uplink_utilisation"]
    print(df[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"results: {out}")
    return 0 if np.isfinite(df.nmse_db).all() else 1
