"""Held-out check of an interval-free policy against a fixed-interval sweep, from runs' ``summary.csv`` only.

For each run (one scene and seed), each adaptive variant (by label: ``drift``, ``drift-gate``...) is set
against every fixed schedule of the same run: each ``periodic`` interval and ``never`` (an infinite
interval). All of them saw the same users, tracks, channels and fine-tune settings. Scores use the run's
own RD cost (simnet.analysis.report.rd_cost):

    J = lambda * NMSE (reports, linear) + total bits per real CSI dimension       (lower is better)

    at_least_as_good  J_adaptive <= min J over the fixed schedules
    dominated         some fixed schedule has bits/dim <= and NMSE <= the adaptive one's, one of them <

The best fixed interval is chosen per run with hindsight, which no deployed schedule can do. With
``--tuning RUN`` the interval that was best on that run is also scored on every run (``tuned_J``): the
fixed schedule one would have shipped after tuning on the same data as the adaptive policy.

``python -m simnet.analysis.heldout RUN_DIR... --out DIR`` writes ``heldout.csv`` and ``heldout.md`` in DIR; the
runs are read back with :func:`simnet.pipeline.read_run`.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simnet.analysis.report import interval_label, rd_cost
from simnet.errors import DataError, SimnetError
from simnet.files import atomic_write

NMSE_COL = "nmse_report_db"


def fixed_schedules(summary: pd.DataFrame, swept: str = "periodic", baseline: str = "never") -> pd.DataFrame:
    """The rows of the fixed schedules: every ``swept`` interval, then ``baseline`` (interval inf)."""
    fixed = summary[summary.policy.isin([swept, baseline])].copy()
    fixed["interval_m"] = np.where(fixed.policy == baseline, np.inf, fixed.interval_m)
    if not np.isfinite(fixed.interval_m).any() or (fixed.policy == baseline).sum() != 1:
        raise DataError(f"summary needs '{swept}' rows with interval_m and one '{baseline}' row")
    return fixed


def compare(summary: pd.DataFrame, lmbda: float, adaptive: str = "drift", swept: str = "periodic",
            baseline: str = "never", tuned_interval_m: float | None = None) -> dict[str, Any]:
    """One run's comparison of the variant labelled ``adaptive`` with the best fixed schedule and ``baseline``.

    Args:
        summary: a run's summary.csv (columns policy, variant, interval_m, total_bits_per_dim, nmse_report_db,
            num_model_updates).
        lmbda: the codec's RD trade-off (J = lmbda * NMSE + bits/dim).
        tuned_interval_m: a fixed interval [m] (inf: never) to score as well, as ``tuned_J``.

    Returns:
        Flat dict: the adaptive policy's bits/dim, NMSE [dB], J and updates; the best fixed schedule's
        interval [m] (inf: never), bits/dim, NMSE, J and updates; never's bits/dim, NMSE and J; the
        adaptive J minus the best fixed J (absolute and relative); the adaptive policy's rank among the
        fixed schedules (1 = best, ties counted in its favour) out of ``num_fixed + 1``; ``at_least_as_good``
        and ``dominated`` as defined in the module docstring; ``tuned_interval_m`` and ``tuned_J`` (nan
        without one).
    """
    s = summary.assign(J=rd_cost(summary, lmbda, NMSE_COL))
    rows = s[s.variant == adaptive]
    if len(rows) != 1:
        raise DataError(f"summary needs exactly one '{adaptive}' row, has {len(rows)}")
    a = rows.iloc[0]
    fixed = fixed_schedules(s, swept, baseline)
    best = fixed.loc[fixed.J.idxmin()]
    base = fixed[fixed.policy == baseline].iloc[0]
    no_worse = (fixed.total_bits_per_dim <= a.total_bits_per_dim) & (fixed[NMSE_COL] <= a[NMSE_COL])
    better = (fixed.total_bits_per_dim < a.total_bits_per_dim) | (fixed[NMSE_COL] < a[NMSE_COL])
    tuned_J = math.nan
    if tuned_interval_m is not None:
        tuned = fixed[fixed.interval_m == tuned_interval_m]
        if len(tuned) != 1:
            raise DataError(f"no fixed schedule with interval_m {tuned_interval_m:g} in this summary")
        tuned_J = float(tuned.J.iloc[0])
    return {
        "adaptive_bits_per_dim": float(a.total_bits_per_dim), "adaptive_nmse_db": float(a[NMSE_COL]),
        "adaptive_J": float(a.J), "adaptive_updates": int(a.num_model_updates),
        "best_interval_m": float(best.interval_m), "best_bits_per_dim": float(best.total_bits_per_dim),
        "best_nmse_db": float(best[NMSE_COL]), "best_J": float(best.J), "best_updates": int(best.num_model_updates),
        "never_bits_per_dim": float(base.total_bits_per_dim), "never_nmse_db": float(base[NMSE_COL]),
        "never_J": float(base.J),
        "dJ": float(a.J - best.J), "dJ_rel": float(a.J / best.J - 1.0),
        "rank": int((fixed.J < a.J).sum()) + 1, "num_fixed": len(fixed),
        "at_least_as_good": bool(a.J <= best.J), "dominated": bool((no_worse & better).any()),
        "tuned_interval_m": math.nan if tuned_interval_m is None else float(tuned_interval_m), "tuned_J": tuned_J,
    }


def run_lmbda(run_dir: Path, manifest: dict[str, Any] | None = None) -> float:
    """lambda of the codec a run used, as its manifest records it (the one its report.md scored with); the
    folder's manifest is read unless ``manifest`` is given."""
    if manifest is None:
        from simnet.analysis.run_folder import read_run

        manifest = dict(read_run(run_dir).manifest)
    try:
        return float(manifest["codec"]["lmbda"])
    except KeyError:
        raise DataError(f"{run_dir}/manifest.json records no codec lambda (a run of an older simnet): "
                        "re-run it, or pass --lmbda") from None


