"""The congestion study's analysis, from its files only: optimal intervals, per-UE spread, offered load, figure.

``study.csv`` (every summary row with ``num_ues`` and ``discipline``) and the sub-folders' tables ->
``optima.csv``, ``study.md`` and ``congestion.png`` (:func:`plot_congestion`); ``simnet study congestion
--replot DIR`` redraws them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from simnet.analysis.report import interval_label  # noqa: E402

CRITERIA: dict[str, tuple[str, str, str]] = {
    "se": ("se_zf_bps_hz", "max", "ZF spectral efficiency per UE at time of use [bit/s/Hz]"),
    "j": ("rd_cost_at_use", "min", "J at time of use = lambda x NMSE at use + bits/dim"),
    "mrt": ("se_bps_hz", "max", "single-user MRT spectral efficiency at time of use [bit/s/Hz]"),
}
"""Criteria for the optimal interval: name -> (study.csv column, min or max, meaning). ``se`` is the primary
one: on a shared link of fixed rate the bits are paid in time (queueing -> CSI age -> worse CSI at use), which
the time-of-use score already charges, while J adds them a second time at the codec's exchange rate.
``mrt`` (each UE served alone, no inter-user interference) checks the ZF choice for robustness."""

_MARKS = {"se": ("o", 2.5, 1.0), "j": ("x", 1.0, 1.04), "mrt": ("^", 1.0, 0.96)}
"""Per criterion: marker, line width, and a small x shift so coinciding lines stay visible."""

NEVER_AT = 2.0
"""In the figures ``never`` (an infinite interval) is drawn at NEVER_AT x the longest interval swept."""


def candidates(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that compete for the optimal interval: ``never`` (interval = inf) and every swept interval.

    A ``drift`` variant's ``interval_m`` (drift-shadow's 2 m learning cadence) is not a schedule of sent
    updates, so drift variants never compete here.
    """
    fixed = np.isfinite(df.interval_m) & (df.policy != "drift")
    cand = df[(df.policy == "never") | fixed].copy()
    cand.loc[cand.policy == "never", "interval_m"] = np.inf
    return cand


def optimal_intervals(df: pd.DataFrame) -> pd.DataFrame:
    """Per criterion, discipline and user count: the variant that optimises the criterion.

    Args:
        df: the rows of ``study.csv``.

    Returns:
        One row per (criterion, discipline, num_ues): the chosen row's metrics, ``value`` (the criterion),
        ``runner_up`` and ``margin`` (how much better than the second best, >= 0) and ``vs_never`` (value
        minus never's, signed so that > 0 means better than never).
    """
    out = []
    for name, (col, sense, _) in CRITERIA.items():
        sign = 1.0 if sense == "max" else -1.0
        for (disc, n), grp in candidates(df).groupby(["discipline", "num_ues"]):
            score = sign * grp[col]
            ranked = grp.loc[score.sort_values(ascending=False, kind="stable").index]
            best = ranked.iloc[0]
            never = grp[grp.policy == "never"]
            out.append({
                "criterion": name, "discipline": disc, "num_ues": n, "variant": best.variant,
                "interval_m": best.interval_m, "value": best[col],
                "runner_up": ranked.iloc[1].variant if len(ranked) > 1 else "",
                "margin": sign * (best[col] - ranked.iloc[1][col]) if len(ranked) > 1 else np.nan,
                "vs_never": sign * (best[col] - never[col].iloc[0]) if len(never) else np.nan,
                **{c: best[c] for c in ("se_zf_bps_hz", "rd_cost_at_use", "nmse_db", "mean_csi_age_ms",
                                        "mean_queue_delay_ms", "uplink_utilisation", "num_model_updates")},
                "max_utilisation": grp.uplink_utilisation.max(),
                "offered_load": best.get("offered_load", np.nan),
                "max_offered_load": grp.offered_load.max() if "offered_load" in grp else np.nan,
            })
    return pd.DataFrame(out)


