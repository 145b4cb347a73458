"""Command line: ``simnet run|plot|list|pretrain|evaluate|study`` and ``python run_sim.py SCENARIO``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simnet.errors import SimnetError


class TqdmProgress:
    """tqdm bars for a run: the channels while the world is built, then one bar per variant (none if ``quiet``)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    @contextmanager
    def channels(self) -> Iterator[Callable[[float], None]]:
        from tqdm import tqdm

        with tqdm(total=100, desc="channels", disable=self.quiet, leave=False) as bar:
            yield _updater(bar)

    @contextmanager
    def variants(self, labels: Sequence[str]) -> Iterator[Callable[[str], Callable[[float], None]]]:
        from tqdm import tqdm

        bars = {label: tqdm(total=100, desc=f"{label:<24}", disable=self.quiet, position=i)
                for i, label in enumerate(labels)}
        try:
            yield lambda label: _updater(bars[label])
        finally:
            for bar in bars.values():
                bar.close()


def _updater(bar: Any) -> Callable[[float], None]:
    started = [False]

    def update(fraction: float) -> None:
        if not started[0]:  # variants may wait for a worker: start the clock at their first progress
            started[0] = True
            bar.reset(total=100)
        bar.update(round(100 * fraction) - bar.n)

    return update


SUMMARY_COLUMNS = ["variant", "total_bits_per_dim", "nmse_db", "cosine_sim", "se_bps_hz", "mean_csi_age_ms",
                   "num_model_updates"]


def run(args: argparse.Namespace) -> int:
    """Run a scenario (every policy variant: tables, manifest, report, plots) or an experiment file, and print
    its table; the pipeline is :func:`simnet.pipeline.run_file`.

    The folder's manifest records the run's ``status`` (running -> complete | failed | interrupted, see
    ``simnet.lifecycle``); ``--resume`` continues a run in its folder with the variants it has not finished.
    """
    from simnet.pipeline import default_cache_dir, run_file

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    cache = None if args.no_cache else Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    result = run_file(args.scenario, seed=args.seed, quick=args.quick, overrides=args.set or [],
                      ray_address=args.ray, resume=args.resume, log=log, out=args.out, cache_dir=cache,
                      overwrite=args.overwrite, plots=not args.no_plots, workers=args.workers,
                      progress=TqdmProgress(args.quiet))
    if result.is_experiment:
        print((result.out / "table.md").read_text())
    else:
        print(result.summary[SUMMARY_COLUMNS].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"results: {result.out}  ({result.wall_time_s:.1f} s)")
    return 0


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


def list_parts(args: argparse.Namespace) -> int:
    """Print the registered parts (``simnet list [channels|codecs|policies|experiments]``)."""
    from simnet.catalog import KINDS, listing

    print(listing([args.kind] if args.kind else KINDS), end="")
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
    p_list = sub.add_parser("list", help="every registered channel source, codec, policy and experiment")
    p_list.add_argument("kind", nargs="?", choices=["channels", "codecs", "policies", "experiments"],
                        help="one section only (default: all four)")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("pretrain", "evaluate", "study"):
        return _guard(lambda: _delegate(argv[0], argv[1:]))
    args = parser.parse_args(argv)
    return _guard(lambda: {"run": run, "plot": plot, "list": list_parts}[args.command](args))


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