def collect(run_dirs: list[Path], lmbda: float | None = None, adaptive: tuple[str, ...] = ("drift",),
            tuning: Path | None = None) -> pd.DataFrame:
    """One row per run and adaptive variant: run name, scene (channel preset or scene name), seed, variant and
    :func:`compare`'s fields.

    ``tuning``: a run whose best fixed interval is scored on every run as well (``tuned_J``).
    """
    from simnet.analysis.run_folder import RunResult, read_run

    def lm_of(run: RunResult) -> float:
        return run_lmbda(run.out, dict(run.manifest)) if lmbda is None else lmbda

    tuned = None
    if tuning is not None:
        tuned_run = read_run(tuning)
        tuned = compare(tuned_run.summary, lm_of(tuned_run), adaptive[0])["best_interval_m"]
    rows = []
    for run in run_dirs:
        result = read_run(run)
        manifest, summary = result.manifest, result.summary
        kw = manifest["scenario"]["channel"].get("kwargs", {})
        lm = lm_of(result)
        scene = kw.get("preset") or kw.get("scene") or manifest["scenario"]["channel"]["type"]
        for variant in adaptive:
            rows.append({"run": run.name, "scene": scene,
                         "seed": int(manifest["seed"]), "variant": variant, "lmbda": lm,
                         **compare(summary, lm, variant, tuned_interval_m=tuned)})
    return pd.DataFrame(rows)


def _tuned(interval_m: float, j: float) -> str:
    return "-" if math.isnan(interval_m) else f"{j:.4f} ({interval_label(interval_m)})"


def to_markdown(df: pd.DataFrame) -> str:
    """The tables of docs/drift_heldout.md: each drift variant vs the best fixed schedule and never, per run."""
    head = ("| run | scene | seed | variant | drift bits/dim | drift NMSE [dB] | drift J | drift updates | best fixed "
            "| best bits/dim | best NMSE [dB] | best J | never J | dJ (rel.) | rank | J <= best | "
            "dominated | tuned interval J |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in df.itertuples():
        lines.append(
            f"| {r.run} | {r.scene} | {r.seed} | {r.variant} | {r.adaptive_bits_per_dim:.4f} | "
            f"{r.adaptive_nmse_db:.2f} | {r.adaptive_J:.4f} | {r.adaptive_updates} | "
            f"{interval_label(r.best_interval_m)} | {r.best_bits_per_dim:.4f} | "
            f"{r.best_nmse_db:.2f} | {r.best_J:.4f} | {r.never_J:.4f} | {r.dJ:+.4f} ({100 * r.dJ_rel:+.1f} %) | "
            f"{r.rank}/{r.num_fixed + 1} | {'yes' if r.at_least_as_good else 'no'} | "
            f"{'yes' if r.dominated else 'no'} | {_tuned(r.tuned_interval_m, r.tuned_J)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simnet.analysis.heldout", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (each with summary.csv, manifest.json)")
    parser.add_argument("--out", type=Path, required=True, help="folder for heldout.csv and heldout.md")
    parser.add_argument("--lmbda", type=float, default=None, help="RD trade-off (default: each run's manifest)")
    parser.add_argument("--adaptive", nargs="+", default=["drift"],
                        help="variant labels set against the fixed schedules (one table row each)")
    parser.add_argument("--tuning", type=Path, default=None,
                        help="run whose best fixed interval is also scored on every run (tuned_J)")
    args = parser.parse_args(argv)
    try:
        df = collect(args.runs, args.lmbda, tuple(args.adaptive), args.tuning)
    except (SimnetError, OSError, KeyError) as err:  # a missing run file, a run without the needed variants
        print(f"simnet.analysis.heldout: error: {err}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out / "heldout.csv", lambda p: df.to_csv(p, index=False, float_format="%.6g"))
    text = to_markdown(df)
    atomic_write(args.out / "heldout.md", lambda p: p.write_text(text))
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
