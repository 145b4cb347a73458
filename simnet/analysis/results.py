"""Records -> tables on disk: summary.csv, per-report/slot/packet Parquet tables, manifest.json."""

from __future__ import annotations

import json
import math
import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simnet.errors import SimnetError
from simnet.files import atomic_write

SUMMARY_COLUMNS = [
    "policy", "variant", "interval_m", "num_reports", "latent_bits_per_report", "update_bits_per_report",
    "total_bits_per_report", "total_bits_per_dim", "nmse_db", "nmse_report_db", "cosine_sim", "se_bps_hz",
    "se_zf_bps_hz", "mean_csi_age_ms", "mean_queue_delay_ms", "num_model_updates", "num_finetunes",
    "uplink_utilisation", "sgcs", "sgcs_report",
]
OPTIONAL_SUMMARY_COLUMNS = ["num_reports_lost", "se_p5_bps_hz", "se_zf_p5_bps_hz", "sgcs_p5"]
"""Columns after ``SUMMARY_COLUMNS`` where a run has them: reports the uplink lost (``uplink.loss_probability``
> 0), and the 5th percentile over users of each user's mean SE and SGCS at use (``output.user_percentiles``)."""
USER_PERCENTILE = 5.0
_PACKAGES = ["simnet", "numpy", "scipy", "torch", "simpy", "pandas", "pyarrow", "quadriga-lib", "constriction",
             "deepmimo", "pydantic", "matplotlib"]


SIMULATION_FILES = ("summary.csv", "reports.parquet", "slots.parquet", "packets.parquet", "finetunes.parquet")
"""Tables a simulation run writes (Parquet tables are appended to, variant by variant)."""

RUN_FILES = (*SIMULATION_FILES, "manifest.json", "report.md")
"""Every file a simulation run writes besides its figures."""

RUN_FIGURES = ("rd.png", "over_distance.png", "rd_vs_interval.png", "at_use_vs_interval.png")
"""The figures ``plots.plot_run`` draws into a run folder."""

PARQUET_TABLES = ("reports", "slots", "packets", "finetunes")
"""The per-variant Parquet tables, ``<name>.parquet``."""


def run_dir_path(out: str | None, name: str, base: str) -> Path:
    """The run folder: ``out``, or ``<base>/<name>-<UTC time>``."""
    if out is not None:
        return Path(out)
    return Path(base) / f"{name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"


def check_run_dir(path: Path, overwrite: bool, written: tuple[str, ...] = (), resume: bool = False) -> list[str]:
    """Check, without writing anything, that a run may write into ``path``; returns the run files already there.

    A folder that holds any of the files a run writes (``written``, plus ``manifest.json``) is refused, since
    tables would be appended to and a user's own files replaced, unless ``overwrite`` or ``resume`` is given.

    Raises:
        SimnetError: the path is a file, lies under a file or cannot be written, or it holds run files and
            neither ``overwrite`` nor ``resume`` is given.
    """
    check_writable_dir(path, "--out")
    present = [f for f in ("manifest.json", *written) if (path / f).exists()]
    if present and not (overwrite or resume):
        status = read_status(path)
        held = (f"a run (manifest.json, status: {status})" if status
                else f"files a run writes ({', '.join(present)})")
        fix = "pass --resume to finish it, " if status in ("running", "failed", "interrupted") else ""
        raise SimnetError(f"{path} already holds {held}; give another --out, {fix}or pass --overwrite to replace them")
    return present


def prepare_run_dir(out: str | None, name: str, base: str, overwrite: bool, written: tuple[str, ...] = (),
                    resume: bool = False) -> Path:
    """Create the run folder (``run_dir_path``) after ``check_run_dir``; ``overwrite`` first removes the run
    files there (so no stale table, report or figure survives), ``resume`` keeps them for the caller.

    Raises:
        SimnetError: as ``check_run_dir``, or the folder cannot be created.
    """
    path = run_dir_path(out, name, base)
    present = check_run_dir(path, overwrite, written, resume)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if overwrite:
            for f in present:
                (path / f).unlink(missing_ok=True)
    except OSError as err:
        raise SimnetError(f"--out {path}: cannot write there ({err.strerror or err}); give a writable folder") from None
    return path


