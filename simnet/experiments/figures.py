"""Figures of the offline experiments, drawn from their tables (``table.csv``) only."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")  # the path may be a temporary name
    plt.close(fig)


def rd_curves(table: pd.DataFrame, group: str, x: str, y: str, path: Path, title: str,
              label: str | None = None, panels: str | None = None, order: str | None = None) -> None:
    """One RD curve per value of ``group`` (``y`` [dB] against ``x`` [bits/dim]), one panel per ``panels`` value.

    Args:
        table: the experiment's table.
        group: column naming the curves.
        x, y: rate and NMSE columns.
        path: PNG to write.
        title: figure title.
        label: column whose values annotate the points (None: no annotation).
        panels: column splitting the figure into side-by-side panels (None: one panel).
        order: column along which each curve's points are joined (None: the rate ``x``).
    """
    keys = list(dict.fromkeys(table[panels])) if panels else [None]
    fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 4.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        sub = table if key is None else table[table[panels] == key]
        for name, grp in sub.groupby(group, sort=False):
            grp = grp.sort_values(order or x, kind="stable")
            ax.plot(grp[x], grp[y], "o-" if len(grp) > 1 else "o", label=str(name))
            if label:
                for _, r in grp.iterrows():
                    ax.annotate(str(r[label]), (r[x], r[y]), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("rate [bits / CSI dimension]")
        ax.set_ylabel("NMSE [dB]")
        ax.set_title(title if key is None else f"{title}: {key}", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    _save(fig, path)


def lines_over(table: pd.DataFrame, x: str, ys: list[tuple[str, str]], group: str, path: Path, title: str,
               log_y: bool = False) -> None:
    """Side-by-side panels of ``y`` against ``x``, one line per ``group`` value (e.g. per fine-tuning step).

    Args:
        ys: (column, axis label) per panel.
        log_y: logarithmic y axes.
    """
    fig, axes = plt.subplots(1, len(ys), figsize=(4.6 * len(ys), 3.8), squeeze=False)
    for ax, (col, ylabel) in zip(axes[0], ys):
        for name, grp in table.groupby(group, sort=False):
            ax.plot(grp[x], grp[col], label=str(name))
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel(ylabel)
        if log_y:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def bars(table: pd.DataFrame, label: str, ys: list[tuple[str, str]], path: Path, title: str) -> None:
    """Bar charts (log scale) of columns ``ys`` per row, labelled by column ``label``."""
    fig, axes = plt.subplots(1, len(ys), figsize=(5 * len(ys), 4.2), squeeze=False)
    names = table[label].astype(str).tolist()
    for ax, (col, ylabel) in zip(axes[0], ys):
        ax.bar(range(len(names)), table[col].to_numpy(dtype=float))
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
        ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)
