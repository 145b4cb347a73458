"""Runs an experiment file into a run folder: table.csv, table.md, figure.png, manifest.json.

Same rules as simulation runs (``simnet.cli.run``): the file is validated before any folder exists, a
folder holding a run (or its files) is not written into without ``--overwrite``, the manifest's ``status``
ends complete, failed or interrupted (``simnet.lifecycle``), every file is written atomically, and
``table.md`` and ``figure.png`` are drawn from ``table.csv`` alone (``simnet plot RUN_DIR`` redraws them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from simnet.errors import ConfigError, DataError
from simnet.experiments.base import EXPERIMENTS, RunContext, load_experiment

EXPERIMENT_FILES = ("table.csv", "table.md", "figure.png")


def run(args: argparse.Namespace, cache_dir: Path | None) -> int:
    """``run_sim.py EXPERIMENT.yaml``: validate, run in one torch thread, write the run folder."""
    from simnet.analysis.results import package_versions, prepare_run_dir, write_manifest
    from simnet.config import parse_overrides
    from simnet.files import atomic_write
    from simnet.lifecycle import tracked_run
    from simnet.sim.sweep import one_thread

    if getattr(args, "ray", None):
        raise ConfigError(f"{args.scenario}: --ray runs the policy variants of a simulation; an experiment file "
                          "runs in this process (drop --ray)")
    if getattr(args, "resume", False):
        raise ConfigError(f"{args.scenario}: --resume continues a simulation run; an experiment file runs as one "
                          "piece (rerun it with --overwrite)")
    t0 = time.perf_counter()
    spec = load_experiment(args.scenario, seed=args.seed, quick=args.quick, overrides=parse_overrides(args.set or []))
    out = prepare_run_dir(args.out, spec.name, spec.output.dir, args.overwrite, EXPERIMENT_FILES)
    manifest: dict[str, Any] = {
        "kind": "experiment", "experiment": {"type": spec.type, "kwargs": spec.kwargs},
        "scenario_file": str(args.scenario), "name": spec.name, "seed": spec.seed, "quick": bool(args.quick),
        "overrides": args.set or [], "versions": package_versions(),
        "cache_dir": str(cache_dir) if cache_dir else None,
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    with tracked_run(out, manifest, resumable=False):
        with one_thread():
            table = spec.experiment.run(RunContext(seed=spec.seed, cache_dir=cache_dir, log=log))
        atomic_write(out / "table.csv", lambda p: table.to_csv(p, index=False, float_format="%.6g"))
        files = draw(out, spec.experiment, plots=spec.output.plots and not args.no_plots)
        manifest.update(status="complete", wall_time_s=round(time.perf_counter() - t0, 3), files=files)
        write_manifest(out, manifest)
    print((out / "table.md").read_text())
    print(f"results: {out}  ({manifest['wall_time_s']:.1f} s)")
    return 0


def draw(out: Path, experiment: Any, plots: bool = True) -> list[str]:
    """Write ``table.md`` (and ``figure.png``) of a run folder from its ``table.csv``; returns the file names."""
    from simnet.files import atomic_write

    table = pd.read_csv(out / "table.csv", keep_default_na=False, na_values=["", "nan", "NaN"])
    text = "\n".join([f"# {experiment.title}", "", *experiment.markdown(table), ""])
    atomic_write(out / "table.md", lambda p: p.write_text(text))
    files = ["table.csv", "table.md"]
    if plots:
        atomic_write(out / "figure.png", lambda p: experiment.plot(table, p))
        files.append("figure.png")
    return files


def redraw(run_dir: str | Path) -> list[Path]:
    """Redraw ``table.md`` and ``figure.png`` of an experiment run folder from its files."""
    run = Path(run_dir)
    try:
        manifest = json.loads((run / "manifest.json").read_text())
        block = manifest["experiment"]
    except (OSError, ValueError, KeyError):
        raise DataError(f"{run}: not a complete experiment run folder (manifest.json without 'experiment')") from None
    experiment = EXPERIMENTS.get(block["type"])(**block["kwargs"])
    return [run / name for name in draw(run, experiment)]
