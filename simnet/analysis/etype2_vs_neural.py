"""The eType II versus neural comparison from files: the static study's CSV and the simulator's run folders.

Reads ``<study>.csv`` (:mod:`simnet.analysis.codebook_study`) and the ``summary.csv`` of each run folder of
``scenarios/etype2_vs_neural.yaml`` (one per codec); writes the simulator table (SGCS and SE at time of use
against total bits per report, model-update bits included) and one figure: SGCS versus bits, static
(per preset) and in the simulator. Plots never reach into live objects.

    python -m simnet.analysis.etype2_vs_neural --study docs/codebooks_sgcs.csv --runs results/etype2_vs_neural* \\
        --figure docs/figures/etype2_vs_neural.png
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from simnet.errors import DataError

_STYLE = {"etype2": ("o-", "tab:blue"), "type1": ("s", "tab:gray"), "eigen-sgcs": ("^-", "tab:red"),
          "eigen-crnet": ("D-", "tab:purple"), "rd-crnet": ("v-", "tab:orange"),
          "learned-transform": ("v-", "tab:green")}
CODEBOOKS = ("etype2", "type1")
_VARIANT_MARKERS = (("never", "o"), ("periodic[interval_m=4]", "^"), ("periodic[interval_m=16]", "v"),
                    ("periodic", "<"), ("drift", "D"), ("genie", "*"))


def read_runs(run_dirs: Sequence[str | Path]) -> pd.DataFrame:
    """Every summary row of the run folders, with ``run`` (the folder's name) and ``codec`` (the codec type its
    ``manifest.json`` records) added."""
    parts = []
    for run in run_dirs:
        path, manifest = Path(run) / "summary.csv", Path(run) / "manifest.json"
        if not path.is_file() or not manifest.is_file():
            raise DataError(f"{run}: no summary.csv and manifest.json; run the scenario into {run} first")
        try:
            codec = str(json.loads(manifest.read_text())["codec"]["type"])
        except (ValueError, KeyError, TypeError):
            raise DataError(f"{manifest}: unreadable or without codec.type; rerun the scenario into {run}") from None
        df = pd.read_csv(path)
        df.insert(0, "run", Path(run).name.rsplit("-", 2)[0])  # run_sim.py appends -YYYYMMDD-HHMMSS
        df.insert(1, "codec", codec)
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


def sim_table(runs: pd.DataFrame) -> str:
    """Markdown: one row per (run, variant), sorted by total bits per report."""
    lines = ["| run | codec | variant | latent bits/report | update bits/report | total bits/report | SGCS at use | "
             "SGCS at report | SE MRT [bit/s/Hz] | updates |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs.sort_values("total_bits_per_report").itertuples():
        lines.append(f"| {r.run} | {r.codec} | {r.variant} | {r.latent_bits_per_report:.1f} | "
                     f"{r.update_bits_per_report:.1f} | {r.total_bits_per_report:.1f} | {r.sgcs:.4f} | "
                     f"{r.sgcs_report:.4f} | {r.se_bps_hz:.3f} | {r.num_model_updates:.0f} |")
    return "\n".join(lines)


def plot(study: pd.DataFrame, runs: pd.DataFrame, path: str | Path) -> None:
    """SGCS versus bits per report: one panel per preset (static) and one for the simulator runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    presets = list(dict.fromkeys(study.preset))
    fig, axes = plt.subplots(1, len(presets) + 1, figsize=(4.2 * (len(presets) + 1), 3.6), sharey=True)
    for ax, preset in zip(axes, presets):
        part = study[(study.preset == preset) & (study.bits_per_report <= 512)]
        for family, rows in part.groupby("family"):
            marker, color = _STYLE.get(str(family), (".-", "k"))
            rows = rows.sort_values("bits_per_report")
            ax.plot(rows.bits_per_report, rows.sgcs, marker, color=color, label=str(family), ms=4)
        ax.set_title(f"static, {preset}")
        ax.set_xlabel("bits per report")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("SGCS")
    axes[0].legend(fontsize=8)
    ax = axes[-1]
    used: dict[str, str] = {}
    for r in runs.itertuples():
        color = _STYLE.get(r.codec, (".-", "k"))[1]
        prefix, marker = next(((p, m) for p, m in _VARIANT_MARKERS if str(r.variant).startswith(p)), ("other", "P"))
        used[prefix] = marker
        ax.plot(r.total_bits_per_report, r.sgcs, marker, color=color, ms=6)
        ax.plot(r.total_bits_per_report, r.sgcs_report, marker, color=color, ms=6, mfc="none", alpha=0.6)
    for prefix, marker in used.items():
        ax.plot([], [], marker, color="k", mfc="none", label=prefix)
    ax.legend(fontsize=7, title="filled: at use, hollow: at report", title_fontsize=7, loc="center left",
              bbox_to_anchor=(1.02, 0.5))
    ax.set_xscale("log")
    ax.set_title("simulator, at time of use (update bits counted)")
    ax.set_xlabel("total bits per report (log)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the simulator table and draw the figure."""
    parser = argparse.ArgumentParser(prog="python -m simnet.analysis.etype2_vs_neural",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--study", required=True, help="CSV written by simnet.analysis.codebook_study")
    parser.add_argument("--runs", nargs="+", required=True, help="run folders of scenarios/etype2_vs_neural.yaml")
    parser.add_argument("--figure", default="docs/figures/etype2_vs_neural.png")
    args = parser.parse_args(argv)
    study = pd.read_csv(args.study)
    runs = read_runs(args.runs)
    plot(study, runs, args.figure)
    print(sim_table(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