def ue_stderr(out: Path, opt: pd.DataFrame) -> pd.Series:
    """Standard error over UEs of each SE optimum's gain over ``never`` (``vs_never``), from the sub-folders'
    ``slots.parquet`` (per UE: mean ZF SE of the chosen variant minus never's); NaN for one UE or no tables.
    ZF couples the UEs of a slot, so this is indicative, not a test. NaN also where never itself is best."""
    err = pd.Series(np.nan, index=opt.index)
    for i, r in opt[opt.criterion == "se"].iterrows():
        path = out / f"{r.discipline}_n{r.num_ues}" / "slots.parquet"
        if r.num_ues < 2 or r.variant == "never" or not path.is_file():
            continue
        slots = pd.read_parquet(path, columns=["variant", "ue", "se_zf_bps_hz"])
        per_ue = slots.groupby(["variant", "ue"]).se_zf_bps_hz.mean()
        gain = per_ue.loc[r.variant] - per_ue.loc["never"]
        err[i] = float(gain.std(ddof=1) / np.sqrt(len(gain)))
    return err


def offered_load(out: Path, df: pd.DataFrame) -> pd.Series:
    """Per ``study.csv`` row: bits offered to the uplink over what it can carry in the run, from the sub-folders'
    ``packets.parquet``: utilisation x offered bits / delivered bits (with no link latency the link is busy
    exactly while it delivers); above 1 the queue grows for the whole run. NaN where the tables are missing."""
    load = pd.Series(np.nan, index=df.index)
    for (disc, n), idx in df.groupby(["discipline", "num_ues"]).groups.items():
        path = out / f"{disc}_n{n}" / "packets.parquet"
        if not path.is_file():
            continue
        pk = pd.read_parquet(path, columns=["variant", "bits", "t_deliver_s"])
        offered = pk.groupby("variant").bits.sum()
        delivered = pk[np.isfinite(pk.t_deliver_s)].groupby("variant").bits.sum()
        for i in idx:
            v = df.at[i, "variant"]
            load[i] = df.at[i, "uplink_utilisation"] * offered[v] / delivered[v]
    return load


def _interval_x(interval_m: pd.Series, longest_m: float) -> np.ndarray:
    x = interval_m.to_numpy(dtype=float)
    return np.where(np.isfinite(x), x, NEVER_AT * longest_m)


def _interval_axis(ax: Any, intervals: np.ndarray, longest_m: float) -> None:
    ticks = [*intervals, NEVER_AT * longest_m]
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, [f"{v:g}" for v in intervals] + ["never"])
    ax.minorticks_off()


