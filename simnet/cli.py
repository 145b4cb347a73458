"""Command line: ``simnet run|plot|pretrain|evaluate`` and ``python run_sim.py SCENARIO``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simnet.errors import SimnetError


def default_cache_dir() -> Path:
    """``$SIMNET_CACHE`` or ``~/.cache/simnet``: where generated channels are kept between runs."""
    return Path(os.environ.get("SIMNET_CACHE", Path.home() / ".cache" / "simnet"))


def _updater(bar: Any) -> Any:
    started = [False]

    def update(fraction: float) -> None:
        if not started[0]:  # variants may wait for a worker: start the clock at their first progress
            started[0] = True
            bar.reset(total=100)
        bar.update(round(100 * fraction) - bar.n)

    return update


def run(args: argparse.Namespace) -> int:
    """Load a scenario, run every policy variant, write tables, manifest and plots (or run an experiment file).

    The folder's manifest records the run's ``status`` (running -> complete | failed | interrupted, see
    ``simnet.lifecycle``); ``--resume`` continues a run in its folder with the variants it has not finished.
    """
    from simnet.analysis.results import (
        RUN_FIGURES,
        RUN_FILES,
        check_run_dir,
        package_versions,
        prepare_run_dir,
        run_dir_path,
        write_manifest,
    )
    from simnet.config import is_experiment_file, load_scenario, note_cost, parse_overrides, to_dict
    from simnet.lifecycle import resume_state, tracked_run
    from simnet.sim.world import build_world

    cache = None if args.no_cache else Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    if is_experiment_file(args.scenario):  # an offline experiment (scenarios/paper/fig2_backbone_rd.yaml, ...)
        from simnet.experiments.runner import run as run_experiment

        return run_experiment(args, cache)
    t0 = time.perf_counter()
    scenario = load_scenario(args.scenario, seed=args.seed, quick=args.quick,
                             overrides=parse_overrides(args.set or []))
    note_cost(scenario)  # one line on stderr before a large run (runs that cannot fit were refused above)
    resume = bool(getattr(args, "resume", False))
    if resume and args.overwrite:
        raise SimnetError("--resume continues the run in --out, --overwrite replaces it: give one of them")
    if resume and not args.out:
        raise SimnetError("--resume needs the folder of the run to finish: --out DIR --resume")
    out = run_dir_path(args.out, scenario.name, scenario.output.dir)
    check_run_dir(out, args.overwrite, RUN_FILES + RUN_FIGURES, resume)  # before the world, which can take long
    finished: dict[str, Any] = {}
    resumed: list[Any] = []
    if resume and (out / "manifest.json").exists():
        old, finished = resume_state(out, to_dict(scenario), [s.label for s in scenario.policies])
        resumed = [*old.get("resumed", []), {k: old.get(k) for k in ("status", "started_utc", "error")}]
        for name in ("report.md", *RUN_FIGURES):  # drawn from the tables again at the end
            (out / name).unlink(missing_ok=True)
    elif resume and any((out / name).exists() for name in RUN_FILES):
        raise SimnetError(f"--resume: {out} holds simnet tables but no manifest.json, so they cannot be checked; "
                          "pass --overwrite to start over")
    from tqdm import tqdm

    with tqdm(total=100, desc="channels", disable=args.quiet, leave=False) as bar:  # its errors leave no folder
        world = build_world(scenario, cache_dir=cache, progress=_updater(bar))
    prepare_run_dir(str(out), scenario.name, scenario.output.dir, args.overwrite, RUN_FILES + RUN_FIGURES, resume)
    manifest: dict[str, Any] = {
        "scenario": to_dict(scenario), "scenario_file": str(args.scenario),
        "seed": scenario.seed, "quick": bool(args.quick), "overrides": args.set or [],
        "workers": args.workers or min(os.cpu_count() or 1, len(scenario.policies)), "versions": package_versions(),
        "cache_dir": str(cache) if cache else None, "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "channel": world.channel_info, "codec": world.codec_info, "finished_variants": finished,
        **({"resumed": resumed} if resumed else {}),
    }
    lmbda, labels = world.codec_info["lmbda"], [s.label for s in scenario.policies]
    with tracked_run(out, manifest, on_abort=lambda status: _partial_report(out, labels, lmbda, status)):
        summary = _run_variants(args, world, out, manifest)
        figures: list[str] = []
        if scenario.output.plots and not args.no_plots:
            from simnet.analysis.plots import plot_run

            figures = [p.name for p in plot_run(out)]
        manifest.update(status="complete", wall_time_s=round(time.perf_counter() - t0, 3), figures=figures)
        write_manifest(out, manifest)
    cols = ["variant", "total_bits_per_dim", "nmse_db", "cosine_sim", "se_bps_hz", "mean_csi_age_ms",
            "num_model_updates"]
    print(summary[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"results: {out}  ({manifest['wall_time_s']:.1f} s)")
    return 0


def _run_variants(args: argparse.Namespace, world: Any, out: Path, manifest: dict[str, Any]) -> Any:
    """Run the variants not yet finished, write their tables, the summary and the report; returns the summary."""
    from contextlib import closing

    import pandas as pd
    from tqdm import tqdm

    from simnet.analysis.report import write_report
    from simnet.analysis.results import summarize, write_manifest, write_summary, write_tables
    from simnet.sim.sweep import run_variants

    scenario = world.scenario
    num_dims = 2 * scenario.system.num_bs_ant * scenario.system.num_subcarriers
    finished = manifest["finished_variants"]
    labels = [s.label for s in scenario.policies]
    rows = {}
    if finished:
        kept = pd.read_csv(out / "summary.csv")
        rows = {r["variant"]: r for r in kept.to_dict("records")}
    todo = tuple(s for s in scenario.policies if s.label not in finished)
    bars = {s.label: tqdm(total=100, desc=f"{s.label:<24}", disable=args.quiet, position=i)
            for i, s in enumerate(todo)}
    try:
        with closing(run_variants(world, todo, manifest["workers"], lambda s: _updater(bars[s.label]),
                                  ray_address=args.ray)) as results:
            for spec, rec in results:
                rows[spec.label] = summarize(spec.label, spec.type, spec.kw(), rec, num_dims)
                finished[spec.label] = write_tables(out, spec.label, spec.type, rec)
                write_summary(out, [rows[label] for label in labels if label in rows])
                write_manifest(out, manifest)
    finally:
        for bar in bars.values():
            bar.close()
    summary = write_summary(out, [rows[label] for label in labels])
    write_report(out, world.codec_info["lmbda"])
    return summary


def _partial_report(out: Path, labels: list[str], lmbda: float, status: str) -> None:
    """``report.md`` of the variants a failed or interrupted run finished (none if it finished none)."""
    from simnet.analysis.report import write_report
    from simnet.analysis.results import read_manifest

    recorded = (read_manifest(out) or {}).get("finished_variants", {})
    finished = [label for label in labels if label in recorded]
    if not finished or not (out / "summary.csv").is_file():
        return
    write_report(out, lmbda, note=f"**{status.capitalize()} run:** {len(finished)} of {len(labels)} variants "
                 f"finished ({', '.join(finished)}); `--out {out} --resume` runs the rest.")


def plot(args: argparse.Namespace) -> int:
    """Redraw a run folder's figures; a run that is not complete is drawn as far as it got, with one warning."""
    from simnet.analysis.plots import plot_run
    from simnet.analysis.results import read_manifest
    from simnet.errors import DataError
    from simnet.lifecycle import describe_unfinished

    run_dir = Path(args.run_dir)
    if (run_dir / "table.csv").is_file():  # an experiment run folder
        from simnet.experiments.runner import redraw

        paths = redraw(args.run_dir)
    else:
        unfinished = describe_unfinished(read_manifest(run_dir) or {})
        if unfinished and not (run_dir / "summary.csv").is_file():
            raise DataError(f"{run_dir}: this run {unfinished}, before any variant finished; nothing to draw")
        if unfinished:
            print(f"warning: {run_dir}: this run {unfinished}; drawing the variants it finished", file=sys.stderr)
        paths = plot_run(args.run_dir)
    for p in paths:
        print(p)
    return 0


