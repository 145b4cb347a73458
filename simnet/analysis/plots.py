"""Figures drawn from a run folder's files only (summary.csv, reports/finetunes Parquet)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from simnet.analysis.results import RUN_FIGURES  # noqa: E402
from simnet.errors import DataError  # noqa: E402


def _load(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    need = ["summary.csv", "reports.parquet", "finetunes.parquet"]
    missing = [n for n in need if not (run_dir / n).is_file()]
    if missing:
        raise DataError(f"{run_dir}: not a complete simnet run folder (missing {', '.join(missing)}); "
                        f"give the folder that run_sim.py wrote")
    return (pd.read_csv(run_dir / "summary.csv"), pd.read_parquet(run_dir / "reports.parquet"),
            pd.read_parquet(run_dir / "finetunes.parquet"))


def plot_rd(summary: pd.DataFrame, path: Path) -> None:
    """Rate-distortion per policy: total bits per dimension against the NMSE of the reports (compression
    only, as in the core paper) and against the NMSE at time of use (compression + staleness)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, col, label in ((axes[0], "nmse_report_db", "NMSE of reports [dB] (compression)"),
                           (axes[1], "nmse_db", "NMSE at time of use [dB] (compression + age)")):
        for policy, grp in summary.groupby("policy", sort=False):
            grp = grp.sort_values("total_bits_per_dim")
            ax.plot(grp.total_bits_per_dim, grp[col], "o-" if len(grp) > 1 else "o", label=policy)
            for _, r in grp.iterrows():
                if np.isfinite(r.interval_m):
                    ax.annotate(f"{r.interval_m:g} m", (r.total_bits_per_dim, r[col]), fontsize=7,
                                xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("total rate [bits / CSI dimension] (latent + model updates)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_over_distance(reports: pd.DataFrame, finetunes: pd.DataFrame, path: Path) -> None:
    """Per variant, UE 0: reconstruction NMSE and cumulative uplink bits over travelled distance."""
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for variant, grp in reports[reports.ue == 0].groupby("variant", sort=False):
        grp = grp.sort_values("distance_m")
        nmse_db = 10 * np.log10(np.maximum(grp.nmse_report.to_numpy(), 1e-30))
        win = max(1, len(grp) // 50)
        ax1.plot(grp.distance_m, pd.Series(nmse_db).rolling(win, min_periods=1).mean(), label=variant, lw=1)
        ev = pd.DataFrame({"d": grp.distance_m.to_numpy(), "bits": grp.latent_bits.to_numpy(dtype=float)})
        if len(finetunes):
            ft = finetunes[(finetunes.variant == variant) & (finetunes.ue == 0)]
            ev = pd.concat([ev, pd.DataFrame({"d": ft.distance_m.to_numpy(),
                                              "bits": ft.update_bits.to_numpy(dtype=float)})])
        ev = ev.sort_values("d", kind="stable")
        ax2.plot(ev.d, ev.bits.cumsum() / 1e3, lw=1, label=variant)
    ax1.set_ylabel("NMSE of reports [dB]")
    ax2.set_ylabel("cumulative uplink [kbit]")
    ax2.set_xlabel("distance travelled [m]")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
    ax1.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_rd_vs_interval(summary: pd.DataFrame, path: Path) -> bool:
    """Total rate and NMSE against the update interval; policies without an interval as reference lines."""
    cols = [("total_bits_per_dim", "total rate [bits / CSI dimension]"),
            ("nmse_report_db", "NMSE of reports [dB]"), ("nmse_db", "NMSE at time of use [dB]")]
    return _plot_vs_interval(summary, cols, path)


def plot_at_use_vs_interval(summary: pd.DataFrame, path: Path) -> bool:
    """What the beamformer gets at time of use against the update interval: spectral efficiency with MRT and ZF
    and SGCS, mean over users and slots and of the 5th-percentile user; policies without an interval as
    reference lines."""
    cols = [(c, label) for c, label in (("se_bps_hz", "SE at use, MRT [bit/s/Hz]"),
                                        ("se_zf_bps_hz", "SE at use, ZF [bit/s/Hz]"), ("sgcs", "SGCS at use"),
                                        ("se_p5_bps_hz", "5th-pct user SE at use, MRT [bit/s/Hz]"))
            if c in summary.columns and summary[c].notna().any()]
    return bool(cols) and _plot_vs_interval(summary, cols, path)


def _plot_vs_interval(summary: pd.DataFrame, cols: list[tuple[str, str]], path: Path) -> bool:
    swept = summary[np.isfinite(summary.interval_m)]
    if swept.empty:
        return False
    fig, axes = plt.subplots(1, len(cols), figsize=(4.7 * len(cols), 4))
    axes = np.atleast_1d(axes)
    for policy, grp in swept.groupby("policy", sort=False):
        grp = grp.sort_values("interval_m")
        label = policy if len(grp) > 1 else grp.variant.iloc[0]  # a preset (drift-shadow) by its own name
        for ax, (col, _) in zip(axes, cols):
            ax.plot(grp.interval_m, grp[col], "o-", label=label)
    for i, (_, r) in enumerate(summary[~np.isfinite(summary.interval_m)].iterrows()):
        for ax, (col, _) in zip(axes, cols):
            ax.axhline(r[col], ls="--", lw=1, color=f"C{(i + 3) % 10}", label=r.variant)
    for ax, (_, label) in zip(axes, cols):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("update interval [m]")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def plot_run(run_dir: str | Path) -> list[Path]:
    """Redraw every figure of a run folder from its files; returns the PNG paths written."""
    run = Path(run_dir)
    if not run.is_dir():
        raise DataError(f"{run}: no such run folder (give the folder that run_sim.py wrote, e.g. results/smoke-...)")
    summary, reports, finetunes = _load(run)
    rd, over_distance, rd_vs_interval, at_use_vs_interval = (run / name for name in RUN_FIGURES)
    plot_rd(summary, rd)
    plot_over_distance(reports, finetunes, over_distance)
    drawn = [rd, over_distance]
    for draw, path in ((plot_rd_vs_interval, rd_vs_interval), (plot_at_use_vs_interval, at_use_vs_interval)):
        if draw(summary, path):
            drawn.append(path)
        else:
            path.unlink(missing_ok=True)  # a stale one from an earlier draw would disagree with summary.csv
    return drawn
