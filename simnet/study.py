"""Studies that run a scenario many times: ``simnet study congestion SCENARIO``.

Congestion: the same scenario with N = 1..64 users on one uplink, FIFO against CSI-first. Each (N,
discipline) is a full run in its own sub-folder; ``study.csv`` collects every summary row with ``num_ues``
and ``discipline`` added. From that file (and the sub-folders' slot tables for the per-UE spread) come
``optima.csv`` (the optimal update interval per criterion, discipline and N), ``study.md`` and the figure
``congestion.png``; ``simnet study congestion --replot DIR`` redraws them.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simnet.analysis.congestion import plot_congestion
from simnet.errors import ConfigError, DataError
from simnet.recording import learning_interval_m, record_variants, summarize_variant


def run_congestion(scenario_path: str, counts: list[int], disciplines: list[str], out: Path,
                   cache_dir: Path | None, workers: int, seed: int | None = None, quick: bool = False) -> pd.DataFrame:
    """Run the scenario for every user count and discipline; returns the collected summary rows.

    Per user count the world (tracks, channels, codec) is built once and shared by the disciplines. A policy
    that sends no update packets (``delivery != "uplink"``, e.g. ``never``) queues only CSI reports, which
    every discipline serves in arrival order: it runs under the first discipline and its rows and tables are
    reused for the others. Every variant of every (user count, discipline) runs in one pool of ``workers``
    processes, the costliest first (users x (1 + track length / fine-tuning interval)), so the workers stay
    busy to the end; the results do not depend on the order (each variant has its own generators).
    """
    from simnet.analysis.report import rd_cost
    from simnet.sim import sweep

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    worlds: dict[tuple[int, str], Any] = {}
    jobs: list[tuple[int, str, Any]] = []  # (user count, discipline, spec) of every variant that runs
    for n in counts:
        for disc, world in _worlds(scenario_path, n, disciplines, cache_dir, seed, quick).items():
            worlds[(n, disc)] = world
            jobs += [(n, disc, spec) for spec in world.scenario.policies
                     if disc == disciplines[0] or _sends_updates(spec)]
        print(f"N={n:3d}: world ready ({time.perf_counter() - t0:6.1f} s)", flush=True)
    order = sorted(range(len(jobs)), key=lambda j: -_cost(worlds[jobs[j][:2]], jobs[j][0], jobs[j][2]))
    results: dict[tuple[int, str, str], tuple[dict[str, Any], dict[str, Any]]] = {}
    written: dict[tuple[int, str], list[dict[str, Any]]] = {}  # summary rows of each sub-folder written
    ran = {(n, disc, spec.label) for n, disc, spec in jobs}
    runs = sweep.run_variants([worlds[jobs[j][:2]] for j in order], tuple(jobs[j][2] for j in order), workers)
    for j, (spec, rec) in zip(order, runs, strict=True):
        n, disc, _ = jobs[j]
        results[(n, disc, spec.label)] = summarize_variant(worlds[(n, disc)], spec, rec)
        print(f"N={n:3d} {disc:9s} {spec.label}: done ({time.perf_counter() - t0:6.1f} s)", flush=True)
        # write a sub-folder once its variants are in, and let the records of a finished N go (memory)
        for d in disciplines:
            # a variant that ran under this discipline, or the first discipline's (no update packets)
            keys = {x.label: (n, d, x.label) if (n, d, x.label) in ran else (n, disciplines[0], x.label)
                    for x in worlds[(n, d)].scenario.policies}
            if (n, d) not in written and all(k in results for k in keys.values()):
                written[(n, d)] = _write_run(out, n, d, worlds[(n, d)], {x: results[k] for x, k in keys.items()})
        if all((n, d) in written for d in disciplines):
            results = {k: v for k, v in results.items() if k[0] != n}
    rows = [row for n in counts for disc in disciplines for row in written[(n, disc)]]
    df = pd.DataFrame(rows)
    df["rd_cost_at_use"] = rd_cost(df, worlds[(counts[0], disciplines[0])].codec_info["lmbda"], "nmse_db")
    df.to_csv(out / "study.csv", index=False, float_format="%.6g")
    plot_congestion(out)
    return df


def _worlds(scenario_path: str, n: int, disciplines: list[str], cache_dir: Path | None, seed: int | None,
            quick: bool) -> dict[str, Any]:
    """The world of ``n`` users under each discipline: built once, the disciplines differ in the scenario only."""
    from simnet.config import load_scenario
    from simnet.sim.world import build_world

    worlds: dict[str, Any] = {}
    world = None
    for disc in disciplines:
        sc = load_scenario(scenario_path, seed=seed, quick=quick,
                           overrides={"ues": {"count": n}, "uplink": {"discipline": disc}})
        world = build_world(sc, cache_dir=cache_dir) if world is None else dataclasses.replace(world, scenario=sc)
        worlds[disc] = world
    return worlds


def _sends_updates(spec: Any) -> bool:
    from policies import POLICIES

    return getattr(POLICIES.get(spec.type), "delivery", "uplink") == "uplink"


def _cost(world: Any, n: int, spec: Any) -> float:
    """Relative cost of a variant: its users' reports, plus a fine-tune per interval travelled (about as costly
    as a user's whole track of reports here)."""
    interval = learning_interval_m(spec)
    length = float(np.mean([s.s_m[-1] for s in world.samples]))
    return n * (1.0 + (length / interval if np.isfinite(interval) and interval > 0 else 0.0))


