"""Typed part configs: channel and codec blocks validated once at load, frozen, with the file's keywords kept."""

from __future__ import annotations

import dataclasses

import pytest

from simnet.config import load_scenario, parse_overrides, to_dict
from simnet.config.parts import part_config_class
from simnet.errors import ConfigError
from tests.paths import TINY


def _load(*values: str):
    return load_scenario(TINY, overrides=parse_overrides(list(values)))


def test_channel_block_becomes_a_frozen_typed_config_that_keeps_the_files_keywords():
    sc = _load()
    assert sc.channel.type == "geometric" and sc.channel.kw() == {"preset": "o2_dynamic_like"}
    assert sc.channel.get("engine") == "fast" and sc.channel.get("num_workers") == 1  # constructor defaults
    assert to_dict(sc)["channel"] == {"type": "geometric", "kwargs": {"preset": "o2_dynamic_like"}}  # manifest
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.channel.options.preset = "o1_like"


@pytest.mark.parametrize(("values", "expect"), [
    (["channel.presett=o1_like"], "channel.presett: unknown key; did you mean 'preset'?"),
    (["channel.num_workerz=2"], "channel.num_workerz: unknown key; did you mean 'num_workers'?"),
    (["channel.num_workers=two"], "channel.num_workers: must be an integer, got a string 'two'"),
    (["channel.preset=3"], "channel.preset: must be a string, got an integer 3"),
    (["channel.tracks=3"], "channel.tracks: value 3 is invalid: Input should be a valid list"),
    (["channel.site_spacing_m=wide"], "channel.site_spacing_m: must be a number, got a string 'wide'"),
    (["channel.seed=4"], "channel.seed: is drawn from the scenario's seed"),
    (["channel.preset=o2_dynamic"], "channel.preset: unknown geometric preset 'o2_dynamic'; did you mean "
                                    "'o2_dynamic_like'?"),
    (["codec.type=learned-transform", "codec.init_stepp=2"],
     "codec.init_stepp: unknown key; did you mean 'init_step'?"),
    (["codec.type=learned-transform", "codec.init_step=big"], "codec.init_step: must be a number, got a string 'big'"),
    (["codec.lmbda=0"], "codec.lmbda: value 0 is out of range (allowed: > 0"),
    (["codec.num_bs_ant=4"], "codec.num_bs_ant: is set by the system section"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_part_keywords_fail_at_load_time_with_one_line(values: list[str], expect: str):
    with pytest.raises(ConfigError) as info:
        _load(*values)
    assert expect in str(info.value) and "\n" not in str(info.value)


def test_preset_keys_of_the_block_are_typed_and_kept_as_validated():
    sc = _load("channel.bs_pos_m=[0, 0, 6]")
    assert sc.channel.kw() == {"bs_pos_m": [0.0, 0.0, 6.0], "preset": "o2_dynamic_like"}


def test_config_class_leaves_out_what_system_sets_and_adds_the_codec_block_options():
    from simnet.channels import GeometricSource
    from simnet.codecs import EType2Codec, LearnedTransformCodec

    channel = {f.name for f in dataclasses.fields(part_config_class("channel", GeometricSource))}
    assert {"preset", "normalization", "vehicles", "site_spacing_m"} <= channel
    assert not channel & {"seed", "carrier_hz", "bandwidth_hz", "num_subcarriers", "bs_array"}
    codec = {f.name for f in dataclasses.fields(part_config_class("codec", LearnedTransformCodec))}
    assert {"init_step", "checkpoint", "lmbda"} <= codec and not codec & {"num_bs_ant", "num_subcarriers"}
    etype2 = part_config_class("codec", EType2Codec)
    assert etype2().bs_array is None  # the codebook's array comes from system unless the block gives it


def test_choices_of_a_channel_source_are_checked_at_load():
    with pytest.raises(ConfigError, match=r"channel.normalization: value 'peak' is invalid: Input should be 'area', "
                                          r"'none' or 'per_sample'"):
        _load("channel.normalization=peak")
    with pytest.raises(ConfigError, match=r"channel.engine: value 'slow' is invalid: Input should be 'fast' or 'full'"):
        _load("channel.engine=slow")


def test_a_codebook_that_does_not_fit_the_system_fails_at_load():
    with pytest.raises(ConfigError, match=r"tiny.yaml: codec: param_combination = 7: L = 6 beams need at least 6 "
                                          r"ports"):
        _load("codec.type=etype2", "codec.param_combination=7")  # the 2 x 2 array has 4 ports
