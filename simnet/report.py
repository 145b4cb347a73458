"""``report.md``: the run's answer in words and numbers, written from ``summary.csv`` only.

Which variant is "best" needs a way to weigh bits against distortion. simnet uses the exchange rate of
the backbone codec itself: ``slope_db_per_bit`` is how many dB of NMSE one more bit per CSI dimension buys
along the pretrained codec's own rate-distortion curve (from the shipped checkpoints). A variant scores
``J = NMSE_dB + slope * total_bits_per_dim``; lower is better, and a policy beats "never" only if its
gain is worth more than simply spending the same extra bits on a higher-rate backbone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def rd_cost(summary: pd.DataFrame, slope_db_per_bit: float, column: str = "nmse_report_db") -> pd.Series:
    """Lagrangian RD cost per row [dB]: ``column + slope * total_bits_per_dim``."""
    return summary[column] + slope_db_per_bit * summary.total_bits_per_dim


def write_report(run_dir: str | Path, slope_db_per_bit: float, slope_source: str) -> Path:
    """Write ``report.md`` in ``run_dir`` from its ``summary.csv``."""
    run = Path(run_dir)
    s = pd.read_csv(run / "summary.csv")
    s["rd_cost_db"] = rd_cost(s, slope_db_per_bit)
    s["rd_cost_use_db"] = rd_cost(s, slope_db_per_bit, "nmse_db")
    best = s.loc[s.rd_cost_db.idxmin()]
    best_use = s.loc[s.rd_cost_use_db.idxmin()]
    lines = [f"# {run.name}: which update policy pays?", ""]
    lines += [
        f"RD cost J = NMSE [dB] + {slope_db_per_bit:.2f} dB x total bits per CSI dimension ({slope_source}); "
        "lower is better.", "",
        f"- **Best by compression RD (NMSE of reports):** `{best.variant}`: {best.total_bits_per_dim:.4f} bits/dim "
        f"({best.latent_bits_per_report:.0f} latent + {best.update_bits_per_report:.0f} update bits per report), "
        f"NMSE {best.nmse_report_db:.2f} dB, J = {best.rd_cost_db:.2f} dB.",
        f"- **Best at time of use (NMSE incl. CSI age):** `{best_use.variant}`: NMSE {best_use.nmse_db:.2f} dB at "
        f"{best_use.total_bits_per_dim:.4f} bits/dim, SE {best_use.se_bps_hz:.3f} bit/s/Hz, "
        f"J = {best_use.rd_cost_use_db:.2f} dB.",
    ]
    swept = s[np.isfinite(s.interval_m)]
    for policy, grp in swept.groupby("policy", sort=False):
        if len(grp) < 2:
            continue
        b = grp.loc[grp.rd_cost_db.idxmin()]
        lines.append(f"- **Best interval for `{policy}`:** {b.interval_m:g} m (J = {b.rd_cost_db:.2f} dB; intervals "
                     f"tried: {', '.join(f'{v:g}' for v in grp.interval_m)} m).")
    never = s[s.policy == "never"]
    if len(never):
        n = never.iloc[0]
        lines.append(f"- **Reference `never`:** {n.total_bits_per_dim:.4f} bits/dim, NMSE {n.nmse_report_db:.2f} dB "
                     f"(reports), {n.nmse_db:.2f} dB (at use); the best variant gains "
                     f"{n.rd_cost_db - best.rd_cost_db:.2f} dB of RD cost over it.")
    cols = ["variant", "total_bits_per_dim", "latent_bits_per_report", "update_bits_per_report", "nmse_report_db",
            "nmse_db", "se_bps_hz", "mean_csi_age_ms", "num_model_updates", "rd_cost_db"]
    table = s[cols].copy()
    header = "| " + " | ".join(cols) + " |"
    rule = "|" + "---|" * len(cols)
    rows = ["| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in r) + " |"
            for r in table.itertuples(index=False)]
    lines += ["", "## All variants", "", header, rule, *rows, ""]
    path = run / "report.md"
    path.write_text("\n".join(lines))
    return path
