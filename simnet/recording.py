"""Recording a world's policy variants into a run folder: summary rows, Parquet tables, ``summary.csv``, report.

    world, variants --sim.sweep.run_variants--> (spec, record) in variant order
        --analysis.results.summarize--> summary row   --write_tables--> reports/slots/packets/finetunes.parquet
        --write_summary--> summary.csv (after every variant, so an interrupted run keeps what it finished)

Used by :func:`simnet.pipeline.run_scenario` (one run) and :mod:`simnet.study` (many runs sharing a world).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import AbstractContextManager, closing, nullcontext
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from simnet.analysis.results import summarize, write_summary, write_tables
from simnet.config import PolicySpec

Progress = Callable[[float], None]
"""A progress callback: the fraction done, 0..1."""


class RunProgress(Protocol):
    """Where a run reports its progress (the CLI draws tqdm bars; ``None`` everywhere means silent)."""

    def channels(self) -> AbstractContextManager[Progress]:
        """A callback for the world's channel generation, open while it runs."""
        ...

    def variants(self, labels: Sequence[str]) -> AbstractContextManager[Callable[[str], Progress]]:
        """A factory of per-variant callbacks (by label) for the variants about to run, open while they run."""
        ...


OnVariant = Callable[[PolicySpec, dict[str, Any], dict[str, Any], dict[str, int]], None]
"""Called after a variant's tables are written: ``(spec, summary row, record, rows written per table)``."""


def num_dims(world: Any) -> int:
    """Real dimensions of one CSI report: 2 x antennas x subcarriers (the ``bits/dim`` denominator)."""
    system = world.scenario.system
    return 2 * system.num_bs_ant * system.num_subcarriers


def record_variants(world: Any, out: Path, specs: Sequence[PolicySpec], *, workers: int = 1,
                    progress: RunProgress | None = None, ray_address: str | None = None,
                    recorded: Mapping[str, dict[str, Any]] | None = None,
                    reuse: Mapping[str, tuple[dict[str, Any], dict[str, Any]]] | None = None,
                    on_variant: OnVariant | None = None) -> pd.DataFrame:
    """Run the variants of ``specs`` on ``world`` and write their tables into ``out``, in variant order.

    Args:
        world: the shared world (``simnet.sim.world.build_world``).
        out: the run folder (prepared: ``simnet.analysis.results.prepare_run_dir``).
        specs: every variant of the run, in table order.
        workers: processes for the variants that run.
        progress: progress bars, or None.
        ray_address: run the variants on a Ray cluster instead.
        recorded: summary rows of variants whose tables ``out`` already holds (a resumed run): not run, not
            written again.
        reuse: ``(summary row, record)`` of variants run elsewhere (another discipline of a study): written,
            not run.
        on_variant: called after each variant that was run or reused is written.

    Returns:
        The summary table of every variant (as written to ``summary.csv``).
    """
    recorded, reuse = dict(recorded or {}), dict(reuse or {})
    rows: dict[str, dict[str, Any]] = dict(recorded)
    labels = [s.label for s in specs]
    todo = tuple(s for s in specs if s.label not in recorded and s.label not in reuse)
    bars: AbstractContextManager[Callable[[str], Progress] | None] = (
        progress.variants([s.label for s in todo]) if progress is not None else nullcontext(None))
    with bars as make, closing(_run(world, todo, workers, make, ray_address)) as results:
        for spec in specs:
            if spec.label in recorded:
                continue
            row, rec = reuse[spec.label] if spec.label in reuse else summarize_variant(world, *next(results))
            rows[spec.label] = row
            tables = write_tables(out, spec.label, spec.type, rec)
            write_summary(out, [rows[label] for label in labels if label in rows])
            if on_variant is not None:
                on_variant(spec, row, rec, tables)
    return write_summary(out, [rows[label] for label in labels])


def _run(world: Any, todo: tuple[PolicySpec, ...], workers: int, make: Callable[[str], Progress] | None,
         ray_address: str | None) -> Generator[tuple[PolicySpec, dict[str, Any]], None, None]:
    from simnet.sim import sweep  # looked up at call time: tests replace sweep.run_variants to cut a run short

    factory = None if make is None else (lambda s: make(s.label))
    yield from sweep.run_variants(world, todo, workers, factory, ray_address=ray_address)


def summarize_variant(world: Any, spec: PolicySpec, rec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(summary row, record)`` of a variant run on ``world``."""
    return summarize(spec.label, spec.type, learning_interval_m(spec), rec, num_dims(world),
                     user_percentiles=world.scenario.output.user_percentiles), rec


def learning_interval_m(spec: PolicySpec) -> float:
    """The variant's fine-tuning interval as its policy reports it (NaN for a test double without a config)."""
    config = spec.config
    return float(config.learning_interval_m()) if config is not None else math.nan


def partial_report(out: Path, labels: Sequence[str], lmbda: float, status: str) -> None:
    """``report.md`` of the variants a failed or interrupted run finished (none if it finished none)."""
    from simnet.analysis.report import write_report
    from simnet.analysis.results import read_manifest

    recorded = (read_manifest(out) or {}).get("finished_variants", {})
    finished = [label for label in labels if label in recorded]
    if not finished or not (out / "summary.csv").is_file():
        return
    write_report(out, lmbda, note=f"**{status.capitalize()} run:** {len(finished)} of {len(labels)} variants "
                 f"finished ({', '.join(finished)}); `--out {out} --resume` runs the rest.")