def _add_run_args(p: argparse.ArgumentParser) -> None:
    from simnet.config.file import positive_int_arg, seed_arg

    p.add_argument("scenario", help="scenario or experiment YAML file, e.g. scenarios/o2_dynamic.yaml, "
                   "scenarios/paper/fig8_update_prior.yaml")
    p.add_argument("--out", help="run folder to write (default: <output.dir>/<name>-<UTC time>)")
    p.add_argument("--seed", type=seed_arg, help="override the scenario's seed")
    p.add_argument("--quick", action="store_true", help="apply the scenario's quick: block (a short run)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a scenario value, e.g. --set ues.count=8 (repeatable)")
    p.add_argument("--cache-dir", help="channel cache folder (default: $SIMNET_CACHE or ~/.cache/simnet)")
    p.add_argument("--no-cache", action="store_true", help="compute channels without the on-disk cache")
    p.add_argument("--no-plots", action="store_true", help="skip drawing figures")
    p.add_argument("--overwrite", action="store_true", help="replace the run (or run files) in the --out folder")
    p.add_argument("--resume", action="store_true", help="finish the interrupted or failed run in --out DIR: keep "
                   "its finished variants, run the rest (same scenario, seed and --set required)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--workers", type=positive_int_arg, help="processes for the policy variants (default: CPU count; "
                   "experiment files always run in one process)")
    p.add_argument("--ray", metavar="ADDRESS", help="run the variants on a Ray cluster ('local' starts one here; "
                   "needs the 'cluster' extra)")