def _write_run(out: Path, n: int, disc: str, world: Any,
               reuse: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    """Write one (user count, discipline) run's sub-folder from ``(summary row, record)`` per variant label; its
    summary rows, labelled."""
    from simnet.analysis.results import SIMULATION_FILES, prepare_run_dir

    # a sub-folder holds one run's tables: clear those of an earlier study (write_tables appends)
    sub = prepare_run_dir(str(out / f"{disc}_n{n}"), "", "", True, SIMULATION_FILES)
    specs = world.scenario.policies
    part: list[dict[str, Any]] = []
    record_variants(world, sub, specs, reuse=reuse, on_variant=lambda spec, row, rec, tables: part.append(row))
    return [{"discipline": disc, "num_ues": n, **r} for r in part]


def main(argv: list[str] | None = None) -> int:
    from simnet.pipeline import default_cache_dir

    ap = argparse.ArgumentParser(prog="simnet study", description="Run a multi-run study.")
    ap.add_argument("kind", choices=["congestion", "codec-families"])
    ap.add_argument("scenario", nargs="?", help="scenario YAML (not with --replot)")
    ap.add_argument("--counts", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    ap.add_argument("--disciplines", nargs="+", default=["fifo", "csi-first"])
    ap.add_argument("--checkpoints", nargs="+", default=list(FAMILY_CHECKPOINTS),
                    help="codec-families: one checkpoint per codec family (same lambda)")
    ap.add_argument("--presets", nargs="+", default=["quadriga_track", "o2_dynamic_like"],
                    help="codec-families: channel presets the scenario runs on")
    ap.add_argument("--out", default=None)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache-dir")
    ap.add_argument("--replot", metavar="STUDY_DIR", help="only redraw the figure and tables of a study folder")
    args = ap.parse_args(argv)
    if args.replot:
        print(replot(args.kind, Path(args.replot)))
        return 0
    if args.scenario is None:
        raise ConfigError("give a scenario file (or --replot STUDY_DIR)")
    if args.kind == "codec-families":
        return _codec_families(args)
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


STUDY_COLUMNS = {"congestion": "discipline", "codec-families": "codec"}
"""A column only each kind's ``study.csv`` has (tells a congestion folder from a codec-family one)."""


def replot(kind: str, folder: Path) -> Path:
    """Redraw a study folder's figure (and, for congestion, its tables) from its ``study.csv``; the figure's path.

    Raises:
        DataError: no ``study.csv`` there, or one of the other kind of study.
    """
    study = folder / "study.csv"
    if not study.is_file():
        raise DataError(f"{folder}: no study.csv (give the folder that 'simnet study {kind}' wrote)")
    columns = pd.read_csv(study, nrows=0).columns
    if STUDY_COLUMNS[kind] not in columns:
        other = next((k for k, c in STUDY_COLUMNS.items() if c in columns), None)
        hint = f"it is a {other} study: run 'simnet study {other} --replot {folder}'" if other else "not a study.csv"
        raise DataError(f"{study}: not a {kind} study ({hint})")
    if kind == "codec-families":
        from simnet.codec_families import plot_families

        return plot_families(pd.read_csv(study), folder / "families.png")
    plot_congestion(folder)
    return folder / "congestion.png"


FAMILY_CHECKPOINTS = ("learned-transform_lambda1", "rd-crnet_lambda1")
"""The shipped codec families at lambda 1 (the default study's rate point)."""


def _codec_families(args: argparse.Namespace) -> int:
    from simnet.codec_families import run_codec_families
    from simnet.pipeline import default_cache_dir

    out = Path(args.out or f"results/codec-families-{time.strftime('%Y%m%d-%H%M%S')}")
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    table = run_codec_families(args.scenario, args.checkpoints, args.presets, out, cache, args.workers,
                               args.seed, args.quick)  # fmt: skip
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"results: {out}")
    return 0
