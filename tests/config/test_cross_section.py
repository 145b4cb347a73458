"""Facts across sections, settled at load: system vs the channel preset, the codec's checkpoint and lambda,
the report spacing. Every refusal comes before any folder or channel exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from simnet.codecs import DEFAULT_LMBDA
from simnet.config import load_scenario, parse_overrides
from simnet.errors import ConfigError
from tests.paths import ROOT, TINY

SMOKE = ROOT / "scenarios" / "smoke.yaml"


def _load(path: Path, *values: str):
    return load_scenario(path, overrides=parse_overrides(list(values)))


def _without_system(tmp_path: Path, preset: str) -> Path:
    text = TINY.read_text().replace("preset: o2_dynamic_like", f"preset: {preset}")
    path = tmp_path / "no_system.yaml"
    path.write_text("\n".join(line for line in text.splitlines() if not line.startswith("system:")) + "\n")
    return path


def test_the_preset_fills_what_system_leaves_out(tmp_path: Path):
    sc = load_scenario(_without_system(tmp_path, "quadriga_track"))
    s = sc.system
    assert (s.carrier_hz, s.bandwidth_hz, s.num_subcarriers, s.bs_array) == (3.7e9, 50e6, 64, (8, 8))
    assert s.snr_db == 10.0  # not a grid key: the section's default


def test_keys_that_system_sets_win_over_the_preset_except_a_disagreeing_carrier():
    sc = _load(TINY)  # the o2_dynamic_like preset on a 2 x 2 array and 8 subcarriers of 20 MHz
    assert (sc.system.bandwidth_hz, sc.system.num_subcarriers, sc.system.bs_array) == (20e6, 8, (2, 2))
    with pytest.raises(ConfigError, match=r"smoke.yaml: system.carrier_hz: 3.5e\+09 disagrees with channel.preset "
                                          r"'quadriga_track', which is made for carrier_hz = 3.7e\+09; set "
                                          r"system.carrier_hz=3.7e\+09 or leave it out"):
        _load(SMOKE, "channel.preset=quadriga_track")
    assert _load(SMOKE, "channel.preset=quadriga_track", "system.carrier_hz=3.7e9").system.carrier_hz == 3.7e9


def test_codec_checkpoint_is_checked_against_type_system_and_options_at_load():
    with pytest.raises(ConfigError, match=r"codec.type: 'rd-crnet' but codec.checkpoint 'default' holds a "
                                         r"'learned-transform'"):
        _load(SMOKE, "codec.type=rd-crnet")
    with pytest.raises(ConfigError, match=r"tiny.yaml: codec: the codec works on 64 antennas x 64 subcarriers but "
                                          r"system has 4 x 8"):
        _load(TINY, "codec.type=learned-transform", "codec.checkpoint=default")
    with pytest.raises(ConfigError, match=r"codec.init_step: is fixed by codec.checkpoint \(the checkpoint holds "
                                          r"the codec's options; beside it learned-transform takes only "
                                          r"checkpoint, lmbda\); remove it or drop the checkpoint$"):
        _load(SMOKE, "codec.init_step=2")
    with pytest.raises(ConfigError, match=r"codec.checkpoint: 'nope' not found \(give 'default'"):
        _load(SMOKE, "codec.checkpoint=nope")


INR = ("codec.type=csi-inr", "codec.checkpoint=csi-inr_lambda1")


def test_beside_a_checkpoint_a_codec_takes_only_its_load_options():
    assert _load(SMOKE, *INR, "codec.bit_depth=6", "codec.num_inner_steps=2").codec.kw()["bit_depth"] == 6
    with pytest.raises(ConfigError) as err:
        _load(SMOKE, *INR, "codec.hidden=32")  # the network's width: a retraining, not a load-time setting
    assert str(err.value) == (f"{SMOKE}: codec.hidden: is fixed by codec.checkpoint (the checkpoint holds the "
                              f"codec's options; beside it csi-inr takes only checkpoint, lmbda, bit_depth, "
                              f"num_inner_steps); remove it or drop the checkpoint")


def test_a_bit_depth_beside_a_checkpoint_sets_the_loaded_codecs_payload():
    from simnet.sim.world import build_codec
    from tests.codecs.conftest import few_path_channels

    h = few_path_channels(4, 64, 64, seed=3)
    bits, symbols = {}, {}
    for depth in (None, 4, 6):
        sc = _load(SMOKE, *INR, *([f"codec.bit_depth={depth}"] if depth else []))
        codec, info = build_codec(sc.codec, sc.system)
        assert info["checkpoint_sha256"] == codec.checkpoint_sha256 and info["lmbda"] == 1.0  # the checkpoint's
        bits[depth] = sum(8 * len(s) for s in codec.compress(h))
        symbols[depth] = int(codec.quantize(h)[1].max())
    assert symbols[4] < 2**4 <= symbols[None] and symbols[6] < 2**6  # the checkpoint's own depth is 8
    assert bits[4] < bits[6] < bits[None], bits
    sc = _load(SMOKE, *INR, "codec.bit_depth=20")  # its range is the constructor's, checked when it is applied
    with pytest.raises(ConfigError, match=r"^scenario: codec: csi-inr bit_depth = 20: must be an integer in "
                                          r"\[3, 14\]$"):
        build_codec(sc.codec, sc.system)


def test_lambda_is_resolved_once_checkpoint_then_block_then_default():
    assert _load(SMOKE).codec.resolved.lmbda == 1.0  # learned-transform_lambda1.pt's metadata
    assert _load(SMOKE, "codec.lmbda=1").codec.resolved.lmbda == 1.0  # agreeing is allowed
    with pytest.raises(ConfigError, match=r"codec.lmbda: 4 disagrees with the lambda 1 that checkpoint 'default'"):
        _load(SMOKE, "codec.lmbda=4")
    assert _load(TINY).codec.resolved.lmbda == DEFAULT_LMBDA
    assert _load(TINY, "codec.type=learned-transform", "codec.lmbda=4").codec.resolved.lmbda == 4.0


def test_a_codec_without_checkpoint_is_ranked_and_fine_tuned_with_the_same_lambda():
    from simnet.learning.finetune import FinetuneConfig, _lmbda
    from simnet.sim.world import build_codec

    for values, expect in ((["codec.lmbda=4"], 4.0), ([], DEFAULT_LMBDA)):
        sc = _load(TINY, "codec.type=learned-transform", *values)
        codec, info = build_codec(sc.codec, sc.system)
        assert info["lmbda"] == _lmbda(codec, FinetuneConfig()) == expect  # tables and training agree
    assert _lmbda(codec, FinetuneConfig(lmbda=8.0)) == 8.0  # a policy's own lambda: training only


def test_report_spacing_is_checked_at_load():
    with pytest.raises(ConfigError, match=r"ues.report_spacing_m: value 0.75 must be a whole multiple of "
                                          r"ues.sample_spacing_m = 0.5"):
        _load(TINY, "ues.report_spacing_m=0.75")
