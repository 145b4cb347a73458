"""``report.md``: the run's answer in words and numbers, written from ``summary.csv`` only.

Which variant is "best" needs a way to weigh bits against distortion. simnet uses the codec's own
objective (core paper eq. 9 and 21): ``J = lambda * NMSE + total bits per real CSI dimension`` with the
lambda the backbone was trained for, NMSE linear. A fine-tuning policy pays only if its distortion gain
outweighs its update bits at the exchange rate the codec itself was built to respect.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


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
    cols = ["variant", "total_bits_per_dim", "latent_bits_per_report", "update_bits_per_report", "nmse_report_db",
            "nmse_db", "se_bps_hz", "mean_csi_age_ms", "num_model_updates", "rd_cost"]
    lines += ["", "## All variants", "", *markdown_table(s, cols), ""]
    path = run / "report.md"
    text = "\n".join(lines)
    atomic_write(path, lambda p: p.write_text(text))
    return path
