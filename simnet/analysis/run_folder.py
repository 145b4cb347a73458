"""A run as its folder holds it: :class:`RunResult`, and :func:`read_run` to read a folder back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simnet.errors import DataError


@dataclass(frozen=True, eq=False)
class RunResult:
    """What a finished run left behind (everything is also in its folder).

    Attributes:
        out: the run folder.
        summary: ``summary.csv`` of a simulation (one row per variant), ``table.csv`` of an experiment.
        manifest: the folder's ``manifest.json`` as written at the end (``status: complete``).
        wall_time_s: seconds from the start of the run to its end [s].
        figures: file names of the figures drawn in ``out`` (empty with ``plots=False``).
    """

    out: Path
    summary: pd.DataFrame
    manifest: Mapping[str, Any]
    wall_time_s: float
    figures: tuple[str, ...] = field(default=())

    @property
    def is_experiment(self) -> bool:
        """Whether the run was an experiment file (``table.csv``) rather than a simulation."""
        return self.manifest.get("kind") == "experiment"


def read_run(run_dir: str | Path) -> RunResult:
    """A simulation run read back from its folder alone (``summary.csv`` and ``manifest.json``).

    A run that is not complete reads as far as it got; ``manifest["status"]`` says how it stands.

    Raises:
        DataError: the folder has no readable ``manifest.json`` or no ``summary.csv``.
    """
    from simnet.analysis.results import read_manifest

    folder = Path(run_dir)
    manifest = read_manifest(folder)
    if manifest is None:
        raise DataError(f"{folder}: no readable manifest.json (not a simnet run folder)")
    if not (folder / "summary.csv").is_file():
        raise DataError(f"{folder}: no summary.csv (no variant of this run finished)")
    wall = manifest.get("wall_time_s")
    return RunResult(out=folder, summary=pd.read_csv(folder / "summary.csv"), manifest=manifest,
                     wall_time_s=float(wall) if isinstance(wall, int | float) else float("nan"),
                     figures=tuple(manifest.get("figures") or ()))
