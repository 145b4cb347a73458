"""The run pipeline: a scenario (or experiment file) in, a complete run folder and a :class:`RunResult` out.

    file --read_mapping (once)--+-- experiment: key --> ExperimentSpec --run_experiment--> table.csv, table.md,
                                |                                                          figure.png, manifest
                                '-- otherwise --------> Scenario --run_scenario-->
        check --out (before the world, which can take long) --> build_world --> prepare_run_dir
        --> manifest {status: running} --> recording.record_variants --> summary.csv, tables, report.md
        --> figures --> manifest {status: complete}

The command line (``simnet.cli``), the congestion study and the tests all run through here; the lifecycle of a
run folder (status, ``--resume``, interrupts) is :mod:`simnet.lifecycle`'s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from simnet.analysis.run_folder import RunResult, read_run
from simnet.config import Scenario, parse_overrides, read_mapping
from simnet.errors import ConfigError, SimnetError
from simnet.experiments.base import ExperimentSpec
from simnet.recording import RunProgress, partial_report, record_variants

__all__ = ["RunResult", "default_cache_dir", "load_run_file", "read_run", "run_experiment", "run_file", "run_scenario"]


def default_cache_dir() -> Path:
    """``$SIMNET_CACHE`` or ``~/.cache/simnet``: where generated channels are kept between runs."""
    return Path(os.environ.get("SIMNET_CACHE", Path.home() / ".cache" / "simnet"))


def load_run_file(path: str | Path, *, seed: int | None = None, quick: bool = False,
                  overrides: Sequence[str] = ()) -> Scenario | ExperimentSpec:
    """Read a scenario or experiment file once and validate it as what it is (a top-level ``experiment:`` key).

    Args:
        path: the YAML file.
        seed: overrides the file's ``seed``.
        quick: merge the file's ``quick:`` block over it.
        overrides: ``--set KEY=VALUE`` items, merged last.

    Raises:
        ConfigError: one line naming the file, key path, value and what is allowed.
    """
    return _from_mapping(read_mapping(path), path, seed, quick, overrides)


def _from_mapping(mapping: Mapping[str, Any], path: str | Path, seed: int | None, quick: bool,
                  overrides: Sequence[str]) -> Scenario | ExperimentSpec:
    from simnet.config.scenario import scenario_from_mapping
    from simnet.experiments.base import experiment_from_mapping

    parse = experiment_from_mapping if "experiment" in mapping else scenario_from_mapping
    return parse(mapping, path, seed=seed, quick=quick, overrides=parse_overrides(list(overrides)))


def run_file(path: str | Path, *, out: str | Path | None = None, cache_dir: Path | None = None,
             workers: int | None = 1, overwrite: bool = False, resume: bool = False, plots: bool = True,
             progress: RunProgress | None = None, ray_address: str | None = None, seed: int | None = None,
             quick: bool = False, overrides: Sequence[str] = (), log: Callable[[str], None] | None = None) -> RunResult:
    """``run_sim.py PATH``: read the file once, then :func:`run_scenario` or :func:`run_experiment`.

    Keywords as in :func:`run_scenario`; an experiment file takes no ``workers`` or ``progress`` (it runs in
    this process) and refuses ``ray_address`` and ``resume``; ``log`` gets its progress lines.
    """
    t0 = time.perf_counter()
    try:
        mapping = read_mapping(path)
    except ConfigError:
        parse_overrides(list(overrides))  # a bad --set is reported before a bad file, as it always was
        raise
    if "experiment" in mapping:  # an offline experiment (scenarios/paper/fig2_backbone_rd.yaml, ...)
        if ray_address:
            raise ConfigError(f"{path}: --ray runs the policy variants of a simulation; an experiment file "
                              "runs in this process (drop --ray)")
        if resume:
            raise ConfigError(f"{path}: --resume continues a simulation run; an experiment file runs as one "
                              "piece (rerun it with --overwrite)")
    loaded = _from_mapping(mapping, path, seed, quick, overrides)
    if isinstance(loaded, ExperimentSpec):
        return run_experiment(loaded, out=out, cache_dir=cache_dir, overwrite=overwrite, plots=plots, log=log,
                              quick=quick, overrides=overrides, started=t0)
    return run_scenario(loaded, out=out, cache_dir=cache_dir, workers=workers, overwrite=overwrite, resume=resume,
                        plots=plots, progress=progress, ray_address=ray_address, quick=quick, overrides=overrides,
                        started=t0)


def run_scenario(scenario: Scenario | str | Path, *, out: str | Path | None = None, cache_dir: Path | None = None,
                 workers: int | None = 1, overwrite: bool = False, resume: bool = False, plots: bool = True,
                 progress: RunProgress | None = None, ray_address: str | None = None, seed: int | None = None,
                 quick: bool = False, overrides: Sequence[str] = (), started: float | None = None) -> RunResult:
    """Run every policy variant of a scenario into a run folder: tables, ``summary.csv``, report, manifest, plots.

    Args:
        scenario: a loaded scenario, or the path of its file (then read with ``seed``, ``quick``, ``overrides``).
        out: the run folder (default ``<output.dir>/<name>-<UTC time>``); one holding a run is refused unless
            ``overwrite`` (start over) or ``resume`` (finish its unfinished variants).
        cache_dir: channel cache folder; None computes the channels without a cache.
        workers: processes for the variants; None: one per CPU, at most one per variant.
        plots: draw the figures (when the scenario's ``output.plots`` asks for them too).
        progress: progress bars, or None for none.
        ray_address: run the variants on a Ray cluster instead (``"local"`` starts one here).
        quick, overrides: what the file was read with (``--quick``, ``--set`` items), recorded in the manifest.
        started: ``time.perf_counter()`` at the start of the run, if it started before this call.

    Raises:
        SimnetError: bad input or folder, one line; ``lifecycle.RunFailed`` for an unexpected error (traceback
            in the manifest); ``lifecycle.RunInterrupted`` on SIGINT, SIGTERM or SIGHUP.
    """
    from simnet.analysis.results import (
        RUN_FIGURES,
        RUN_FILES,
        check_run_dir,
        machine_info,
        package_versions,
        prepare_run_dir,
        run_dir_path,
        write_manifest,
    )
    from simnet.config import note_cost, to_dict
    from simnet.lifecycle import resume_state, tracked_run
    from simnet.sim.world import build_world

    t0 = time.perf_counter() if started is None else started
    if not isinstance(scenario, Scenario):
        loaded = load_run_file(scenario, seed=seed, quick=quick, overrides=overrides)
        if not isinstance(loaded, Scenario):
            raise ConfigError(f"{scenario}: is an experiment file; run it with run_experiment")
        scenario = loaded
    note_cost(scenario)  # one line on stderr before a large run (runs that cannot fit were refused at load)
    if resume and overwrite:
        raise SimnetError("--resume continues the run in --out, --overwrite replaces it: give one of them")
    if resume and not out:
        raise SimnetError("--resume needs the folder of the run to finish: --out DIR --resume")
    out_arg = None if out is None else str(out)
    folder = run_dir_path(out_arg, scenario.name, scenario.output.dir)
    check_run_dir(folder, overwrite, RUN_FILES + RUN_FIGURES, resume)  # before the world, which can take long
    labels = [s.label for s in scenario.policies]
    finished: dict[str, Any] = {}
    resumed: list[Any] = []
    if resume and (folder / "manifest.json").exists():
        old, finished = resume_state(folder, to_dict(scenario), labels)
        resumed = [*old.get("resumed", []), {k: old.get(k) for k in ("status", "started_utc", "error")}]
        for name in ("report.md", *RUN_FIGURES):  # drawn from the tables again at the end
            (folder / name).unlink(missing_ok=True)
    elif resume and any((folder / name).exists() for name in RUN_FILES):
        raise SimnetError(f"--resume: {folder} holds simnet tables but no manifest.json, so they cannot be checked; "
                          "pass --overwrite to start over")
    with progress.channels() if progress is not None else nullcontext(None) as channel_progress:
        world = build_world(scenario, cache_dir=cache_dir, progress=channel_progress)  # its errors leave no folder
    prepare_run_dir(str(folder), scenario.name, scenario.output.dir, overwrite, RUN_FILES + RUN_FIGURES, resume)
    manifest: dict[str, Any] = {
        "scenario": to_dict(scenario), "scenario_file": scenario.path,
        "seed": scenario.seed, "quick": bool(quick), "overrides": list(overrides),
        "workers": workers or min(os.cpu_count() or 1, len(scenario.policies)), "versions": package_versions(),
        "machine": machine_info(),
        "cache_dir": str(cache_dir) if cache_dir else None,
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "channel": world.channel_info, "codec": world.codec_info, "finished_variants": finished,
        **({"resumed": resumed} if resumed else {}),
    }
    lmbda = world.codec_info["lmbda"]

    def note_finished(spec: Any, row: Any, rec: Any, tables: dict[str, int]) -> None:
        finished[spec.label] = tables
        write_manifest(folder, manifest)

    with tracked_run(folder, manifest, on_abort=lambda status: partial_report(folder, labels, lmbda, status)):
        summary = record_variants(world, folder, scenario.policies, workers=manifest["workers"], progress=progress,
                                  ray_address=ray_address, recorded=_kept_rows(folder) if finished else None,
                                  on_variant=note_finished)
        from simnet.analysis.report import write_report

        write_report(folder, lmbda)
        figures: list[str] = []
        if scenario.output.plots and plots:
            from simnet.analysis.plots import plot_run

            figures = [p.name for p in plot_run(folder)]
        manifest.update(status="complete", wall_time_s=round(time.perf_counter() - t0, 3), figures=figures)
        write_manifest(folder, manifest)
    return RunResult(out=folder, summary=summary, manifest=manifest, wall_time_s=manifest["wall_time_s"],
                     figures=tuple(figures))


def _kept_rows(folder: Path) -> dict[str, dict[str, Any]]:
    """The summary rows a resumed run keeps (``lifecycle.resume_state`` left only the finished ones)."""
    kept = pd.read_csv(folder / "summary.csv")
    return {r["variant"]: r for r in kept.to_dict("records")}


def run_experiment(spec: ExperimentSpec | str | Path, *, out: str | Path | None = None,
                   cache_dir: Path | None = None, overwrite: bool = False, plots: bool = True,
                   log: Callable[[str], None] | None = None, seed: int | None = None, quick: bool = False,
                   overrides: Sequence[str] = (), started: float | None = None) -> RunResult:
    """Run an experiment file into a run folder: ``table.csv``, ``table.md``, ``figure.png``, ``manifest.json``.

    Same rules as :func:`run_scenario`: validated before any folder exists, a folder holding a run is not
    written into without ``overwrite``, the manifest's status ends complete, failed or interrupted; the
    experiment runs in one torch thread; ``table.md`` and ``figure.png`` are drawn from ``table.csv`` alone.

    Args:
        spec: a loaded experiment, or the path of its file (then read with ``seed``, ``quick``, ``overrides``).
        log: gets the experiment's progress lines (None: silent).
        Others as in :func:`run_scenario`.
    """
    from simnet.analysis.results import machine_info, package_versions, prepare_run_dir, write_manifest
    from simnet.experiments.base import RunContext
    from simnet.experiments.runner import EXPERIMENT_FILES, draw
    from simnet.files import atomic_write
    from simnet.lifecycle import tracked_run
    from simnet.sim.sweep import one_thread

    t0 = time.perf_counter() if started is None else started
    if not isinstance(spec, ExperimentSpec):
        loaded = load_run_file(spec, seed=seed, quick=quick, overrides=overrides)
        if not isinstance(loaded, ExperimentSpec):
            raise ConfigError(f"{spec}: is a scenario file, not an experiment; run it with run_scenario")
        spec = loaded
    folder = prepare_run_dir(None if out is None else str(out), spec.name, spec.output.dir, overwrite,
                             EXPERIMENT_FILES)
    manifest: dict[str, Any] = {
        "kind": "experiment", "experiment": {"type": spec.type, "kwargs": spec.kwargs},
        "scenario_file": spec.path, "name": spec.name, "seed": spec.seed, "quick": bool(quick),
        "overrides": list(overrides), "versions": package_versions(), "machine": machine_info(),
        "cache_dir": str(cache_dir) if cache_dir else None,
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with tracked_run(folder, manifest, resumable=False):
        with one_thread():
            table = spec.experiment.run(RunContext(seed=spec.seed, cache_dir=cache_dir, log=log or _silent))
        atomic_write(folder / "table.csv", lambda p: table.to_csv(p, index=False, float_format="%.6g"))
        files = draw(folder, spec.experiment, plots=spec.output.plots and plots)
        manifest.update(status="complete", wall_time_s=round(time.perf_counter() - t0, 3), files=files)
        write_manifest(folder, manifest)
    return RunResult(out=folder, summary=table, manifest=manifest, wall_time_s=manifest["wall_time_s"],
                     figures=tuple(f for f in files if f.endswith(".png")))


def _silent(line: str) -> None:
    """A progress log that prints nothing."""
