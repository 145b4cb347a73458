"""The codec contract, over EVERY registered codec: a newly registered codec is covered without an edit here.

Each codec is built at a tiny size (8 antennas as a 2 x 4 array, 8 subcarriers). Checked: exact round trips
with real bits, batch-split invariance, determinism, bad streams rejected with one readable line, and, for a
codec with weights, that every fine-tuning policy's update rebuilds the UE's decoder bit for bit at the BS;
a policy that cannot apply to a codec fails at load time with one line.
"""

from __future__ import annotations

import copy
import inspect
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy
import torch
import yaml

from policies import POLICIES
from simnet.codecs import CODECS, RDCodec
from simnet.codecs.fingerprint import decoder_fingerprint
from simnet.coding.updates import decoder_state
from simnet.config import load_scenario
from simnet.errors import ConfigError, DataError
from simnet.sim.packets import ModelUpdate
from tests.codecs.conftest import few_path_channels

BS_ARRAY = (2, 4)
NUM_BS_ANT = BS_ARRAY[0] * BS_ARRAY[1]
NUM_SUBCARRIERS = 8
FAST = {"steps": 3, "batch_size": 8, "lr": 3e-2}
"""Keywords that make every fine-tuning policy quick; the large lr makes 3 steps move decoder parameters past
the update quantizer's step for every codec (a codec's own default lr may be 30x smaller)."""


def finetunable(name: str) -> bool:
    """Whether policies other than ``never`` may run the codec (a codebook or ``raw`` has nothing to train)."""
    factory = CODECS.get(name)
    return bool(getattr(factory, "trainable", True) and getattr(factory, "finetunable", True))


def build(name: str, seed: int = 0) -> Any:
    """A fresh codec at the tiny size, in eval mode; ``seed`` where the codec takes one."""
    factory = CODECS.get(name)
    params = inspect.signature(factory.__init__).parameters
    kwargs: dict[str, Any] = {"num_bs_ant": NUM_BS_ANT, "num_subcarriers": NUM_SUBCARRIERS}
    if not getattr(factory, "trainable", True):
        kwargs["bs_array"] = BS_ARRAY  # a codebook needs the array's shape
    if "seed" in params:
        kwargs["seed"] = seed
    return CODECS.make(name, **kwargs).eval()


def channels(num: int = 6, seed: int = 0) -> np.ndarray:
    """[num, 8, 8] complex64 few-path channels, report 2 all zeros."""
    h = few_path_channels(num, NUM_BS_ANT, NUM_SUBCARRIERS, seed=seed)
    h[2] = 0
    return h


@pytest.fixture(scope="module")
def h() -> np.ndarray:
    return channels()


@pytest.mark.parametrize("name", CODECS.names())
def test_round_trip_is_exact_with_real_bits(name: str, h: np.ndarray) -> None:
    codec = build(name)
    streams, h_hat = codec.compress_with_reconstruction(h)
    assert streams == codec.compress(h)
    assert all(type(s) is bytes and len(s) > 0 for s in streams)
    decoded = codec.decompress(streams)
    assert decoded.shape == h.shape and decoded.dtype == np.complex64 and np.isfinite(decoded).all()
    np.testing.assert_array_equal(decoded, h_hat)
    if hasattr(codec, "reconstruct"):
        h_rec, bits = codec.reconstruct(h)
        np.testing.assert_array_equal(h_rec, h_hat)
        np.testing.assert_array_equal(bits, [8 * len(s) for s in streams])
    assert codec.decompress([]).shape == (0, NUM_BS_ANT, NUM_SUBCARRIERS)


@pytest.mark.parametrize("name", CODECS.names())
def test_streams_of_a_batch_are_the_streams_of_its_parts(name: str, h: np.ndarray) -> None:
    codec = build(name)
    streams = codec.compress(h)
    assert codec.compress(h[:3]) + codec.compress(h[3:]) == streams
    assert [codec.compress(h[i : i + 1])[0] for i in range(len(h))] == streams
    decoded = codec.decompress(streams)
    halves = np.concatenate([codec.decompress(streams[:3]), codec.decompress(streams[3:])])
    np.testing.assert_allclose(halves, decoded, rtol=1e-5, atol=1e-6 * float(np.abs(decoded).max()))


@pytest.mark.parametrize("name", CODECS.names())
def test_two_fresh_builds_with_one_seed_give_identical_streams(name: str, h: np.ndarray) -> None:
    a, b = build(name, seed=5), build(name, seed=5)
    assert a.compress(h) == b.compress(h)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    if "seed" in inspect.signature(CODECS.get(name).__init__).parameters:
        other = build(name, seed=6)
        changed = [not torch.equal(p, q) for p, q in zip(a.parameters(), other.parameters(), strict=True)]
        assert any(changed), "the seed does not reach the weights"


def _one_line_data_error(codec: Any, streams: list[bytes]) -> None:
    start = time.perf_counter()
    with pytest.raises(DataError) as info:
        codec.decompress(streams)
    assert "\n" not in str(info.value) and str(info.value)
    assert time.perf_counter() - start < 2.0  # a bad stream is refused, it does not make the decoder spin


