"""Real range coding of a report's latent symbols under a factorized prior's integer tables, batched.

A report is a fixed sequence of M symbols, symbol m coded under the table of its latent channel ``channel[m]``.
Most symbols of a trained codec sit at their table's mode with probability > 0.99, so coding each one
separately spends most of the coder's time on symbols that carry ~0.001 bit. The layout therefore splits
the positions into

* **dense** positions (mode probability below ``SPARSE_MIN_P``): coded one by one, grouped by table width;
* **sparse** positions: sorted by deviation probability and cut into blocks. Each block is coded by one
  *header* symbol: 0 if every symbol of the block is at its mode, else 1 + the index k of the first one
  that is not. The header's distribution is the exact law of that event under the tables
  (P(0) = prod p_j, P(1 + k) = prod_{j<k} p_j * (1 - p_k)), then symbol k is coded under its table with
  the mode removed and the symbols after k under their own tables. This is an exact factorization of the
  same joint distribution (no redundancy beyond the coder's table quantization), so the rate still tracks
  the likelihood estimate.

Stream order of one report: the block headers, the dense groups (by table width class), then for each
deviating block in block order its symbols from the first deviation on, then the exact values of escaped
symbols (:func:`uint_calls`). All table rows handed to the coder depend on the layout only (never on the
batch), so a report's stream does not depend on the other reports coded with it.

Encoder and decoder derive the same layout from the same tables. The batch work (symbol indices, headers,
gathers of table rows) is done in numpy over all reports at once; :meth:`SymbolLayout.plan` returns, per
report, the short list of ``encoder.encode`` calls that write it, so the only Python loop is over streams.
"""

from __future__ import annotations

from typing import Any, Protocol

import constriction
import numpy as np

from simnet.coding.prior import CodingTables
from simnet.errors import DataError

SPARSE_MIN_P = 0.97  # mode probability from which a position is coded through its block's header
BLOCK_MAX_SYMBOLS = 16  # a block's length (header alphabet: BLOCK_MAX_SYMBOLS + 1)
BLOCK_MAX_DEVIATION = 0.25  # a block closes once its summed deviation probability reaches this
_WIDTH_CLASSES = (4, 8, 16, 32, 64, 128)  # dense symbols are coded in groups of similar table width
# (the coder's cost per symbol grows with the width of its padded table row)
_MAX_UINT_BITS = 32

EncodeCall = tuple[Any, ...]  # arguments of one ``RangeEncoder.encode`` call


class RecordingDecoder:
    """A range decoder that keeps every decode call, so the decoded symbols can be re-encoded cheaply.

    Re-encoding the decoded symbols under the same models in the same order writes the stream the encoder
    would have written for them (the layouts' decoders reject any decoded structure the encoder could not
    have produced), so ``reencode() == stream`` accepts exactly the canonical streams.

    Args:
        words: [N], uint32, the compressed stream.
    """

    def __init__(self, words: np.ndarray) -> None:
        self._decoder = constriction.stream.queue.RangeDecoder(words)
        self.calls: list[EncodeCall] = []

    def decode(self, model: Any, *params: Any) -> np.ndarray:
        symbols = self._decoder.decode(model, *params)
        if params and isinstance(params[0], int):  # a symbol count (concrete model): not an encoder argument
            self.calls.append((symbols, model))
        else:
            self.calls.append((symbols, model, *params))
        return symbols

    def reencode(self) -> bytes:
        """The stream that encoding every decoded symbol again writes."""
        encoder = constriction.stream.queue.RangeEncoder()
        for call in self.calls:
            encoder.encode(*call)
        return words_to_bytes(encoder.get_compressed())


class Decoder(Protocol):
    """What the decoding functions need: constriction's ``RangeDecoder`` or a :class:`RecordingDecoder`."""

    def decode(self, model: Any, *params: Any) -> np.ndarray: ...


