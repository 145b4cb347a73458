"""Scenario loading: valid files parse; every broken file yields one readable ConfigError line."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from simnet.config import load_scenario, to_dict
from simnet.errors import ConfigError
from simnet.experiments import is_experiment_file, load_experiment
from simnet.sim.world import build_world

ROOT = Path(__file__).resolve().parents[1]
BROKEN = sorted((ROOT / "tests" / "scenarios_broken").glob("*.yaml"))
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted((ROOT / "scenarios" / "paper").glob("*.yaml"))


def test_corpus_is_large_enough():
    assert len(BROKEN) >= 20


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_scenario_gives_one_clear_line(path: Path):
    expect = path.read_bytes().split(b"\n")[0].decode().removeprefix("# expect: ").strip()  # some are not UTF-8
    with pytest.raises(ConfigError) as info:
        if is_experiment_file(path):
            load_experiment(path)
        else:
            scenario = load_scenario(path)
            build_world(scenario, cache_dir=None)  # what only the built source sees (e.g. a preset key's value)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(path))
    assert expect in msg, msg


@pytest.mark.parametrize("quick", [False, True])
@pytest.mark.parametrize("path", SHIPPED, ids=[f"{p.parent.name}/{p.stem}" for p in SHIPPED])
def test_every_shipped_scenario_loads(path: Path, quick: bool):
    if is_experiment_file(path):
        assert load_experiment(path, quick=quick).name == path.stem
    else:
        sc = load_scenario(path, quick=quick)
        assert sc.name == path.stem and sc.policies


def test_tiny_scenario_parses_into_frozen_dataclasses():
    sc = load_scenario(ROOT / "tests" / "data" / "tiny.yaml")
    assert sc.seed == 3 and sc.ues.count == 2 and sc.system.num_bs_ant == 4
    assert sc.uplink.rate_bps == 1e5 and sc.policies[0].label == "never"
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.ues.count = 5  # type: ignore[misc]
    assert to_dict(sc)["channel"]["kwargs"] == {"preset": "o2_dynamic_like"}
    assert load_scenario(ROOT / "tests" / "data" / "tiny.yaml", seed=9).seed == 9


def test_sweep_expands_into_labelled_variants(tmp_path: Path):
    text = (ROOT / "tests" / "data" / "tiny.yaml").read_text()
    text = text.replace("  - type: never", "  - type: never\n  - type: never\n    label: again\n    sweep: {}")
    p = tmp_path / "s.yaml"
    p.write_text(text)
    assert [s.label for s in load_scenario(p).policies] == ["never", "again"]


def test_quick_block_overrides(tmp_path: Path):
    text = (ROOT / "tests" / "data" / "tiny.yaml").read_text() + "quick: {ues: {count: 1}}\n"
    p = tmp_path / "q.yaml"
    p.write_text(text)
    assert load_scenario(p).ues.count == 2
    assert load_scenario(p, quick=True).ues.count == 1


@pytest.mark.parametrize("name", ["24_unknown_policy.yaml", "01_bad_yaml.yaml", "13_report_spacing_not_multiple.yaml",
                                  "29_experiment_unknown_type.yaml", "33_experiment_missing_checkpoint.yaml"])
def test_cli_prints_one_line_and_no_traceback(name: str, tmp_path: Path):
    proc = subprocess.run([sys.executable, str(ROOT / "run_sim.py"), str(ROOT / "tests" / "scenarios_broken" / name),
                           "--out", str(tmp_path / "out"), "--quiet", "--no-cache"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert not (tmp_path / "out").exists()  # nothing written before the scenario was validated


def test_set_overrides_are_validated_like_the_file(tmp_path: Path):
    from simnet.config import parse_overrides

    sc = load_scenario(ROOT / "tests" / "data" / "tiny.yaml", overrides=parse_overrides(["ues.count=5",
                                                                                         "uplink.discipline=csi-first"]))
    assert sc.ues.count == 5 and sc.uplink.discipline == "csi-first"
    with pytest.raises(ConfigError, match="did you mean 'count'"):
        load_scenario(ROOT / "tests" / "data" / "tiny.yaml", overrides=parse_overrides(["ues.cout=5"]))
    with pytest.raises(ConfigError, match="KEY.PATH=VALUE"):
        parse_overrides(["ues.count"])
    with pytest.raises(ConfigError, match=r"uplnk: unknown section \(from --set\); did you mean 'uplink'\?"):
        load_scenario(ROOT / "tests" / "data" / "tiny.yaml", overrides=parse_overrides(["uplnk.rate_bps=1"]))
    with pytest.raises(ConfigError, match=r"quick.uplnk: unknown section; did you mean 'uplink'\?"):
        load_scenario(ROOT / "tests" / "data" / "tiny.yaml", overrides=parse_overrides(["quick.uplnk.rate_bps=1"]))
    with pytest.raises(ConfigError, match=r"channel.carrier_hz: is set by the system section"):
        load_scenario(ROOT / "tests" / "data" / "tiny.yaml", overrides=parse_overrides(["channel.carrier_hz=3.7e9"]))
    sc = load_scenario(ROOT / "tests" / "data" / "tiny.yaml", quick=True,
                       overrides=parse_overrides(["quick.ues.count=1", "uplink.rate_bps=2e4"]))
    assert sc.ues.count == 1 and sc.uplink.rate_bps == 2e4  # --set reaches the quick block, and wins over it


def test_corrupt_checkpoint_is_one_clear_error(tmp_path: Path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"this is not a torch checkpoint")
    with pytest.raises(ConfigError) as info:  # at load time, before any folder or channel
        load_scenario(ROOT / "tests" / "data" / "tiny.yaml",
                      overrides={"codec": {"type": "learned-transform", "checkpoint": str(bad)}})
    msg = str(info.value)
    assert "\n" not in msg and "codec.checkpoint: " in msg and "broken.pt' is not a checkpoint" in msg