@pytest.mark.parametrize("name", CODECS.names())
def test_truncated_empty_and_too_long_streams_are_one_line_data_errors(name: str, h: np.ndarray) -> None:
    codec = build(name)
    good = codec.compress(h[:2])
    for stream in good:
        for bad in (stream[:-1], stream[: len(stream) // 2], b"", stream + b"\0\0\0\0", stream + stream):
            _one_line_data_error(codec, [bad])
            _one_line_data_error(codec, [good[0], bad])  # one bad stream spoils the batch, loudly


@pytest.mark.parametrize("name", CODECS.names())
def test_flipped_bits_are_refused_or_decode_to_a_valid_channel(name: str, h: np.ndarray) -> None:
    """Streams spend no checksum bits, so a flip cannot always be seen; it must never crash or hang the decoder,
    and a range-coded stream (its canonical re-encoding check) refuses most (86-100 % measured on these tiny
    codecs, whose streams are 8-92 bytes; 99 % on the shipped learned-transform)."""
    codec = build(name)
    stream = codec.compress(h[:1])[0]
    refused = 0
    for bit in range(8 * len(stream)):
        flipped = bytearray(stream)
        flipped[bit // 8] ^= 1 << (bit % 8)
        try:
            out = codec.decompress([bytes(flipped)])
        except DataError as err:
            assert "\n" not in str(err)
            refused += 1
            continue
        assert out.shape == (1, NUM_BS_ANT, NUM_SUBCARRIERS) and out.dtype == np.complex64
    if isinstance(codec, RDCodec):
        assert refused >= 0.8 * 8 * len(stream)


@pytest.mark.parametrize("name", CODECS.names())
def test_a_codec_fine_tunes_exactly_when_it_has_weights(name: str) -> None:
    codec = build(name)
    num_params = sum(p.numel() for p in codec.parameters()) if isinstance(codec, torch.nn.Module) else 0
    assert finetunable(name) == (num_params > 0)
    names = codec.decoder_parameter_names()
    assert set(names) <= {n for n, _ in codec.named_parameters()}
    if finetunable(name):
        assert names and len(names) < len(list(codec.named_parameters()))  # an encoder exists beside the decoder


def _fast_policy(name: str) -> Any:
    """The policy with FAST keywords, and without the update-rate term where it has one: in an 8 x 8 world that
    term outweighs 3 steps of distortion gradient and may rightly leave every change at zero, while this
    contract is about rebuilding whatever changed."""
    try:
        return POLICIES.make(name, **FAST, regularize=False)
    except ConfigError:  # a policy without update coding (encoder-only, genie) has no such keyword
        return POLICIES.make(name, **FAST)


UPDATE_CASES = [(c, p) for c in CODECS.names() if finetunable(c) for p in POLICIES.names() if p != "never"]


@pytest.mark.parametrize("name,policy_name", UPDATE_CASES)
def test_every_policys_update_rebuilds_the_ues_decoder_at_the_bs(name: str, policy_name: str) -> None:
    codec = build(name)
    window = few_path_channels(8, NUM_BS_ANT, NUM_SUBCARRIERS, seed=11)
    policy = _fast_policy(policy_name)
    result = policy.update(codec, window, np.random.default_rng(0))
    ue = result.codec.eval()
    free = policy.delivery == "free"
    update = ModelUpdate(version=1, apply=lambda bs, payload: policy.apply_update(bs, payload, ue if free else None),
                         fingerprint=decoder_fingerprint(ue), installed=simpy.Environment().event())
    original = copy.deepcopy(codec)
    if policy.delivery == "local":  # nothing travels: the BS keeps its decoder, which must still be the UE's
        assert result.payload is None and result.update_bits == 0
        bs = original
    else:
        if policy.delivery == "uplink":
            assert type(result.payload) is bytes and result.update_bits == 8 * len(result.payload) > 0
        assert update.fingerprint != decoder_fingerprint(codec), "the fine-tune changed no decoder parameter"
        bs = update.apply(original, result.payload)
    assert decoder_fingerprint(bs) == update.fingerprint
    bs_state = decoder_state(bs)
    for key, value in decoder_state(ue).items():
        assert torch.equal(value, bs_state[key]), key
    assert decoder_fingerprint(codec) == decoder_fingerprint(build(name))  # the policy fine-tuned a copy
    streams, h_hat = ue.compress_with_reconstruction(channels(seed=12))
    np.testing.assert_array_equal(bs.eval().decompress(streams), h_hat)


def _scenario(tmp_path: Path, codec: str, policy: str) -> Path:
    """A tiny scenario file running ``never`` and ``policy`` (its defaults) on ``codec`` (no checkpoint)."""
    policies = [{"type": "never"}] + ([] if policy == "never" else [{"type": policy}])
    text = {
        "name": "contract", "seed": 1,
        "system": {"carrier_hz": 3.5e9, "bandwidth_hz": 20.0e6, "num_subcarriers": NUM_SUBCARRIERS,
                   "bs_array": list(BS_ARRAY), "snr_db": 10},
        "channel": {"type": "geometric", "preset": "o2_dynamic_like"},
        "ues": {"count": 1, "speed_mps": 1.4, "sample_spacing_m": 0.5, "report_spacing_m": 1.0, "track_length_m": 4},
        "codec": {"type": codec}, "uplink": {"rate_bps": 1.0e5, "discipline": "fifo"},
        "downlink": {"slot_period_s": 0.5}, "policies": policies, "output": {"plots": False},
    }  # fmt: skip
    path = tmp_path / f"{codec}-{policy}.yaml"
    path.write_text(yaml.safe_dump(text))
    return path


@pytest.mark.parametrize("name", CODECS.names())
def test_a_policy_that_cannot_apply_fails_at_load_with_one_line(name: str, tmp_path: Path) -> None:
    for policy in POLICIES.names():
        path = _scenario(tmp_path, name, policy)
        if policy == "never" or finetunable(name):
            assert [s.type for s in load_scenario(path).policies] == ["never", policy][: 1 + (policy != "never")]
            continue
        with pytest.raises(ConfigError) as info:
            load_scenario(path)
        message = str(info.value)
        assert "\n" not in message and "only the 'never' policy can run it" in message and policy in message