def run_sim_main(argv: list[str] | None = None) -> int:
    """Entry of ``python run_sim.py SCENARIO [--out DIR] [--seed N] [--quick]``."""
    parser = argparse.ArgumentParser(prog="run_sim.py", description="Run a simnet scenario.")
    _add_run_args(parser)
    return _guard(lambda: run(parser.parse_args(argv)))


def main(argv: list[str] | None = None) -> int:
    """Entry of the ``simnet`` console script."""
    parser = argparse.ArgumentParser(prog="simnet", description="Neural CSI feedback simulator.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run_args(sub.add_parser("run", help="run a scenario"))
    p_plot = sub.add_parser("plot", help="redraw the figures of a run folder")
    p_plot.add_argument("run_dir")
    sub.add_parser("pretrain", help="train the backbone codec on the source environment", add_help=False)
    sub.add_parser("evaluate", help="rate and NMSE of a checkpoint on a channel preset", add_help=False)
    sub.add_parser("study", help="multi-run studies (congestion: N users, FIFO vs CSI-first)", add_help=False)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("pretrain", "evaluate", "study"):
        return _guard(lambda: _delegate(argv[0], argv[1:]))
    args = parser.parse_args(argv)
    return _guard(lambda: {"run": run, "plot": plot}[args.command](args))


_SUBCOMMAND_MODULES = {"pretrain": "simnet.learning.pretrain", "evaluate": "simnet.analysis.evaluate",
                       "study": "simnet.study"}


def _delegate(command: str, argv: list[str]) -> int:
    import importlib

    module = importlib.import_module(_SUBCOMMAND_MODULES[command])
    return int(module.main(argv) or 0)


def _guard(fn: Any) -> int:
    try:
        return int(fn())
    except SimnetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        from simnet.lifecycle import RunInterrupted

        if isinstance(err, RunInterrupted):
            print(str(err), file=sys.stderr)
            return err.exit_code
        print("interrupted; results written so far are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
