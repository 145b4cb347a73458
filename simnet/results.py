"""Records -> tables on disk: summary.csv, per-report/slot/packet Parquet tables, manifest.json."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simnet.errors import SimnetError

SUMMARY_COLUMNS = [
    "policy", "variant", "interval_m", "num_reports", "latent_bits_per_report", "update_bits_per_report",
    "total_bits_per_report", "total_bits_per_dim", "nmse_db", "nmse_report_db", "cosine_sim", "se_bps_hz",
    "se_zf_bps_hz", "mean_csi_age_ms", "mean_queue_delay_ms", "num_model_updates", "num_finetunes",
    "uplink_utilisation", "sgcs", "sgcs_report",
]
_PACKAGES = ["simnet", "numpy", "scipy", "torch", "simpy", "pandas", "pyarrow", "quadriga-lib", "constriction",
             "deepmimo", "pydantic", "matplotlib"]


SIMULATION_FILES = ("summary.csv", "reports.parquet", "slots.parquet", "packets.parquet", "finetunes.parquet")
"""Tables a simulation run writes (appended to, so ``--overwrite`` removes them first)."""


def prepare_run_dir(out: str | None, name: str, base: str, overwrite: bool, stale: tuple[str, ...] = ()) -> Path:
    """Create the run folder: ``out``, or ``<base>/<name>-<UTC time>``.

    Raises:
        SimnetError: the folder already holds a run (a ``manifest.json``) and ``overwrite`` is False.
    """
    if out is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = Path(base) / f"{name}-{stamp}"
    else:
        path = Path(out)
    if (path / "manifest.json").exists() and not overwrite:
        raise SimnetError(f"{path} already holds a run (manifest.json); give another --out or pass --overwrite")
    path.mkdir(parents=True, exist_ok=True)
    if overwrite:
        for name_ in stale:
            (path / name_).unlink(missing_ok=True)
    return path


def _db(x: float) -> float:
    return float(10.0 * np.log10(max(x, 1e-30))) if np.isfinite(x) else float("nan")


def summarize(label: str, policy: str, kwargs: dict[str, Any], rec: dict[str, Any], num_dims: int) -> dict[str, Any]:
    """One summary row for one policy variant.

    Rates are per report (all UEs pooled) and per real CSI dimension (``num_dims`` = 2 * A * S); update
    bits are spread over all reports of the run. ``nmse_db`` is at time of use (downlink slots, so
    queueing and staleness count); ``nmse_report_db`` is against the channel each report measured; ``sgcs``
    (time of use) and ``sgcs_report`` likewise (:func:`simnet.beamforming.sgcs`, mean over subbands).
    """
    packets = pd.DataFrame(rec["packets"], columns=["ue", "kind", "bits", "t_enqueue_s", "t_deliver_s"])
    slots = pd.DataFrame(rec["slots"], columns=["nmse", "cosine_sim", "se_mrt_bps_hz", "se_zf_bps_hz", "age_s",
                                                "sgcs"])
    reports = pd.DataFrame(rec["reports"], columns=["nmse_report", "sgcs_report"])
    csi = packets[packets.kind == "csi"]
    upd = packets[packets.kind == "update"]
    num_reports = len(csi)
    latent = float(csi.bits.mean()) if num_reports else float("nan")
    update = float(upd.bits.sum()) / num_reports if num_reports else float("nan")
    delivered = packets[np.isfinite(packets.t_deliver_s)]
    interval = kwargs.get("interval_m", float("nan"))
    return {
        "policy": policy,
        "variant": label,
        "interval_m": float(interval) if isinstance(interval, (int, float)) else float("nan"),
        "num_reports": num_reports,
        "latent_bits_per_report": latent,
        "update_bits_per_report": update,
        "total_bits_per_report": latent + update,
        "total_bits_per_dim": (latent + update) / num_dims,
        "nmse_db": _db(float(slots.nmse.mean())) if len(slots) else float("nan"),
        "nmse_report_db": _db(float(reports.nmse_report.mean())) if len(reports) else float("nan"),
        "cosine_sim": float(slots.cosine_sim.mean()) if len(slots) else float("nan"),
        "se_bps_hz": float(slots.se_mrt_bps_hz.mean()) if len(slots) else float("nan"),
        "se_zf_bps_hz": float(slots.se_zf_bps_hz.mean()) if len(slots) else float("nan"),
        "mean_csi_age_ms": 1e3 * float(slots.age_s.mean()) if len(slots) else float("nan"),
        "mean_queue_delay_ms": 1e3 * float((delivered.t_deliver_s - delivered.t_enqueue_s).mean())
        if len(delivered) else float("nan"),
        "num_model_updates": (int(np.isfinite(upd.t_deliver_s).sum()) if len(upd) else 0)
        + sum(1 for f in rec["finetunes"] if f.get("delivery") == "free"),
        "num_finetunes": len(rec["finetunes"]),
        "uplink_utilisation": rec["uplink_busy_s"] / rec["t_end_s"] if rec["t_end_s"] > 0 else float("nan"),
        "sgcs": float(slots.sgcs.mean()) if len(slots) else float("nan"),
        "sgcs_report": float(reports.sgcs_report.mean()) if len(reports) else float("nan"),
    }


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path | str, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically (parent folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2) + "\n"))
    return path


def write_summary(out_dir: Path, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Write ``summary.csv`` (fixed column order, 6 significant digits so reruns are byte-identical)."""
    df = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    atomic_write(out_dir / "summary.csv", lambda p: df.to_csv(p, index=False, float_format="%.6g"))
    return df


def write_tables(out_dir: Path, label: str, policy: str, rec: dict[str, Any]) -> None:
    """Append one variant's per-report, per-slot, per-packet and per-fine-tune rows to Parquet tables."""
    for name in ("reports", "slots", "packets", "finetunes"):
        df = pd.DataFrame(rec[name])
        df.insert(0, "policy", policy)
        df.insert(0, "variant", label)
        path = out_dir / f"{name}.parquet"
        if path.exists():
            df = pd.concat([pd.read_parquet(path), df], ignore_index=True)
        atomic_write(path, lambda p, d=df: d.to_parquet(p, index=False))


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` (scenario as resolved, seed, versions, data used, wall time)."""
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
    atomic_write(out_dir / "manifest.json", lambda p: p.write_text(text))
