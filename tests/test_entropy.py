"""Factorized prior tables and the exact range coding of its symbols (incl. escapes)."""

from __future__ import annotations

import constriction
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simnet.entropy import (
    FactorizedPrior,
    SymbolLayout,
    bytes_to_words,
    decode_symbols,
    decode_uints,
    encode_symbols,
    encode_uints,
    words_to_bytes,
)
from simnet.errors import DataError


def _roundtrip(prior: FactorizedPrior, q: np.ndarray, channel: np.ndarray) -> tuple[np.ndarray, int]:
    layout = SymbolLayout(channel, prior.tables())
    enc = constriction.stream.queue.RangeEncoder()
    encode_symbols(enc, q, layout)
    stream = words_to_bytes(enc.get_compressed())
    dec = constriction.stream.queue.RangeDecoder(bytes_to_words(stream))
    return decode_symbols(dec, layout), 8 * len(stream)


def test_tables_are_valid_and_cover_the_median() -> None:
    prior = FactorizedPrior(3, seed=0)
    tables = prior.update_tables()
    assert tables.pmf.shape == (3, int(tables.num_symbols.max()) + 1)
    assert (tables.pmf[np.arange(3), tables.num_symbols] >= 1).all()  # escape always codable
    assert (tables.qmin <= 0).all() and (tables.qmin + tables.num_symbols - 1 >= 0).all()
    # the bisected median really is the median of the density: c(median) = 1/2
    med = torch.tensor(tables.medians, dtype=torch.float64).reshape(3, 1, 1)
    assert torch.allclose(torch.sigmoid(prior._logits_cumulative(med)), torch.full_like(med, 0.5), atol=1e-4)


def test_tables_follow_parameter_changes() -> None:
    prior = FactorizedPrior(2, seed=0)
    before = prior.tables().fingerprint
    with torch.no_grad():
        prior.matrices[0].add_(1.0)
    assert prior.tables().fingerprint != before


@settings(max_examples=15, deadline=None)
@given(
    num_channels=st.integers(1, 5),
    num_per_channel=st.integers(1, 20),
    scale=st.sampled_from([0.01, 1.0, 30.0, 1e4, 1e6]),
    seed=st.integers(0, 2**16),
)
def test_symbols_roundtrip_exactly_including_escapes(
    num_channels: int, num_per_channel: int, scale: float, seed: int
) -> None:
    prior = FactorizedPrior(num_channels, seed=seed).eval()
    gen = torch.Generator().manual_seed(seed)
    y = torch.randn((num_per_channel, num_channels), generator=gen) * scale
    q = prior.quantize(y).numpy().reshape(-1)
    channel = np.tile(np.arange(num_channels), num_per_channel)
    decoded, _ = _roundtrip(prior, q, channel)
    np.testing.assert_array_equal(decoded, q)


def test_escaped_symbols_cost_more_but_decode() -> None:
    prior = FactorizedPrior(1, seed=0).eval()
    channel = np.zeros(4, dtype=np.int64)
    inside, bits_inside = _roundtrip(prior, np.zeros(4, dtype=np.int64), channel)
    far = np.array([10**6, -(10**6), 2**20, -(2**20)], dtype=np.int64)
    outside, bits_outside = _roundtrip(prior, far, channel)
    np.testing.assert_array_equal(outside, far)
    assert bits_outside > bits_inside + 4 * 20


def test_uint_code_roundtrip_and_range() -> None:
    u = np.array([0, 1, 2, 3, 255, 2**16 - 1, 2**16, 2**31 + 7, 2**32 - 1], dtype=np.int64)
    enc = constriction.stream.queue.RangeEncoder()
    encode_uints(enc, u)
    dec = constriction.stream.queue.RangeDecoder(enc.get_compressed())
    np.testing.assert_array_equal(decode_uints(dec, 9), u)
    with pytest.raises(ValueError):
        encode_uints(constriction.stream.queue.RangeEncoder(), np.array([2**32]))


def test_training_noise_uses_the_given_generator() -> None:
    prior = FactorizedPrior(2, seed=0).train()
    y = torch.zeros(4, 2, 3)
    a, _ = prior(y, torch.Generator().manual_seed(5))
    b, _ = prior(y, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.abs().max() <= 0.5 and a.abs().max() > 0


def test_bad_word_stream_is_a_data_error() -> None:
    with pytest.raises(DataError):
        bytes_to_words(b"abc")
    with pytest.raises(DataError):
        bytes_to_words(b"")