class SymbolLayout:
    """Coding plan of a fixed sequence of M symbols (one report) under a prior's tables.

    Args:
        channel: [M], int64, latent channel of each symbol (selects its pmf row).
        tables: the prior's coding tables.
    """

    def __init__(self, channel: np.ndarray, tables: CodingTables) -> None:
        self.channel = np.asarray(channel, dtype=np.int64)
        self.tables = tables
        self.size = int(self.channel.size)
        self.num = tables.num_symbols[self.channel].astype(np.int32)
        self.qmin = tables.qmin[self.channel]
        pmf = tables.pmf
        num_channels = pmf.shape[0]
        in_table = np.where(np.arange(pmf.shape[1]) < tables.num_symbols[:, None], pmf, -1.0)
        mode = in_table.argmax(axis=1)  # never the escape
        mode_mass = pmf[np.arange(num_channels), mode]
        total = pmf.sum(axis=1)
        p_dev = (total - mode_mass) / total  # [C] probability of leaving the mode
        width = tables.num_symbols + 1

        sparse = 1.0 - p_dev[self.channel] >= SPARSE_MIN_P
        self.dense: list[tuple[np.ndarray, np.ndarray]] = []
        dense_pos = np.flatnonzero(~sparse)
        bounds = (0, *_WIDTH_CLASSES, int(pmf.shape[1]))
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            pos = dense_pos[(width[self.channel[dense_pos]] > lo) & (width[self.channel[dense_pos]] <= hi)]
            if pos.size:
                self.dense.append((pos, np.ascontiguousarray(pmf[self.channel[pos], :hi])))
        self._dense_pos = np.concatenate([pos for pos, _ in self.dense] or [np.zeros(0, np.int64)])

        # sparse positions, sorted by deviation probability, cut into consecutive blocks
        order = np.flatnonzero(sparse)
        self.sparse_pos = order[np.argsort(p_dev[self.channel[order]], kind="stable")]
        sparse_channel = self.channel[self.sparse_pos]
        self.sparse_mode = mode[sparse_channel].astype(np.int32)
        blocks = _cut_blocks(p_dev[sparse_channel])
        self.block_start = np.array([b[0] for b in blocks], dtype=np.int64)
        self.block_len = np.array([b[1] - b[0] for b in blocks], dtype=np.int64)
        num_blocks = len(blocks)
        self.header_rows = np.zeros((num_blocks, BLOCK_MAX_SYMBOLS + 1))
        self._blocks: list[tuple[int, int, np.ndarray, np.ndarray, list[int]]] = []
        for b, (lo, hi) in enumerate(blocks):
            chan = sparse_channel[lo:hi]
            p_left = p_dev[chan]
            before = np.cumprod(np.concatenate([[1.0], 1.0 - p_left[:-1]]))
            self.header_rows[b, 0] = before[-1] * (1.0 - p_left[-1])
            self.header_rows[b, 1 : 1 + hi - lo] = before * p_left
            rows = np.ascontiguousarray(pmf[chan, : int(width[chan].max())])
            no_mode = rows.copy()
            no_mode[np.arange(hi - lo), mode[chan]] = 0.0
            self._blocks.append((lo, hi - lo, rows, no_mode, mode[chan].tolist()))
        self._slot_block = np.repeat(np.arange(num_blocks), self.block_len)
        self._tail_rows: dict[tuple[int, int], np.ndarray] = {}
        # a report's sparse symbols all at their modes (dense entries are overwritten when decoding)
        self._at_mode = np.zeros(self.size, dtype=np.int32)
        self._at_mode[self.sparse_pos] = self.sparse_mode

    def _tail(self, block: int, first: int) -> np.ndarray:
        """Table rows of a deviating block's symbols from its first deviation on: that symbol's table without
        its mode, then the later symbols' own tables ([n - first, width] float64, built on first use)."""
        rows = self._tail_rows.get((block, first))
        if rows is None:
            _, _, full, no_mode, _ = self._blocks[block]
            rows = self._tail_rows[(block, first)] = np.concatenate([no_mode[first : first + 1], full[first + 1 :]])
        return rows

    # ------------------------------------------------------------------------------------------ encode
    def plan(self, q: np.ndarray) -> list[list[EncodeCall]]:
        """The encoder calls that write each report.

        Args:
            q: [B, M], int64, symbols (from ``FactorizedPrior.quantize``) in the order of ``channel``.

        Returns:
            B lists of argument tuples for ``RangeEncoder.encode``; applying one list to an encoder appends
            that report.
        """
        q = np.asarray(q).reshape(-1, self.size)
        num_reports = q.shape[0]
        if q.size and (q.max() >= 2**30 or q.min() <= -(2**30)):  # keeps table indices and escapes in range
            raise ValueError("SymbolLayout.plan takes symbols with |q| < 2**30 (quantize clamps to 2**20)")
        sym = np.subtract(q, self.qmin, dtype=np.int32, casting="unsafe")  # table index
        escaped = sym.view(np.uint32) >= self.num.view(np.uint32)  # negative indices wrap to huge
        plans: list[list[EncodeCall]] = [[] for _ in range(num_reports)]
        escapes: list[tuple[int, np.ndarray]] = []
        for i in np.flatnonzero(escaped.any(axis=1)).tolist():
            pos = np.flatnonzero(escaped[i])
            below = sym[i, pos] < 0
            excess = np.where(below, -sym[i, pos].astype(np.int64) - 1, sym[i, pos] - self.num[pos])
            escapes.append((i, 2 * excess + below))
            sym[i, pos] = self.num[pos]  # the escape symbol
        if self._blocks:
            slots = np.take(sym, self.sparse_pos, axis=1)  # [B, sparse]: blocks are consecutive runs
            off_mode = np.flatnonzero(slots != self.sparse_mode)  # sorted: report-major, then slot
            report, slot = np.divmod(off_mode, slots.shape[1])
            block = self._slot_block[slot]
            first_in_block = np.ones(block.size, dtype=bool)
            first_in_block[1:] = (report[1:] != report[:-1]) | (block[1:] != block[:-1])
            report, block, slot = report[first_in_block], block[first_in_block], slot[first_in_block]
            first = slot - self.block_start[block]
            header = np.zeros((num_reports, len(self._blocks)), dtype=np.int32)
            header[report, block] = first + 1
            for i in range(num_reports):
                plans[i].append((header[i], _CATEGORICAL, self.header_rows))
        groups = [(np.take(sym, pos, axis=1), rows) for pos, rows in self.dense]
        for i in range(num_reports):
            for values, rows in groups:
                plans[i].append((values[i], _CATEGORICAL, rows))
        if self._blocks:
            stop = (self.block_start + self.block_len)[block].tolist()
            for i, b, k, start, end in zip(report.tolist(), block.tolist(), first.tolist(), slot.tolist(), stop):
                plans[i].append((slots[i, start:end], _CATEGORICAL, self._tail(b, k)))
        for i, u in escapes:
            plans[i].extend(uint_calls(u))
        return plans

    # ------------------------------------------------------------------------------------------ decode
    def decode(self, decoder: Decoder) -> np.ndarray:
        """Read one report written by :meth:`plan`'s calls: returns q [M] int64.

        Raises:
            DataError: the stream cannot have been written with this layout (a symbol in a table's padding,
                a header past its block, a deviation that decodes to the mode).
        """
        sym = self._at_mode.copy()
        if self._blocks:
            header = decoder.decode(_CATEGORICAL, self.header_rows)
        if self.dense:
            sym[self._dense_pos] = np.concatenate([decoder.decode(_CATEGORICAL, rows) for _, rows in self.dense])
        if self._blocks:
            for b in np.flatnonzero(header).tolist():
                lo, n, _, _, modes = self._blocks[b]
                k = int(header[b]) - 1
                if k >= n:
                    raise DataError("corrupt bitstream: a block header points past its block")
                values = decoder.decode(_CATEGORICAL, self._tail(b, k))
                if int(values[0]) == modes[k]:
                    raise DataError("corrupt bitstream: a block's first deviation decodes to the mode")
                sym[self.sparse_pos[lo + k : lo + n]] = values
        out = sym >= self.num
        if out.any():
            if (sym > self.num).any():
                raise DataError("corrupt bitstream: a latent symbol lies in the padding of its table")
            u = decode_uints(decoder, int(out.sum()))
            below = (u & 1).astype(bool)
            excess = u >> 1
            idx = sym.astype(np.int64)
            idx[out] = np.where(below, -excess - 1, self.num[out] + excess)
            return idx + self.qmin
        return sym + self.qmin


