"""A run folder's life: ``status`` running -> complete | failed | interrupted, signals, and ``--resume``.

    prepare_run_dir --> manifest {status: running} --> variants, one by one:
                             |                          tables, summary.csv, manifest.finished_variants[label]
                             |--- exception ----------> {status: failed, error: one line, traceback}
                             |--- SIGINT/SIGTERM/HUP -> {status: interrupted}   (report of finished variants)
                             '--- done --------------> {status: complete}

A variant counts as finished when its summary row is in ``summary.csv`` and each Parquet table holds exactly
the rows the manifest recorded for it; ``--resume`` keeps those, drops the rest and runs what is left.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import pandas as pd

from simnet.analysis.results import PARQUET_TABLES, read_manifest, write_manifest, write_summary
from simnet.errors import SimnetError
from simnet.files import atomic_write


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped by a signal; ``str()`` is the one line for the terminal, ``exit_code`` 128 + signal."""

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)


class RunFailed(SimnetError):
    """A run stopped on an unexpected error; its traceback is in the manifest, not on the terminal."""


_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into ``RunInterrupted`` in the main thread, so ``kill PID`` or ``timeout`` end
    a run like Ctrl-C does (workers stopped, manifest marked). A second signal takes the default action.
    Signals the caller ignores (``nohup``) stay ignored; outside the main thread nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.getsignal(s) for s in _STOP_SIGNALS}

    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signum, signal.SIG_DFL)
        raise RunInterrupted(f"stopped by {signal.Signals(signum).name}", signum)

    for s, old in before.items():
        if old is not signal.SIG_IGN:
            signal.signal(s, handler)
    try:
        yield
    finally:
        for s, old in before.items():
            signal.signal(s, old)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def tracked_run(out: Path, manifest: dict[str, Any], on_abort: Callable[[str], None] | None = None,
                resumable: bool = True) -> Iterator[None]:
    """Run the block with ``manifest`` marked ``running`` in ``out``; mark it failed or interrupted on the way out.

    The caller marks success itself (``status: complete``). On an error the manifest gets ``error`` (one line)
    and, for unexpected errors, ``traceback``; then ``on_abort(status)`` may write what can still be written
    (the report of finished variants), best effort. ``resumable`` says whether ``--resume`` can finish it.

    Raises:
        RunInterrupted: on SIGINT, SIGTERM or SIGHUP, with a line saying how to resume.
        SimnetError: the block's own, re-raised after marking the manifest.
        RunFailed: any other exception, as one line pointing at the manifest's traceback.
    """
    manifest.update(status="running", pid=os.getpid(), host=platform.node())
    write_manifest(out, manifest)
    hint = f"rerun with --out {out} --resume to finish it" if resumable else "rerun with --overwrite to start over"
    try:
        with signals_as_interrupt():
            yield
    except KeyboardInterrupt as err:
        signum = getattr(err, "signum", signal.SIGINT)
        reason = str(err) or "stopped by SIGINT"
        _abort(out, manifest, "interrupted", reason, None, on_abort)
        raise RunInterrupted(f"interrupted ({reason}); what was finished is kept in {out}; {hint}", signum) from None
    except SimnetError as err:
        _abort(out, manifest, "failed", str(err), None, on_abort)
        raise
    except Exception as err:
        line = f"{type(err).__name__}: {err}".splitlines()[0][:500]
        _abort(out, manifest, "failed", line, traceback.format_exc(), on_abort)
        raise RunFailed(f"run failed: {line} (traceback in {out / 'manifest.json'})") from None


def _abort(out: Path, manifest: dict[str, Any], status: str, error: str, trace: str | None,
           on_abort: Callable[[str], None] | None) -> None:
    manifest.update(status=status, error=error, ended_utc=_now())
    if trace:
        manifest["traceback"] = trace
    write_manifest(out, manifest)
    if on_abort is None:
        return
    try:
        on_abort(status)
    except Exception as err:  # the manifest already tells what happened; a failing report must not hide it
        manifest["abort_error"] = f"{type(err).__name__}: {err}"
        write_manifest(out, manifest)


