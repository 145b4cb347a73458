"""Faults during a run: signals leave no live worker, failures and interrupts are recorded in the manifest,
``--resume`` finishes an interrupted run with the same summary.csv, ``simnet plot`` says what it draws."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import simnet.sim.sweep
from simnet.analysis.results import PARQUET_TABLES
from simnet.cli import main, run_sim_main
from tests.paths import ROOT

# learned-transform on a 2 x 2 array, 8 subcarriers: three variants with real coded updates, a second or so each
THREE_VARIANTS = """name: faults
seed: 4
system: {carrier_hz: 3.5e9, bandwidth_hz: 20.0e6, num_subcarriers: 8, bs_array: [2, 2], snr_db: 10}
channel: {type: geometric, preset: o2_dynamic_like}
ues: {count: 2, speed_mps: 1.4, sample_spacing_m: 0.05, report_spacing_m: 0.05, track_length_m: 0.3, window_max: 4}
codec: {type: learned-transform, num_delay_taps: 4, num_precursor_taps: 1}
uplink: {rate_bps: 4.0e4, discipline: fifo}
downlink: {slot_period_s: 0.02}
policies:
  - type: never
  - type: periodic
    steps: 1
    batch_size: 4
    sweep: {interval_m: [0.15, 0.3]}
output: {plots: true}
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "faults.yaml"
    path.write_text(THREE_VARIANTS)
    return path


def _args(scenario: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return [str(scenario), "--out", str(out), "--quiet", "--workers", "1", "--cache-dir", str(cache), *extra]


def _manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "manifest.json").read_text())


def _stop_after_first(exc: BaseException) -> Any:
    """A ``run_variants`` that yields the first variant, then raises ``exc`` as a signal or crash would."""
    real = simnet.sim.sweep.run_variants

    def run_variants(*args: Any, **kwargs: Any) -> Iterator[Any]:
        results = real(*args, **kwargs)
        yield next(results)
        results.close()
        raise exc

    return run_variants


