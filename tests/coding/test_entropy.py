"""Factorized prior tables and the exact range coding of its symbols (incl. escapes)."""

from __future__ import annotations

import constriction
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simnet.coding.prior import CodingTables, FactorizedPrior
from simnet.coding.stream_layout import (
    _CATEGORICAL,
    BLOCK_MAX_SYMBOLS,
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
    init_scale=st.sampled_from([0.05, 1.0, 10.0]),  # peaked (block headers) to broad (dense) tables
    seed=st.integers(0, 2**16),
)
def test_symbols_roundtrip_exactly_including_escapes(
    num_channels: int, num_per_channel: int, scale: float, init_scale: float, seed: int
) -> None:
    prior = FactorizedPrior(num_channels, init_scale=init_scale, seed=seed).eval()
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


# ------------------------------------------------------------------------------------ batched layout
def _hand_tables() -> CodingTables:
    """Five channels: three peaked (coded through block headers), a broad one and a wide one (dense)."""
    rows = [
        [1, 65530, 4, 1],  # p(mode) ~ 0.9999
        [300, 65000, 200, 1],  # ~ 0.992
        [2, 1000, 64000, 500, 3],  # ~ 0.977, mode not at index 0 or 1
        [9000, 40000, 15000, 1536],  # ~ 0.61
        [100 + 40 * i for i in range(40)] + [7],  # wide and flat
    ]
    width = max(len(r) for r in rows)
    pmf = np.zeros((len(rows), width))
    for c, r in enumerate(rows):
        pmf[c, : len(r)] = r
    num = np.array([len(r) - 1 for r in rows], dtype=np.int64)  # the last entry is the escape
    return CodingTables(
        medians=np.zeros(len(rows), dtype=np.float32), qmin=np.array([-1, -1, -2, -1, -20]),
        num_symbols=num, pmf=pmf, fingerprint=b"hand",
    )  # fmt: skip


def _draw(tables: CodingTables, channel: np.ndarray, num_reports: int, rng: np.random.Generator) -> np.ndarray:
    """Symbols q [B, M] drawn from the tables (escapes drawn as far values)."""
    q = np.empty((num_reports, channel.size), dtype=np.int64)
    for m, c in enumerate(channel):
        p = tables.pmf[c, : tables.num_symbols[c] + 1] / tables.pmf[c].sum()
        idx = rng.choice(p.size, size=num_reports, p=p)
        far = rng.integers(1, 2**20, num_reports) * rng.choice([-1, 1], num_reports)
        q[:, m] = np.where(idx == tables.num_symbols[c], far, idx + tables.qmin[c])
    return q


def _encode_all(layout: SymbolLayout, q: np.ndarray) -> list[bytes]:
    out = []
    for calls in layout.plan(q):
        enc = constriction.stream.queue.RangeEncoder()
        for call in calls:
            enc.encode(*call)
        out.append(words_to_bytes(enc.get_compressed()))
    return out


def test_hand_tables_use_blocks_and_dense_groups() -> None:
    layout = SymbolLayout(np.tile(np.arange(5), 40), _hand_tables())
    assert layout.sparse_pos.size == 3 * 40 and len(layout.block_len) >= 3 * 40 // BLOCK_MAX_SYMBOLS
    assert sum(pos.size for pos, _ in layout.dense) == 2 * 40
    np.testing.assert_allclose(layout.header_rows.sum(axis=1), 1.0, rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), num_reports=st.integers(1, 6), repeats=st.integers(1, 60))
def test_layout_roundtrips_and_each_stream_depends_on_its_report_only(
    seed: int, num_reports: int, repeats: int
) -> None:
    tables = _hand_tables()
    rng = np.random.default_rng(seed)
    channel = rng.permutation(np.tile(np.arange(5), repeats))
    layout = SymbolLayout(channel, tables)
    q = _draw(tables, channel, num_reports, rng)
    q[0, rng.integers(0, channel.size, 3)] += rng.integers(-3, 4, 3)  # deviations anywhere in a block
    streams = _encode_all(layout, q)
    for i, stream in enumerate(streams):
        assert stream == _encode_all(layout, q[i : i + 1])[0]
        decoded = layout.decode(constriction.stream.queue.RangeDecoder(bytes_to_words(stream)))
        np.testing.assert_array_equal(decoded, q[i])


def test_block_headers_add_no_redundancy() -> None:
    """Real bits of symbols drawn from the tables match their information under the tables (+ stream flush)."""
    tables = _hand_tables()
    rng = np.random.default_rng(0)
    channel = np.tile(np.arange(3), 2000)  # peaked channels only: all coded through headers
    layout = SymbolLayout(channel, tables)
    q = _draw(tables, channel, 100, rng)
    assert len(layout.dense) == 0
    idx = q - tables.qmin[channel]
    escaped = (idx < 0) | (idx >= tables.num_symbols[channel])
    mass = tables.pmf[channel, np.where(escaped, tables.num_symbols[channel], idx)]
    info = -np.log2(mass / tables.pmf[channel].sum(axis=1)).sum(axis=1)
    u = 2 * np.where(idx < 0, -idx - 1, idx - tables.num_symbols[channel]) + (idx < 0)
    info += np.where(escaped, np.log2(33) + np.maximum(np.frexp(u.astype(float))[1] - 1, 0), 0).sum(axis=1)
    bits = np.array([8 * len(s) for s in _encode_all(layout, q)])
    assert info.mean() - 1 <= bits.mean() <= info.mean() + 40  # one stream's flush and word padding


def test_impossible_headers_and_deviations_are_data_errors() -> None:
    tables = _hand_tables()
    layout = SymbolLayout(np.tile(np.arange(3), 7), tables)  # 21 peaked symbols: a short last block
    short = int(np.argmin(layout.block_len))
    assert layout.block_len[short] < BLOCK_MAX_SYMBOLS
    header = np.zeros(len(layout.block_len), dtype=np.int32)
    header[short] = layout.block_len[short] + 1  # points into the padding of the block
    enc = constriction.stream.queue.RangeEncoder()
    enc.encode(header, _CATEGORICAL, layout.header_rows)
    with pytest.raises(DataError, match="past its block"):
        layout.decode(constriction.stream.queue.RangeDecoder(enc.get_compressed()))
    header[short] = 1  # the first symbol deviates, but its "deviation" is coded as the mode
    enc = constriction.stream.queue.RangeEncoder()
    enc.encode(header, _CATEGORICAL, layout.header_rows)
    lo, n = int(layout.block_start[short]), int(layout.block_len[short])
    # the tail rows give the mode of the first symbol a tiny (but codable) mass
    enc.encode(layout.sparse_mode[lo : lo + n].copy(), _CATEGORICAL, layout._tail(short, 0))
    with pytest.raises(DataError, match="decodes to the mode"):
        layout.decode(constriction.stream.queue.RangeDecoder(enc.get_compressed()))


def test_symbols_beyond_the_escape_code_range_are_refused() -> None:
    layout = SymbolLayout(np.arange(5), _hand_tables())
    with pytest.raises(ValueError, match="2\\*\\*30"):
        layout.plan(np.array([[0, 0, 0, 0, 2**31]]))