def check_writable_dir(path: Path, what: str) -> None:
    """Raise one ``SimnetError`` line if ``path`` is a file, lies under a file, or cannot be created or written."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "is a file" if probe == path else f"lies under the file {probe}"
        raise SimnetError(f"{what} {path} {where}; give a folder")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise SimnetError(f"{what} {path}: {probe} is not writable; give a writable folder")


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """The run folder's ``manifest.json`` as a dict, or None where there is none (or it is not a JSON object)."""
    try:
        obj = json.loads((run_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def read_status(run_dir: Path) -> str | None:
    """The ``status`` of a run folder's manifest (running, complete, failed, interrupted), or None."""
    status = (read_manifest(run_dir) or {}).get("status")
    return status if isinstance(status, str) else None


def _db(x: float) -> float:
    return float(10.0 * np.log10(max(x, 1e-30))) if np.isfinite(x) else float("nan")


def summarize(label: str, policy: str, interval_m: float, rec: dict[str, Any], num_dims: int,
              user_percentiles: bool = False) -> dict[str, Any]:
    """One summary row for one policy variant.

    ``interval_m`` is the distance between the policy's fine-tunes as the policy reports it
    (``learning_interval_m()``: a fixed schedule's interval, drift-shadow's 2 m learning cadence); NaN for a
    policy that never learns or whose channel decides when.

    Rates are per report (all UEs pooled) and per real CSI dimension (``num_dims`` = 2 * A * S); update
    bits are spread over all reports of the run. ``nmse_db`` is at time of use (downlink slots, so
    queueing and staleness count); ``nmse_report_db`` is against the channel each report measured; ``sgcs``
    (time of use) and ``sgcs_report`` likewise (:func:`simnet.sim.beamforming.sgcs`, mean over subbands).
    With ``rec["num_reports_lost"]`` (a lossy uplink) the row has ``num_reports_lost``; with
    ``user_percentiles`` it has ``se_p5_bps_hz``, ``se_zf_p5_bps_hz`` and ``sgcs_p5``: the 5th percentile
    (linear interpolation) over users of each user's mean over its downlink slots.
    """
    packets = pd.DataFrame(rec["packets"], columns=["ue", "kind", "bits", "t_enqueue_s", "t_deliver_s"])
    slots = pd.DataFrame(rec["slots"], columns=["nmse", "cosine_sim", "se_mrt_bps_hz", "se_zf_bps_hz", "age_s",
                                                "sgcs"])
    reports = pd.DataFrame(rec["reports"], columns=["nmse_report", "sgcs_report"])
    row = _pooled(label, policy, interval_m, rec, num_dims, packets, slots, reports)
    if "num_reports_lost" in rec:
        row["num_reports_lost"] = int(rec["num_reports_lost"])
    if user_percentiles:
        row.update(user_percentile_scores(rec["slots"]))
    return row


def user_percentile_scores(slot_rows: list[dict[str, Any]]) -> dict[str, float]:
    """The 5th percentile over users of each user's mean MRT SE, ZF SE [bit/s/Hz] and SGCS at use (NaN if none)."""
    keys = {"se_p5_bps_hz": "se_mrt_bps_hz", "se_zf_p5_bps_hz": "se_zf_bps_hz", "sgcs_p5": "sgcs"}
    slots = pd.DataFrame(slot_rows, columns=["ue", *keys.values()])
    if not len(slots):
        return {k: float("nan") for k in keys}
    per_user = slots.groupby("ue")[list(keys.values())].mean()
    return {k: float(np.percentile(per_user[col].to_numpy(), USER_PERCENTILE)) for k, col in keys.items()}


def _pooled(label: str, policy: str, interval_m: float, rec: dict[str, Any], num_dims: int, packets: pd.DataFrame,
            slots: pd.DataFrame, reports: pd.DataFrame) -> dict[str, Any]:
    """The summary columns every run has (``SUMMARY_COLUMNS``), over all UEs pooled."""
    csi = packets[packets.kind == "csi"]
    upd = packets[packets.kind == "update"]
    num_reports = len(csi)
    latent = float(csi.bits.mean()) if num_reports else float("nan")
    update = float(upd.bits.sum()) / num_reports if num_reports else float("nan")
    delivered = packets[np.isfinite(packets.t_deliver_s)]
    return {
        "policy": policy,
        "variant": label,
        "interval_m": float(interval_m) if math.isfinite(interval_m) else float("nan"),
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


def write_summary(out_dir: Path, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Write ``summary.csv`` (fixed column order, 6 significant digits so reruns are byte-identical)."""
    extra = [c for c in OPTIONAL_SUMMARY_COLUMNS if any(c in r for r in rows)]
    df = pd.DataFrame(rows, columns=SUMMARY_COLUMNS + extra)
    atomic_write(out_dir / "summary.csv", lambda p: df.to_csv(p, index=False, float_format="%.6g"))
    return df


def write_tables(out_dir: Path, label: str, policy: str, rec: dict[str, Any]) -> dict[str, int]:
    """Append one variant's per-report, per-slot, per-packet and per-fine-tune rows to Parquet tables.

    Returns:
        The number of rows the variant added to each table (``{"reports": ..., ...}``), which the manifest
        records so that ``--resume`` can tell a finished variant from one cut off between two tables.
    """
    counts = {}
    for name in PARQUET_TABLES:
        df = pd.DataFrame(rec[name])
        df.insert(0, "policy", policy)
        df.insert(0, "variant", label)
        counts[name] = len(df)
        path = out_dir / f"{name}.parquet"
        if path.exists():
            df = pd.concat([pd.read_parquet(path), df], ignore_index=True)
        atomic_write(path, lambda p, d=df: d.to_parquet(p, index=False))
    return counts


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine_info() -> dict[str, Any]:
    """The CPU and float path a run used: what decides the last digits of its float results.

    Same scenario + seed gives a byte-identical ``summary.csv`` on one machine and float path; on another CPU
    (or under ``ATEN_CPU_CAPABILITY`` / ``ONEDNN_MAX_CPU_ISA``) symbols, streams and payloads stay identical
    but float outputs, and so table digits, may differ in the last places.
    """
    import os

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu, "machine": platform.machine(), "cpu_count": os.cpu_count(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "ATEN_CPU_CAPABILITY": os.environ.get("ATEN_CPU_CAPABILITY"),
        "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA"),
    }


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` (scenario as resolved, seed, versions, data used, wall time)."""
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
    atomic_write(out_dir / "manifest.json", lambda p: p.write_text(text))