def test_interrupted_run_resumes_to_the_same_summary_and_tables(scenario: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch, capsys: Any):
    cache, whole, cut = tmp_path / "cache", tmp_path / "whole", tmp_path / "cut"
    assert run_sim_main(_args(scenario, whole, cache)) == 0
    with monkeypatch.context() as m:
        m.setattr(simnet.sim.sweep, "run_variants", _stop_after_first(KeyboardInterrupt()))
        assert run_sim_main(_args(scenario, cut, cache)) == 130
    err = capsys.readouterr().err
    assert "--resume" in err and "Traceback" not in err
    manifest = _manifest(cut)
    assert manifest["status"] == "interrupted" and list(manifest["finished_variants"]) == ["never"]
    assert list(pd.read_csv(cut / "summary.csv").variant) == ["never"]
    assert "**Interrupted run:** 1 of 3 variants finished (never)" in (cut / "report.md").read_text()

    # simnet plot draws what is there and says so in one line
    assert main(["plot", str(cut)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0] and "1 of 3 variants" in err[0]
    assert (cut / "rd.png").is_file()

    # a kill between two tables leaves rows of an unfinished variant: --resume drops them
    reports, whole_reports = pd.read_parquet(cut / "reports.parquet"), pd.read_parquet(whole / "reports.parquet")
    extra = whole_reports[whole_reports.variant == "periodic[interval_m=0.15]"].head(3)
    assert len(extra) == 3
    pd.concat([reports, extra], ignore_index=True).to_parquet(cut / "reports.parquet", index=False)

    # a plain rerun is refused, a resume of another scenario (seed) too, both in one line
    assert run_sim_main(_args(scenario, cut, cache)) == 2
    assert "status: interrupted" in capsys.readouterr().err
    assert run_sim_main(_args(scenario, cut, cache, "--resume", "--seed", "9")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "another scenario (differs in: seed)" in err
    assert _manifest(cut)["status"] == "interrupted"  # the refused resumes changed nothing

    assert run_sim_main(_args(scenario, cut, cache, "--resume")) == 0
    assert (cut / "summary.csv").read_bytes() == (whole / "summary.csv").read_bytes()
    for name in PARQUET_TABLES:
        pd.testing.assert_frame_equal(pd.read_parquet(cut / f"{name}.parquet"),
                                      pd.read_parquet(whole / f"{name}.parquet"))
    manifest = _manifest(cut)
    assert manifest["status"] == "complete" and [r["status"] for r in manifest["resumed"]] == ["interrupted"]
    assert "Interrupted" not in (cut / "report.md").read_text()
    assert sorted(manifest["figures"]) == sorted(_manifest(whole)["figures"])

    # resuming a complete run runs nothing and changes no number
    assert run_sim_main(_args(scenario, cut, cache, "--resume", "--no-plots")) == 0
    assert (cut / "summary.csv").read_bytes() == (whole / "summary.csv").read_bytes()


def test_a_crash_mid_run_marks_the_manifest_failed_in_one_line(scenario: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, capsys: Any):
    out = tmp_path / "run"
    crash = _stop_after_first(ZeroDivisionError("float division by zero"))
    monkeypatch.setattr(simnet.sim.sweep, "run_variants", crash)
    assert run_sim_main(_args(scenario, out, tmp_path / "cache")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: run failed: ZeroDivisionError: float division by zero") and err.count("\n") == 1
    assert "Traceback" not in err
    manifest = _manifest(out)
    assert manifest["status"] == "failed" and manifest["error"] == "ZeroDivisionError: float division by zero"
    assert "Traceback (most recent call last)" in manifest["traceback"]
    assert "**Failed run:** 1 of 3 variants finished" in (out / "report.md").read_text()
    assert main(["plot", str(out)]) == 0
    assert "failed (ZeroDivisionError: float division by zero)" in capsys.readouterr().err


def test_plot_of_a_run_that_finished_no_variant_refuses_in_one_line(tmp_path: Path, capsys: Any):
    import platform

    (tmp_path / "manifest.json").write_text(json.dumps({"status": "running", "finished_variants": {}}))
    assert main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "was killed before it could record its end" in err and "nothing to draw" in err
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "manifest.json").write_text(json.dumps(
            {"status": "running", "pid": writer.pid, "host": platform.node(), "scenario": [1]}))
        assert main(["plot", str(tmp_path)]) == 2
        assert f"this run is still running (process {writer.pid}), before any" in capsys.readouterr().err
    finally:
        writer.kill()
        writer.wait()


def test_resume_refuses_a_folder_whose_run_is_still_alive(scenario: Path, tmp_path: Path, capsys: Any):
    import platform

    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "manifest.json").write_text(json.dumps(
            {"status": "running", "pid": writer.pid, "host": platform.node(), "scenario": {"name": "other"}}))
        assert run_sim_main(_args(scenario, tmp_path / "run", tmp_path / "cache", "--resume")) == 2
        assert f"still being written by process {writer.pid}" in capsys.readouterr().err
    finally:
        writer.kill()
        writer.wait()
    assert run_sim_main(_args(scenario, tmp_path / "run", tmp_path / "cache", "--resume")) == 2
    assert "another scenario" in capsys.readouterr().err  # a dead writer's run may be resumed (if it matches)


def _orphan(setup: Any) -> int:
    """Fork a child that forks a grandchild running ``setup(child_pid)`` and then sleeping; the child exits at
    once. Returns the grandchild's pid: it lives on unless ``setup`` makes it end with its parent."""
    armed_r, armed_w = os.pipe()  # grandchild -> child: the guard is set up
    pid_r, pid_w = os.pipe()  # child -> test: the grandchild's pid
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child
        grandchild = os.fork()
        if grandchild == 0:
            setup(os.getppid())
            os.write(armed_w, b"1")
            time.sleep(30)
            os._exit(0)
        os.read(armed_r, 1)  # exit only once the grandchild is armed
        os.write(pid_w, f"{grandchild}\n".encode())
        os._exit(0)
    for fd in (armed_r, armed_w, pid_w):
        os.close(fd)
    with os.fdopen(pid_r) as pipe:
        orphan = int(pipe.readline())
    os.waitpid(child, 0)
    return orphan


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("setup", [simnet.sim.sweep._die_with_parent, lambda pid: threading.Thread(
    target=simnet.sim.sweep._watch_parent, args=(pid, 0.05), daemon=True).start()], ids=["prctl", "watchdog"])
def test_a_worker_ends_when_its_parent_dies(setup: Any):
    orphan = _orphan(setup)
    try:
        assert _wait(lambda: not _alive(orphan), 5), "the worker outlived its parent"
    finally:
        if _alive(orphan):
            os.kill(orphan, signal.SIGKILL)


def test_an_orphan_without_the_guard_lives_on():
    """The control for the test above: without ``_die_with_parent`` the grandchild outlives its parent."""
    orphan = _orphan(lambda pid: None)
    try:
        time.sleep(0.5)
        assert _alive(orphan)
    finally:
        os.kill(orphan, signal.SIGKILL)


# ---- signals: a real run with two worker processes, in a subprocess -----------------------------------

LONG_VARIANTS = THREE_VARIANTS.replace("track_length_m: 0.3", "track_length_m: 60").replace(
    "output: {plots: true}", "output: {plots: false}")


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status is left to collect


def _wait(condition: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_and_sigkill_of_the_main_process_leave_no_live_worker(tmp_path: Path):
    scenario = tmp_path / "long.yaml"
    scenario.write_text(LONG_VARIANTS)
    procs = {}
    for sig in (signal.SIGTERM, signal.SIGKILL):  # both at once: the two runs share the wait for their workers
        out = tmp_path / sig.name
        procs[sig] = (out, subprocess.Popen(
            [sys.executable, str(ROOT / "run_sim.py"), str(scenario), "--out", str(out), "--quiet", "--no-cache",
             "--workers", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        workers = {}
        for sig, (_, proc) in procs.items():
            assert _wait(lambda p=proc: len(_children(p.pid)) >= 2 or p.poll() is not None, 120), "no workers"
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            workers[sig] = _children(proc.pid)
            assert all(_alive(w) for w in workers[sig])
        for sig, (_, proc) in procs.items():
            os.kill(proc.pid, sig)
        for sig, (out, proc) in procs.items():
            _, stderr = proc.communicate(timeout=60)
            assert _wait(lambda s=sig: not any(_alive(w) for w in workers[s]), 10), f"{sig.name}: workers alive"
            if sig == signal.SIGTERM:
                assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in stderr, stderr[-2000:]
                assert "stopped by SIGTERM" in stderr and "--resume" in stderr
                assert _manifest(out)["status"] == "interrupted"
            else:
                assert proc.returncode == -signal.SIGKILL
                assert _manifest(out)["status"] == "running"  # nothing can record a SIGKILL; --resume still can
    finally:
        for _, proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
