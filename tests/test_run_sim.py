"""End to end: ``python run_sim.py`` on a tiny real world writes every file, deterministically."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.paths import ROOT

E2E = ROOT / "tests" / "data" / "e2e.yaml"


def _run(out: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run_sim.py"), str(E2E), "--out", str(out), "--quiet",
                           "--cache-dir", str(cache), *extra], capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_run_sim_end_to_end_is_complete_and_deterministic(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    proc = _run(a, tmp_path / "cache", "--workers", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("summary.csv", "reports.parquet", "slots.parquet", "packets.parquet", "finetunes.parquet",
                 "manifest.json", "report.md", "rd.png", "over_distance.png", "rd_vs_interval.png"):
        assert (a / name).is_file(), name
    modes = {name: (a / name).stat().st_mode & 0o777 for name in ("summary.csv", "slots.parquet", "manifest.json",
                                                                   "report.md", "rd.png")}
    assert len(set(modes.values())) == 1, modes  # result files follow the umask like the figures, not 0o600
    summary = pd.read_csv(a / "summary.csv")
    assert list(summary.variant) == ["never", "periodic"]
    never, periodic = summary.iloc[0], summary.iloc[1]
    assert never.num_model_updates == 0 and never.update_bits_per_report == 0
    # 4 m at one update per 2 m: updates at 2 m and 4 m for each of the 2 UEs (if delivered in time)
    assert 2 <= periodic.num_model_updates <= 4
    assert periodic.update_bits_per_report > 0
    packets = pd.read_parquet(a / "packets.parquet")
    csi = packets[(packets.kind == "csi") & (packets.variant == "never")]
    assert csi.bits.mean() == pytest.approx(never.latent_bits_per_report, rel=1e-5)  # real stream sizes
    assert (csi.bits % 8 == 0).all()
    report = (a / "report.md").read_text()
    assert "Reference `never`" in report and "periodic" in report
    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["channel"]["source"] == "geometric"
    assert manifest["seed"] == 1 and manifest["versions"]["torch"]
    import torch  # the lambda the report scored with is the checkpoint's, recorded for later aggregation

    meta = torch.load(manifest["codec"]["checkpoint_path"], map_location="cpu", weights_only=True)["meta"]
    assert manifest["codec"]["lmbda"] == meta["lmbda"] and f"J = {meta['lmbda']:g} x NMSE" in report

    # second run: channels come from the cache, variants run in two processes; tables are identical
    proc = _run(b, tmp_path / "cache", "--no-plots", "--workers", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (a / "summary.csv").read_bytes() == (b / "summary.csv").read_bytes()

    # figures are redrawn from the files alone
    (a / "rd.png").unlink()
    from simnet.cli import main

    assert main(["plot", str(a)]) == 0 and (a / "rd.png").stat().st_size > 10_000
    assert main(["plot", str(tmp_path / "nowhere")]) == 2

    # a finished run folder is never overwritten by accident
    proc = _run(a, tmp_path / "cache")
    assert proc.returncode == 2 and "already holds a run" in proc.stderr and "Traceback" not in proc.stderr
    assert "status: complete" in proc.stderr
    assert (a / "summary.csv").read_bytes() == (b / "summary.csv").read_bytes()


@pytest.mark.slow
def test_ray_executor_gives_the_same_summary(tmp_path: Path):
    pytest.importorskip("ray", reason="Ray is the optional 'cluster' extra")
    a, b = tmp_path / "a", tmp_path / "b"
    assert _run(a, tmp_path / "cache", "--no-plots", "--workers", "1").returncode == 0
    proc = _run(b, tmp_path / "cache", "--no-plots", "--ray", "local")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (a / "summary.csv").read_bytes() == (b / "summary.csv").read_bytes()
