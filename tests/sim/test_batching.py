"""Encode-ahead and decode-ahead: the same bytes, reconstructions and tables as one codec call per report."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

import simnet.sim.ue as ue_module
from simnet.codecs import CODECS
from simnet.config import PolicySpec, load_scenario
from simnet.sim.batching import EncodeAhead, decode_report
from simnet.sim.engine import run_variant
from simnet.sim.mobility import Trajectory
from simnet.sim.world import World
from tests.paths import TINY

NUM_ANT, NUM_SC = 4, 8


def _channels(num: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (num, NUM_ANT, NUM_SC)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def _codec(name: str) -> torch.nn.Module:
    kwargs = {"bs_array": (2, 2)} if name == "learned-transform" else {}
    codec = CODECS.make(name, num_bs_ant=NUM_ANT, num_subcarriers=NUM_SC, **kwargs)
    return codec.eval()


@pytest.mark.parametrize("name", ["learned-transform", "rd-crnet", "rd-cnn-paper"])
def test_reports_encoded_ahead_are_the_reports_encoded_one_by_one(name: str) -> None:
    codec = _codec(name)
    h = _channels(30, seed=1)
    samples = list(range(0, 30, 2))  # every second sample is reported
    ahead = EncodeAhead(h, samples, first_chunk=4, max_chunk=8)
    for k, i in enumerate(samples):
        stream, h_ue, (chunk, j) = ahead.report(codec, k)
        alone, h_alone = codec.compress_with_reconstruction(h[i : i + 1])
        assert stream == alone[0] and chunk.streams[j] == stream
        np.testing.assert_allclose(h_ue, h_alone[0], rtol=0, atol=1e-5 * np.abs(h_alone).max())
    assert ahead.num_calls == 3  # chunks of 4, 8 and the last 3 of 15 reports


def test_the_per_bin_codec_reconstructs_bit_exactly_and_decodes_bit_exactly_ahead() -> None:
    codec = _codec("learned-transform")
    h = _channels(20, seed=2)
    ahead = EncodeAhead(h, range(20), first_chunk=16, max_chunk=16)
    bs_codec = _codec("learned-transform")  # same seed, same weights: the BS's copy
    for k in range(20):
        stream, h_ue, where = ahead.report(codec, k)
        np.testing.assert_array_equal(h_ue, codec.compress_with_reconstruction(h[k : k + 1])[1][0])
        np.testing.assert_array_equal(decode_report(bs_codec, stream, where), bs_codec.decompress([stream])[0])
    chunk, _ = where
    assert len(chunk.decoded) == 1  # one batched decode per chunk and decoder state


def test_a_changed_codec_starts_a_new_chunk() -> None:
    codec = _codec("learned-transform")
    h = _channels(12, seed=3)
    ahead = EncodeAhead(h, range(12), first_chunk=8, max_chunk=8)
    ahead.report(codec, 0)
    with torch.no_grad():  # in place, as an optimizer step would: same object, new tensor versions
        codec.analysis_net.log_scale.add_(0.7)
    stream, _, (chunk, j) = ahead.report(codec, 1)
    assert stream == codec.compress(h[1:2])[0]
    assert (chunk.first, j, ahead.num_calls) == (1, 0, 2)
    other = _codec("learned-transform")  # an equal but different object (a switched model) also starts anew
    ahead.report(other, 2)
    assert ahead.num_calls == 3
    with torch.no_grad():  # a tensor replaced by a new one (same submodule) is seen too
        other.analysis_net.log_scale = torch.nn.Parameter(other.analysis_net.log_scale + 0.3)
    stream, _, _ = ahead.report(other, 3)
    assert stream == other.compress(h[3:4])[0]
    assert ahead.num_calls == 4


def test_a_payload_that_is_not_the_chunks_stream_is_decoded_as_it_came() -> None:
    codec = _codec("learned-transform")
    h = _channels(4, seed=4)
    ahead = EncodeAhead(h, range(4))
    _, _, where = ahead.report(codec, 0)
    other = codec.compress(h[3:4])[0]  # a valid stream, but not the one the UE sent as report 0
    np.testing.assert_array_equal(decode_report(codec, other, where), codec.decompress([other])[0])
    assert where[0].decoded == {}


def _world(codec: torch.nn.Module) -> World:
    sc = load_scenario(TINY)
    samples, h = [], []
    for u in range(2):
        tr = Trajectory(np.array([[0.0, 10.0 * u, 1.5], [8.0, 10.0 * u, 1.5]]), 1.4, t0_s=u * 0.2)
        smp = tr.sample(0.25)
        samples.append(smp)
        h.append(_channels(len(smp), seed=10 + u))
    return World(sc, samples, h, codec, 1, np.random.SeedSequence(0).spawn(2), {"source": "test"},
                 {"type": "learned-transform"})


@pytest.mark.parametrize("policy", [("periodic", 2.0), pytest.param(("encoder-only", 1.5), marks=pytest.mark.slow),
                                    pytest.param(("genie", 2.0), marks=pytest.mark.slow)])
def test_engine_tables_equal_one_call_per_report(monkeypatch: pytest.MonkeyPatch, policy: tuple[str, float]) -> None:
    kind, interval_m = policy
    spec = PolicySpec(label=kind, type=kind, kwargs=(("interval_m", interval_m), ("steps", 3)))
    batched = run_variant(_world(_codec("learned-transform")), spec)
    monkeypatch.setattr(ue_module, "EncodeAhead", partial(EncodeAhead, first_chunk=1, max_chunk=1))
    one_by_one = run_variant(_world(_codec("learned-transform")), spec)
    assert len(batched["finetunes"]) >= 2  # the model switches inside the run
    assert max(r["version"] for r in batched["reports"]) >= (1 if kind != "encoder-only" else 0)
    for table in ("reports", "slots", "finetunes", "packets"):
        assert batched[table] == one_by_one[table], table