def _cut_blocks(p_dev: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive [start, stop) blocks of at most BLOCK_MAX_SYMBOLS, closed at BLOCK_MAX_DEVIATION."""
    blocks, start, acc = [], 0, 0.0
    for i, p in enumerate(p_dev.tolist()):
        acc += p
        if i + 1 - start == BLOCK_MAX_SYMBOLS or acc >= BLOCK_MAX_DEVIATION:
            blocks.append((start, i + 1))
            start, acc = i + 1, 0.0
    if start < len(p_dev):
        blocks.append((start, len(p_dev)))
    return blocks


# ------------------------------------------------------------------------------- symbol-level helpers
def encode_symbols(encoder: constriction.stream.queue.RangeEncoder, q: np.ndarray, layout: SymbolLayout) -> None:
    """Append one report's symbols q [M] int64 (escaping those outside their tables) to a range coder."""
    for call in layout.plan(q.reshape(1, -1))[0]:
        encoder.encode(*call)


def decode_symbols(decoder: Decoder, layout: SymbolLayout) -> np.ndarray:
    """Inverse of :func:`encode_symbols`: returns q [M] int64 (DataError if the stream cannot be one)."""
    return layout.decode(decoder)


def uint_calls(u: np.ndarray) -> list[EncodeCall]:
    """Encoder calls of unsigned integers (< 2**32) in an Elias-gamma style code: bit length, then the bits.

    Costs log2(33) + max(bit_length - 1, 0) bits each.
    """
    u = np.asarray(u, dtype=np.int64)
    if (u < 0).any() or (u >= 2**_MAX_UINT_BITS).any():
        raise ValueError("encode_uints takes integers in [0, 2**32)")
    num_bits = np.frexp(u.astype(np.float64))[1].astype(np.int64)  # bit_length (exact for u < 2**53)
    calls: list[EncodeCall] = [(num_bits.astype(np.int32), _BIT_LENGTH)]
    rest = u - np.where(num_bits > 0, 1 << np.maximum(num_bits - 1, 0), 0)
    lo_bits = np.minimum(np.maximum(num_bits - 1, 0), 16)
    hi_bits = np.maximum(num_bits - 1 - 16, 0)
    for bits, value in ((lo_bits, rest & 0xFFFF), (hi_bits, rest >> 16)):
        used = bits > 0
        if used.any():
            calls.append((value[used].astype(np.int32), _UNIFORM, (1 << bits[used]).astype(np.int32)))
    return calls


def encode_uints(encoder: constriction.stream.queue.RangeEncoder, u: np.ndarray) -> None:
    """Append unsigned integers (< 2**32) with the code of :func:`uint_calls`."""
    for call in uint_calls(u):
        encoder.encode(*call)


def decode_uints(decoder: Decoder, count: int) -> np.ndarray:
    """Inverse of :func:`encode_uints`: read ``count`` integers, returns [count] int64."""
    num_bits = decoder.decode(_BIT_LENGTH, count).astype(np.int64)
    lo_bits = np.minimum(np.maximum(num_bits - 1, 0), 16)
    hi_bits = np.maximum(num_bits - 1 - 16, 0)
    parts = []
    for bits in (lo_bits, hi_bits):
        value = np.zeros(count, dtype=np.int64)
        used = bits > 0
        if used.any():
            value[used] = decoder.decode(_UNIFORM, (1 << bits[used]).astype(np.int32))
        parts.append(value)
    lead = np.where(num_bits > 0, 1 << np.maximum(num_bits - 1, 0), 0)
    return lead + parts[0] + (parts[1] << 16)


def words_to_bytes(words: np.ndarray) -> bytes:
    """constriction's uint32 words -> little-endian bytes (4 per word)."""
    return np.asarray(words, dtype="<u4").tobytes()


def bytes_to_words(stream: bytes) -> np.ndarray:
    """Inverse of :func:`words_to_bytes`; DataError if the length is not a whole number of words."""
    if len(stream) == 0 or len(stream) % 4:
        raise DataError(f"corrupt bitstream: {len(stream)} bytes is not a positive multiple of 4")
    return np.frombuffer(stream, dtype="<u4").astype(np.uint32)


_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)
_UNIFORM = constriction.stream.model.Uniform()
_BIT_LENGTH = constriction.stream.model.Uniform(_MAX_UINT_BITS + 1)