def describe_unfinished(manifest: dict[str, Any]) -> str | None:
    """How a run that is not complete stands, for one line after "this run": e.g. ``"was interrupted (stopped by
    SIGTERM), 2 of 5 variants finished"``; None for a complete run or a folder without a manifest status."""
    status = manifest.get("status")
    if status in (None, "complete"):
        return None
    reason = str(manifest.get("error") or "no reason recorded")
    how = {"failed": f"failed ({reason})", "interrupted": f"was interrupted ({reason})",
           "running": f"is still running (process {manifest.get('pid')})" if writer_alive(manifest)
           else "was killed before it could record its end (--resume finishes it)"}.get(status, f"is {status!r}")
    finished, scenario = manifest.get("finished_variants"), manifest.get("scenario")
    policies = scenario.get("policies") if isinstance(scenario, dict) else None
    if isinstance(finished, dict) and isinstance(policies, list) and policies:
        how += f", {len(finished)} of {len(policies)} variants finished"
    return how


def comparable_scenario(scenario: dict[str, Any]) -> str:
    """A resolved scenario (``config.to_dict``) as canonical JSON, without what may differ between a run and
    its resumption without changing a number: the file's path and the ``output`` block."""
    kept = {k: v for k, v in scenario.items() if k not in ("path", "output")}
    return json.dumps(kept, sort_keys=True, default=str)


def resume_state(out: Path, scenario: dict[str, Any], labels: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check that ``out`` holds a run of this scenario and keep only its finished variants' rows.

    Args:
        out: the run folder.
        scenario: the resolved scenario being resumed (``config.to_dict``).
        labels: the variant labels of that scenario, in run order.

    Returns:
        ``(old_manifest, finished)``: the folder's manifest and, per finished label, the rows each table holds
        for it. ``summary.csv`` and every Parquet table are rewritten without the other variants' rows.

    Raises:
        SimnetError: no manifest to resume, or it belongs to another scenario or seed.
    """
    old = read_manifest(out)
    if old is None or not isinstance(old.get("scenario"), dict):
        raise SimnetError(f"--resume: {out} holds no readable manifest.json, so what it holds cannot be checked; "
                          "pass --overwrite to start over")
    if old.get("kind") == "experiment":
        raise SimnetError(f"--resume: {out} holds an experiment run, not a simulation; pass --overwrite")
    if old.get("status") == "running" and writer_alive(old):
        raise SimnetError(f"--resume: {out} is still being written by process {old['pid']} on this machine; "
                          "wait for it or stop it first")
    if comparable_scenario(old["scenario"]) != comparable_scenario(scenario):
        diff = sorted(k for k in set(old["scenario"]) | set(scenario) if k not in ("path", "output")
                      and json.dumps(old["scenario"].get(k), sort_keys=True, default=str)
                      != json.dumps(scenario.get(k), sort_keys=True, default=str))
        raise SimnetError(f"--resume: {out} holds a run of another scenario (differs in: {', '.join(diff)}); "
                          "resume with the same file, --seed, --quick and --set, or give another --out")
    recorded = old.get("finished_variants")
    if not isinstance(recorded, dict):
        recorded = {}
    summary = _read_table(out / "summary.csv", pd.read_csv)
    tables = {name: _read_table(out / f"{name}.parquet", pd.read_parquet) for name in PARQUET_TABLES}
    finished: dict[str, Any] = {}
    for label in labels:
        rows = recorded.get(label)
        if (isinstance(rows, dict) and summary is not None and (summary.variant == label).sum() == 1
                and all(_count(tables[n], label) == rows.get(n) for n in PARQUET_TABLES)):
            finished[label] = rows
    if summary is not None:
        keep = summary[summary.variant.isin(list(finished))]
        write_summary(out, keep.to_dict("records"))
    for name, df in tables.items():
        if df is not None and not df.variant.isin(list(finished)).all():
            kept = df[df.variant.isin(list(finished))].reset_index(drop=True)
            atomic_write(out / f"{name}.parquet", lambda p, d=kept: d.to_parquet(p, index=False))
    return old, finished


def writer_alive(manifest: dict[str, Any]) -> bool:
    """Whether the process that wrote a manifest is alive on this machine (a reused pid reads as alive)."""
    pid = manifest.get("pid")
    if not isinstance(pid, int) or manifest.get("host") != platform.node() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def _read_table(path: Path, read: Callable[[Path], pd.DataFrame]) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        df = read(path)
    except Exception as err:  # a table the kill cut off cannot be trusted: say which, and how to start over
        raise SimnetError(f"--resume: {path} cannot be read ({type(err).__name__}); pass --overwrite") from None
    if "variant" not in df.columns:
        raise SimnetError(f"--resume: {path} has no 'variant' column (not a simnet table); pass --overwrite")
    return df


def _count(df: pd.DataFrame | None, label: str) -> int:
    return 0 if df is None else int((df.variant == label).sum())
