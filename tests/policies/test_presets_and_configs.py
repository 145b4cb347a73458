"""Named presets (policies/presets.yaml), configs built once at load time, each policy's learning interval."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from policies import POLICIES, PRESETS, Observation, build_config, expand_preset
from policies.drift import Drift, DriftConfig
from policies.how import FullModel, Gated
from policies.when import DriftStatistic, FirstOf, Probing
from simnet.config import load_scenario
from simnet.errors import ConfigError
from tests.paths import TINY
from tests.policies.test_contract import FAST, ToyCodec, csi, walk


def _scenario(tmp_path: Path, policies: str) -> Path:
    text = TINY.read_text().replace("policies:\n  - type: never\n", f"policies:\n{policies}")
    text = text.replace("codec: {type: raw}", "codec: {type: learned-transform}")  # raw has nothing to fine-tune
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


def test_a_preset_expands_to_its_type_label_and_keywords_and_the_entry_overrides() -> None:
    block = expand_preset({"preset": "drift-shadow", "steps": 30, "payback_reports": 7})
    assert block["type"] == "drift" and block["label"] == "drift-shadow" and block["steps"] == 30
    assert block["payback_reports"] == 7 and block["shadow"] is True and block["probe_m"] == 2.0
    assert expand_preset({"preset": "drift-gate", "label": "mine"})["label"] == "mine"
    assert expand_preset({"type": "never"}) == {"type": "never"}


@pytest.mark.parametrize(("entry", "match"), [({"preset": "drift-shadw"}, "did you mean 'drift-shadow'"),
                                              ({"preset": "drift-gate", "type": "periodic"}, "give one of them"),
                                              ({"preset": 3}, "unknown preset")])
def test_a_bad_preset_is_one_line(entry: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        expand_preset(entry)
    assert "\n" not in str(err.value)


def test_every_preset_is_a_valid_policy() -> None:
    assert set(PRESETS) == {"drift-gate", "drift-probe", "drift-shadow"}
    for name, block in PRESETS.items():
        kwargs = {k: v for k, v in block.items() if k != "type"}
        assert isinstance(build_config(block["type"], kwargs), DriftConfig), name


def test_a_scenario_preset_entry_loads_as_the_spelled_out_block(tmp_path: Path) -> None:
    spelled = "\n".join(f"    {k}: {str(v).lower() if isinstance(v, bool) else v}"
                        for k, v in PRESETS["drift-shadow"].items() if k != "type")
    a = load_scenario(_scenario(tmp_path, "  - {preset: drift-shadow, steps: 30}\n")).policies[0]
    b = load_scenario(_scenario(tmp_path, f"  - type: drift\n    label: drift-shadow\n    steps: 30\n{spelled}\n"))
    assert (a.label, a.type, a.kwargs) == (b.policies[0].label, b.policies[0].type, b.policies[0].kwargs)
    assert a.config == b.policies[0].config


def test_a_bad_preset_in_a_scenario_names_the_entry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"policies\[0\]\.preset: unknown preset 'nope'"):
        load_scenario(_scenario(tmp_path, "  - {preset: nope}\n"))


def test_the_loader_parses_each_variant_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict] = []
    parse = Drift.parse.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(Drift, "parse", classmethod(lambda cls, kw: calls.append(dict(kw)) or parse(cls, kw)))
    sc = load_scenario(_scenario(tmp_path, "  - {preset: drift-gate, steps: 3, sweep: {payback_reports: [5, 6]}}\n"))
    assert [c["payback_reports"] for c in calls] == [5, 6]
    configs = [s.config for s in sc.policies]  # held by the spec: no parsing again
    assert len(calls) == 2 and [c.gate.payback_reports for c in configs] == [5, 6]


def test_a_policy_built_from_its_config_behaves_as_one_built_from_keywords() -> None:
    kwargs = {**FAST, "check_fraction": 0.25, "min_check_samples": 3, "probe_m": 2.0, "probe_max_m": 8.0}
    a, b = POLICIES.get("drift")(build_config("drift", kwargs)), POLICIES.make("drift", **kwargs)
    for p in (a, b):
        p.reset(np.random.default_rng(0))
    obs = walk(12.0)
    fired = [[o.distance_m for o in obs if p.should_update(o)] for p in (a, b)]
    assert fired[0] == fired[1] and fired[0]
    ua, ub = (p.update(ToyCodec(), csi(1), np.random.default_rng(3)) for p in (a, b))
    assert ua.info == ub.info and ua.payload == ub.payload
    with pytest.raises(TypeError, match="not both"):
        POLICIES.get("drift")(build_config("drift", {}), steps=3)


def test_drift_shadow_reads_as_its_parts() -> None:
    block = {k: v for k, v in PRESETS["drift-shadow"].items() if k != "type"}
    policy = POLICIES.get("drift")(build_config("drift", block))
    assert isinstance(policy.when, FirstOf) and [type(p) for p in policy.when.parts] == [Probing, DriftStatistic]
    assert isinstance(policy.how, Gated) and policy.how.finetune.gate.shadow and policy.delivery == "uplink"
    assert isinstance(POLICIES.make("drift").how, FullModel)


@pytest.mark.parametrize(("name", "kwargs", "interval_m"), [
    ("periodic", {"interval_m": 4}, 4.0), ("periodic", {}, 10.0), ("encoder-only", {}, 5.0),
    ("genie", {"interval_m": 8}, 8.0), ("translation", {"interval_m": 2.5}, 2.5), ("never", {}, math.inf),
    ("drift", {}, math.nan), ("drift", {k: v for k, v in PRESETS["drift-probe"].items() if k != "type"}, math.nan),
    ("drift", {k: v for k, v in PRESETS["drift-shadow"].items() if k != "type"}, 2.0),
])
def test_each_policy_reports_its_own_learning_interval(name: str, kwargs: dict, interval_m: float) -> None:
    cfg = build_config(name, kwargs)
    for value in (cfg.learning_interval_m(), POLICIES.get(name)(cfg).learning_interval_m()):
        assert value == interval_m or (math.isnan(value) and math.isnan(interval_m))


def test_drift_shadow_learns_every_2_m_on_a_flat_track() -> None:
    block = {k: v for k, v in PRESETS["drift-shadow"].items() if k != "type"}
    policy = POLICIES.make("drift", **block)
    policy.reset(np.random.default_rng(0))
    fired = [k * 0.5 for k in range(25) if policy.should_update(Observation(k, 0.5 * k, k, -15.0, 400, k, False))]
    assert fired == [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