def plot_congestion(out: Path) -> None:
    """``congestion.png``, ``optima.csv`` and ``study.md`` from ``study.csv``."""
    df = pd.read_csv(out / "study.csv")
    df["offered_load"] = offered_load(out, df)
    opt = optimal_intervals(df)
    opt["vs_never_stderr"] = ue_stderr(out, opt)
    opt.to_csv(out / "optima.csv", index=False, float_format="%.6g")
    cand = candidates(df)
    intervals = np.sort(cand.interval_m[np.isfinite(cand.interval_m)].unique())
    longest = float(intervals.max()) if len(intervals) else 1.0
    counts = sorted(df.num_ues.unique())
    colour = dict(zip(counts, plt.cm.viridis(np.linspace(0, 0.9, len(counts)))))
    style = {"fifo": "-", "csi-first": "--"}
    fig, axes = plt.subplots(2, 3, figsize=(17, 9))
    ax = axes[0, 0]
    for (name, disc), grp in opt.groupby(["criterion", "discipline"], sort=False):
        grp = grp.sort_values("num_ues")
        marker, lw, shift = _MARKS.get(name, ("s", 1.0, 1.0))
        ax.plot(grp.num_ues * shift, _interval_x(grp.interval_m, longest), style.get(disc, ":"), marker=marker,
                lw=lw, label=f"{disc}: {CRITERIA[name][1]} {name.upper()}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(counts, [str(n) for n in counts])
    ax.set_yscale("log", base=2)
    ax.set_yticks([*intervals, NEVER_AT * longest], [f"{v:g} m" for v in intervals] + ["never"])
    ax.minorticks_off()
    ax.set_xlabel("users sharing the uplink")
    ax.set_ylabel("optimal update interval")
    ax.set_title("optimal interval (thick o: max ZF SE, primary; x: min J; ^: max MRT SE)", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    variants = list(dict.fromkeys(cand.variant))
    for (disc, variant), grp in cand.groupby(["discipline", "variant"], sort=False):
        grp = grp.sort_values("num_ues")
        ax.plot(grp.num_ues, grp.offered_load, style.get(disc, ":"), marker="o",
                color=f"C{variants.index(variant)}", label=variant if disc == df.discipline.iloc[0] else None)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(counts, [str(n) for n in counts])
    ax.set_xlabel("users sharing the uplink")
    ax.set_ylabel("offered uplink load (bits offered / link capacity)")
    ax.legend(fontsize=6)
    never = cand[cand.policy == "never"].set_index(["discipline", "num_ues"])
    panels = [(axes[0, 2], "mean_csi_age_ms", "mean CSI age at use [ms]", ""),
              (axes[1, 0], "nmse_db", "NMSE at use minus never's [dB]", "diff"),
              (axes[1, 1], "se_zf_bps_hz", "ZF SE per UE relative to never's [%]", "pct"),
              (axes[1, 2], "rd_cost_at_use", "J at use minus never's", "diff")]
    for (disc, n), grp in cand.groupby(["discipline", "num_ues"]):
        grp = grp.sort_values("interval_m")
        x = _interval_x(grp.interval_m, longest)
        for ax, col, _, relative in panels:
            ref = never.loc[(disc, n), col]
            y = {"diff": grp[col] - ref, "pct": 100.0 * (grp[col] / ref - 1.0)}.get(relative, grp[col])
            ax.plot(x, y, style.get(disc, ":"), marker="o", ms=3, color=colour[n],
                    label=f"N={n}" if disc == min(cand.discipline) else None)
    for ax, _, label, relative in panels:
        _interval_axis(ax, intervals, longest)
        ax.set_xlabel("update interval [m]")
        ax.set_ylabel(label)
        if relative:
            ax.axhline(0.0, color="k", lw=0.8)
    axes[0, 2].set_yscale("log")
    for which in ("major", "minor"):
        getattr(axes[0, 2].yaxis, f"set_{which}_formatter")(FuncFormatter(lambda v, _: f"{v:g}"))
    axes[0, 2].legend(fontsize=7, title="solid: FIFO, dashed: CSI-first", title_fontsize=7)
    for ax in axes.flat:
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "congestion.png", dpi=110)
    plt.close(fig)
    (out / "study.md").write_text(optima_markdown(opt))


def optima_markdown(opt: pd.DataFrame) -> str:
    """The optimal-interval table as Markdown (one row per discipline and user count)."""
    se, j, mrt = (opt[opt.criterion == c].set_index(["discipline", "num_ues"]) for c in ("se", "j", "mrt"))
    lines = ["| discipline | users | best interval (max ZF SE) | ZF SE [bit/s/Hz] | vs never (± s.e. over UEs) | "
             "margin to 2nd | NMSE at use [dB] | CSI age [ms] | utilisation | offered load | best interval (min J) | "
             "J | best interval (max MRT SE) | max offered load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    for key, b in se.iterrows():
        bj = j.loc[key]
        pm = f" ± {b.vs_never_stderr:.4f}" if np.isfinite(b.vs_never_stderr) else ""
        lines.append(f"| {key[0]} | {key[1]} | {interval_label(b.interval_m)} | {b.se_zf_bps_hz:.4f} | "
                     f"{b.vs_never:+.4f}{pm} | {b.margin:.4f} | {b.nmse_db:.2f} | {b.mean_csi_age_ms:.1f} | "
                     f"{b.uplink_utilisation:.2f} | "
                     f"{b.offered_load:.2f} | "
                     f"{interval_label(bj.interval_m)} | {bj.value:.4f} | {interval_label(mrt.loc[key].interval_m)} | "
                     f"{b.max_offered_load:.2f} |")
    return "\n".join(lines) + "\n"
