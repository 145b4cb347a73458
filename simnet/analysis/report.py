"""``report.md``: the run's answer in words and numbers, written from ``summary.csv`` (and, for the margins at
time of use, the per-user slot scores in ``slots.parquet``).

Which variant is "best" needs a way to weigh bits against distortion. simnet uses the codec's own
objective (core paper eq. 9 and 21): ``J = lambda * NMSE + total bits per real CSI dimension`` with the
lambda the backbone was trained for, NMSE linear. A fine-tuning policy pays only if its distortion gain
outweighs its update bits at the exchange rate the codec itself was built to respect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq


def rd_cost(summary: pd.DataFrame, lmbda: float, column: str = "nmse_report_db") -> pd.Series:
    """RD cost per row: ``lmbda * 10**(column/10) + total_bits_per_dim`` (lower is better)."""
    return lmbda * 10.0 ** (summary[column] / 10.0) + summary.total_bits_per_dim


def interval_label(interval_m: float) -> str:
    """An update interval for tables: ``"never"`` for an infinite (or missing) one, else ``"4 m"``."""
    return "never" if not np.isfinite(interval_m) else f"{interval_m:g} m"


def markdown_table(table: pd.DataFrame, columns: Sequence[str] | None = None) -> list[str]:
    """``table`` (or some of its columns) as markdown lines (4 significant digits)."""
    cols = list(columns or table.columns)

    def fmt(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    rows = ["| " + " | ".join(fmt(v) for v in r) + " |" for r in table[cols].itertuples(index=False)]
    return ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols), *rows]


def write_report(run_dir: str | Path, lmbda: float, note: str | None = None) -> Path:
    """Write ``report.md`` in ``run_dir`` from its ``summary.csv``; returns its path.

    ``note`` (e.g. that the run was interrupted and which variants it finished) goes right under the title.
    """
    from simnet.files import atomic_write

    run = Path(run_dir)
    s = pd.read_csv(run / "summary.csv")
    s["rd_cost"] = rd_cost(s, lmbda)
    best = s.loc[s.rd_cost.idxmin()]
    best_use = s.loc[s.se_bps_hz.idxmax()]
    lines = [
        f"# {run.name}: which model-update policy pays?", "", *([note, ""] if note else []),
        f"RD cost J = {lmbda:g} x NMSE (linear) + total bits per real CSI dimension (the backbone's own "
        "training objective, lambda from its checkpoint); lower is better. 'Reports' = NMSE of each "
        "reconstruction against the channel it measured (compression only, as in the core paper); "
        "'at use' = against the channel when the BS beamforms (adds CSI age and queueing).", "",
        f"- **Best (reports):** `{best.variant}`: {best.total_bits_per_dim:.4f} bits/dim "
        f"({best.latent_bits_per_report:.0f} latent + {best.update_bits_per_report:.1f} update bits per report), "
        f"NMSE {best.nmse_report_db:.2f} dB, J = {best.rd_cost:.4f}.",
        f"- **Best beamforming at time of use (spectral efficiency, MRT):** `{best_use.variant}`: "
        f"{best_use.se_bps_hz:.3f} bit/s/Hz, cosine similarity {best_use.cosine_sim:.3f}, NMSE at use "
        f"{best_use.nmse_db:.2f} dB, mean CSI age {best_use.mean_csi_age_ms:.1f} ms, at "
        f"{best_use.total_bits_per_dim:.4f} bits/dim. (When CSI is old, NMSE at use favours codecs that "
        "shrink their reconstruction; spectral efficiency and cosine similarity are the fairer scores.)",
    ]
    real = s[s.policy != "genie"]
    if len(real) and real.rd_cost.idxmin() != best.name:
        b = real.loc[real.rd_cost.idxmin()]
        lines.append(f"- **Best achievable (genie excluded: its updates are free):** `{b.variant}`: "
                     f"{b.total_bits_per_dim:.4f} bits/dim ({b.update_bits_per_report:.1f} update bits per report, "
                     f"{int(b.num_model_updates)} updates), NMSE {b.nmse_report_db:.2f} dB, J = {b.rd_cost:.4f}.")
    swept = s[np.isfinite(s.interval_m)]
    for policy, grp in swept.groupby("policy", sort=False):
        if len(grp) < 2:
            continue
        b = grp.loc[grp.rd_cost.idxmin()]
        tried = ", ".join(f"{v:g}" for v in grp.interval_m)
        lines.append(f"- **Best interval for `{policy}`:** {b.interval_m:g} m (J = {b.rd_cost:.4f}, "
                     f"{b.total_bits_per_dim:.4f} bits/dim, {b.nmse_report_db:.2f} dB; tried {tried} m).")
    never = s[s.policy == "never"]
    if len(never):
        n = never.iloc[0]
        lines.append(f"- **Reference `never`:** {n.total_bits_per_dim:.4f} bits/dim, NMSE {n.nmse_report_db:.2f} dB "
                     f"(reports), {n.nmse_db:.2f} dB (at use), J = {n.rd_cost:.4f}; best - never: "
                     f"{best.nmse_report_db - n.nmse_report_db:+.2f} dB at "
                     f"{best.total_bits_per_dim - n.total_bits_per_dim:+.4f} bits/dim.")
    lines += at_use_section(s, run / "slots.parquet")
    cols = ["variant", "total_bits_per_dim", "latent_bits_per_report", "update_bits_per_report", "nmse_report_db",
            "nmse_db", "se_bps_hz", "se_zf_bps_hz", "sgcs", "se_p5_bps_hz", "mean_csi_age_ms",
            "uplink_utilisation", "num_model_updates", "rd_cost"]
    lines += ["", "## All variants", "", *markdown_table(s, [c for c in cols if c in s.columns]), ""]
    path = run / "report.md"
    text = "\n".join(lines)
    atomic_write(path, lambda p: p.write_text(text))
    return path


AT_USE_SCORES = (("se_bps_hz", "se_mrt_bps_hz", "spectral efficiency, MRT [bit/s/Hz]"),
                 ("se_zf_bps_hz", "se_zf_bps_hz", "spectral efficiency, ZF [bit/s/Hz]"),
                 ("sgcs", "sgcs", "SGCS"))
"""(summary.csv column, slots.parquet column, label) of the scores at time of use, higher is better."""
P5_SCORES = (("se_p5_bps_hz", "5th-percentile user SE, MRT"), ("se_zf_p5_bps_hz", "5th-percentile user SE, ZF"),
             ("sgcs_p5", "5th-percentile user SGCS"))


def paired_user_difference(slots: pd.DataFrame, variant: str, reference: str, column: str) -> tuple[float, float]:
    """Mean over users of (per-user mean of ``column`` under ``variant`` minus under ``reference``) and its
    standard error over users. The variants share users, tracks and slot times (one world), so the per-user
    difference removes what the user's channel alone decides. (nan, nan) when fewer than two users are shared."""
    per_user = slots[slots.variant.isin([variant, reference])].groupby(["variant", "ue"])[column].mean()
    a, b = per_user.get(variant), per_user.get(reference)
    if a is None or b is None:
        return math.nan, math.nan
    diff = (a - b).dropna()
    if len(diff) < 2:
        return math.nan, math.nan
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff)))


