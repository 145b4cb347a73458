"""Run folders: where a run may write, what ``--overwrite`` removes, and the mode of the files written."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simnet.analysis.results import RUN_FIGURES, RUN_FILES, prepare_run_dir, write_manifest
from simnet.cli import run_sim_main
from simnet.errors import SimnetError
from simnet.files import atomic_write, new_file_mode
from tests.paths import TINY

WRITTEN = RUN_FILES + RUN_FIGURES


@pytest.fixture
def umask() -> Iterator[Any]:
    before = os.umask(0o022)
    yield os.umask
    os.umask(before)


@pytest.mark.parametrize("name", ["reports.parquet", "summary.csv", "rd.png"])
def test_a_folder_holding_run_files_without_a_manifest_is_refused(tmp_path: Path, name: str):
    (tmp_path / name).write_bytes(b"someone's own file")
    with pytest.raises(SimnetError, match=rf"holds files a run writes \({name}\).*--overwrite"):
        prepare_run_dir(str(tmp_path), "x", "", False, WRITTEN)
    assert (tmp_path / name).read_bytes() == b"someone's own file"


def test_a_folder_holding_a_run_names_its_status_and_how_to_finish_it(tmp_path: Path):
    write_manifest(tmp_path, {"status": "failed"})
    with pytest.raises(SimnetError, match=r"status: failed\); give another --out, pass --resume to finish it"):
        prepare_run_dir(str(tmp_path), "x", "", False, WRITTEN)
    write_manifest(tmp_path, {"status": "complete"})
    with pytest.raises(SimnetError, match=r"status: complete\); give another --out, or pass --overwrite"):
        prepare_run_dir(str(tmp_path), "x", "", False, WRITTEN)
    assert prepare_run_dir(str(tmp_path), "x", "", False, WRITTEN, resume=True) == tmp_path
    assert (tmp_path / "manifest.json").is_file()  # resume keeps the run for the caller to check


def test_overwrite_removes_every_file_a_run_writes_and_nothing_else(tmp_path: Path):
    for name in (*WRITTEN, "notes.txt"):
        (tmp_path / name).write_text("old")
    prepare_run_dir(str(tmp_path), "x", "", True, WRITTEN)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_an_empty_or_unrelated_folder_is_used_as_it_is(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("mine")
    assert prepare_run_dir(str(tmp_path), "x", "", False, WRITTEN) == tmp_path
    assert prepare_run_dir(str(tmp_path / "a" / "b"), "x", "", False, WRITTEN).is_dir()


def test_out_that_is_a_file_or_under_a_file_is_one_line(tmp_path: Path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(SimnetError, match=r"--out .*afile is a file; give a folder"):
        prepare_run_dir(str(afile), "x", "", False, WRITTEN)
    with pytest.raises(SimnetError, match=r"--out .*afile/run lies under the file .*afile; give a folder"):
        prepare_run_dir(str(afile / "run"), "x", "", False, WRITTEN)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_in_a_read_only_folder_is_one_line(tmp_path: Path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(SimnetError, match="is not writable; give a writable folder"):
            prepare_run_dir(str(tmp_path / "run"), "x", "", False, WRITTEN)
    finally:
        tmp_path.chmod(0o755)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_out_where_the_system_refuses_a_folder_is_one_line(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(SimnetError, match=r"^--out /proc/self/simnet-run: /proc/self is not writable"):
        prepare_run_dir("/proc/self/simnet-run", "x", "", False, WRITTEN)
    monkeypatch.setattr(os, "access", lambda *a, **k: True)  # past the check, the kernel still says no
    with pytest.raises(SimnetError, match=r"^--out /proc/self/simnet-run: cannot write there \(.+\); give a"):
        prepare_run_dir("/proc/self/simnet-run", "x", "", False, WRITTEN)


def test_the_cli_says_one_line_for_a_bad_out_and_for_resume_with_overwrite(tmp_path: Path, capsys: Any):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert run_sim_main([str(TINY), "--out", str(afile / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out") and err.count("\n") == 1
    assert run_sim_main([str(TINY), "--out", str(tmp_path / "r"), "--resume", "--overwrite"]) == 2
    assert "give one of them" in capsys.readouterr().err
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "slots.parquet").write_bytes(b"PAR1")
    assert run_sim_main([str(TINY), "--out", str(tmp_path / "t"), "--resume"]) == 2
    assert "no manifest.json" in capsys.readouterr().err and not (tmp_path / "t" / "manifest.json").exists()


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_written_files_follow_the_umask(tmp_path: Path, umask: Any, mask: int):
    umask(mask)
    assert new_file_mode() == 0o666 & ~mask
    path = tmp_path / "table.csv"
    atomic_write(path, lambda p: p.write_text("a,b\n"))
    plain = tmp_path / "plain.txt"
    plain.write_text("like any other file")
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o666 & ~mask


def test_resume_into_a_folder_without_a_run_starts_one(tmp_path: Path):
    out = tmp_path / "fresh"
    assert run_sim_main([str(TINY), "--out", str(out), "--resume", "--quiet", "--workers", "1",
                         "--cache-dir", str(tmp_path / "cache")]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and list(manifest["finished_variants"]) == ["never"]
    assert "resumed" not in manifest
    assert stat.S_IMODE((out / "summary.csv").stat().st_mode) == new_file_mode()
