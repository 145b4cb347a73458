"""Drawing an experiment run folder: ``table.md`` and ``figure.png`` from its ``table.csv`` alone.

The run itself is :func:`simnet.pipeline.run_experiment`; ``simnet plot RUN_DIR`` redraws with :func:`redraw`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from simnet.errors import DataError
from simnet.experiments.base import EXPERIMENTS

EXPERIMENT_FILES = ("table.csv", "table.md", "figure.png")


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