def at_use_section(s: pd.DataFrame, slots_path: Path) -> list[str]:
    """The report's 'at time of use' section: per score the best and the worst variant and their margins over
    ``never`` with two standard errors over users, the 5th-percentile users, and a verdict: which variants
    beat or lose to ``never`` beyond that noise, or one line that none does (ranking them would rank noise)."""
    scores = [(col, slot_col, label) for col, slot_col, label in AT_USE_SCORES if col in s.columns]
    never = s[s.policy == "never"]
    if not scores or never.empty or not slots_path.is_file():
        return []
    present = set(pq.read_schema(slots_path).names)
    wanted = ["variant", "ue", *(slot_col for _, slot_col, _ in scores)]
    slots = pd.read_parquet(slots_path, columns=[c for c in wanted if c in present])  # not the whole slot table
    ref = never.iloc[0]
    lines = ["", "## At time of use (what the beamformer gets)", "",
             "Per score the best and the worst variant; 'margin' is the variant minus `never`: the mean over users of "
             "each user's difference, +- two standard errors over users (the variants share users, tracks and slot "
             "times).", "",
             "| score | best | value | margin | worst | value | margin | never |", "|---|---|---|---|---|---|---|---|"]
    wins: dict[str, list[str]] = {}
    losses: dict[str, list[str]] = {}
    for col, slot_col, label in scores:
        cells = []
        for pick, verdicts, sign in ((s[col].idxmax(), wins, 1), (s[col].idxmin(), losses, -1)):
            r = s.loc[pick]
            diff, se = (paired_user_difference(slots, r.variant, ref.variant, slot_col) if slot_col in slots
                        else (math.nan, math.nan))
            cells.append(f"`{r.variant}` | {r[col]:.4g} | {diff:+.3g} +- {2 * se:.2g}")
            if sign * diff > 2 * se:  # nan (one user) never counts
                verdicts.setdefault(str(r.variant), []).append(label.split(" [")[0])
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {ref[col]:.4g} |")
    lines.append("")
    for col, label in P5_SCORES:
        if col in s.columns and s[col].notna().any():
            b, w = s.loc[s[col].idxmax()], s.loc[s[col].idxmin()]
            lines.append(f"- {label}: best `{b.variant}` {b[col]:.4g}, worst `{w.variant}` {w[col]:.4g}, "
                         f"never {ref[col]:.4g}.")
    age = float(ref.mean_csi_age_ms)
    lines.append("")
    if not wins and not losses:
        lines.append(f"**At time of use no variant differs from `never` by more than two standard errors over users "
                     f"on any score** (mean CSI age {age:.1f} ms; NMSE at use {ref.nmse_db:.2f} dB against "
                     f"{ref.nmse_report_db:.2f} dB for the reports): ranking the policies by their scores at use "
                     "would rank noise.")
    for variant, what in wins.items():
        lines.append(f"- `{variant}` beats `never` at time of use beyond noise on: {', '.join(what)}.")
    for variant, what in losses.items():
        r = s[s.variant == variant].iloc[0]
        why = ""
        if r.mean_csi_age_ms > age and r.update_bits_per_report > 0:
            why = (f" Its {int(r.num_model_updates)} model updates ({r.update_bits_per_report:.1f} bits per report) "
                   f"hold the shared uplink: its CSI is {r.mean_csi_age_ms:.2f} ms old when used against "
                   f"{age:.2f} ms with `never`.")
        lines.append(f"- `{variant}` loses to `never` at time of use beyond noise on: {', '.join(what)}.{why}")
    return lines
