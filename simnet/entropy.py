"""Factorized ("DeepFactorized") latent prior and real range coding of its integer symbols.

Follows the design of CompressAI's ``EntropyBottleneck`` (Balle et al. 2018, appendix 6.1), written anew:

    training   y ──(+ U(-1/2, 1/2))──> y_tilde ──> p(y_tilde) = c(y_tilde + 1/2) - c(y_tilde - 1/2)
    inference  y ──clamp, round(y - median)──> q (int) ──> y_hat = q + median,  p(y_hat) as above

``c`` is a monotone per-channel cumulative built from a small network (filters 1-3-3-3-1, softplus-positive
matrices, tanh gates). From it ``update_tables()`` derives, per channel, the support ``[qmin, qmax]`` holding
all but ``tail_mass`` of the mass, integer pmf tables (``2**16`` scale, every entry >= 1) and one escape
symbol carrying the tails. Encoder and decoder hand constriction's range coder the *same integer tables*
(as float64), so decoding is exact. An escaped symbol is followed by its exact value in an Elias-gamma
style code with uniform models (:func:`encode_uints`), so any latent value round-trips.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import constriction
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from simnet.errors import DataError

PMF_PRECISION_BITS = 16  # integer pmf scale; constriction requantizes these exact integers identically
LATENT_LIMIT = 2**20  # |y| is clamped to this before rounding, so escaped values fit the uint code
_MAX_UINT_BITS = 32


@dataclass(frozen=True)
class CodingTables:
    """Integer coding tables of a factorized prior, one row per latent channel.

    Attributes:
        medians: [C], float32, quantization offsets (y_hat = q + median).
        qmin: [C], int64, smallest in-table symbol q of each channel.
        num_symbols: [C], int64, in-table symbols per channel; table index ``num_symbols[c]`` is the escape.
        pmf: [C, max(num_symbols) + 1], float64, integer-valued pmf (zero padding past the escape).
        fingerprint: hash of the parameters the tables were built from.
    """

    medians: np.ndarray
    qmin: np.ndarray
    num_symbols: np.ndarray
    pmf: np.ndarray
    fingerprint: bytes


class FactorizedPrior(nn.Module):
    """DeepFactorized density, one independent univariate model per latent channel.

    Args:
        num_channels: C, number of latent channels (dim 1 of ``y``).
        filters: hidden widths of the cumulative network.
        init_scale: initial width of the densities (latent units).
        tail_mass: probability left outside the coding tables (sent through the escape symbol).
        likelihood_bound: floor on likelihoods in the rate estimate (avoids log(0)).
        max_symbols: cap on a channel's table length (wider supports are cut; the rest is escaped).
        seed: seed of the explicit generator for the bias initialization.
    """

    def __init__(
        self,
        num_channels: int,
        filters: tuple[int, ...] = (3, 3, 3),
        init_scale: float = 10.0,
        tail_mass: float = 1e-9,
        likelihood_bound: float = 1e-9,
        max_symbols: int = 4096,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.num_channels = int(num_channels)
        self.tail_mass = float(tail_mass)
        self.likelihood_bound = float(likelihood_bound)
        self.max_symbols = int(max_symbols)
        gen = torch.Generator().manual_seed(int(seed))
        dims = (1, *filters, 1)
        scale = init_scale ** (1.0 / (len(dims) - 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(dims) - 1):
            init = math.log(math.expm1(1.0 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((num_channels, dims[i + 1], dims[i]), init)))
            bias = torch.rand((num_channels, dims[i + 1], 1), generator=gen) - 0.5
            self.biases.append(nn.Parameter(bias))
            if i < len(dims) - 2:
                self.factors.append(nn.Parameter(torch.zeros(num_channels, dims[i + 1], 1)))
        self._tables: CodingTables | None = None

    # ------------------------------------------------------------------------------------------ density
    def _logits_cumulative(self, x: torch.Tensor) -> torch.Tensor:
        """Logit of c(x): x [C, 1, N] -> [C, 1, N] (monotone increasing in x)."""
        for i, (matrix, bias) in enumerate(zip(self.matrices, self.biases, strict=True)):
            x = torch.matmul(F.softplus(matrix.to(x.dtype)), x) + bias.to(x.dtype)
            if i < len(self.factors):
                x = x + torch.tanh(self.factors[i].to(x.dtype)) * torch.tanh(x)
        return x

    def likelihood(self, y: torch.Tensor) -> torch.Tensor:
        """Mass of the unit bin centred on each value: y [B, C, *] -> same shape, in (0, 1]."""
        shape = y.shape
        x = y.transpose(0, 1).reshape(self.num_channels, 1, -1)
        lower = self._logits_cumulative(x - 0.5)
        upper = self._logits_cumulative(x + 0.5)
        # evaluate on the side of the median where the sigmoids are far from 1 (no cancellation)
        sign = torch.where(lower + upper > 0, -1.0, 1.0).to(x.dtype).detach()
        p = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        p = p.reshape(self.num_channels, shape[0], *shape[2:]).transpose(0, 1)
        return p.clamp_min(self.likelihood_bound)

    def forward(self, y: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        """Relaxed (training) or rounded (eval) latent and its likelihoods.

        Args:
            y: [B, C, *], float32, latent.
            generator: source of the uniform noise in training mode.

        Returns:
            (y_tilde, likelihoods), both [B, C, *]; in eval mode y_tilde = dequantize(quantize(y)).
        """
        if self.training:
            noise = torch.rand(y.shape, generator=generator, dtype=y.dtype) - 0.5
            y_tilde = y + noise
        else:
            y_tilde = self.dequantize(self.quantize(y))
        return y_tilde, self.likelihood(y_tilde)

    # ---------------------------------------------------------------------------------------- quantizer
    def _medians_tensor(self, like: torch.Tensor) -> torch.Tensor:
        medians = torch.from_numpy(self.tables().medians).to(like.dtype)
        return medians.reshape(1, -1, *([1] * (like.dim() - 2)))

    def quantize(self, y: torch.Tensor) -> torch.Tensor:
        """Integer symbols q = round(clamp(y) - median): [B, C, *] float -> int64."""
        y = y.detach().clamp(-LATENT_LIMIT, LATENT_LIMIT)
        return torch.round(y - self._medians_tensor(y)).to(torch.int64)

    def dequantize(self, q: torch.Tensor) -> torch.Tensor:
        """y_hat = q + median: [B, C, *] int64 -> float32."""
        return q.to(torch.float32) + self._medians_tensor(q.to(torch.float32))

    # ------------------------------------------------------------------------------------------- tables
    def fingerprint(self) -> bytes:
        """Hash of the density parameters (tables are rebuilt whenever it changes)."""
        digest = hashlib.blake2b(digest_size=16)
        for p in self.parameters():
            digest.update(p.detach().contiguous().numpy().tobytes())
        return digest.digest()

    def tables(self) -> CodingTables:
        """The coding tables, rebuilt first if the parameters changed since they were built."""
        # cheap check first: in-place updates (optimizer steps, copy_) bump the tensors' version counters
        versions = tuple((id(p), p._version) for p in self.parameters())
        if self._tables is not None and versions == getattr(self, "_versions", None):
            return self._tables
        if self._tables is None or self._tables.fingerprint != self.fingerprint():
            self.update_tables()
        self._versions = versions
        assert self._tables is not None
        return self._tables

    @torch.no_grad()
    def update_tables(self) -> CodingTables:
        """Rebuild medians, supports and integer pmfs from the current parameters (float64 math)."""
        max_symbols = self.max_symbols
        limit = math.log(2.0 / self.tail_mass - 1.0)
        target = torch.tensor([-limit, 0.0, limit], dtype=torch.float64).reshape(1, 1, 3)
        lo = torch.full((self.num_channels, 1, 3), -float(2 * LATENT_LIMIT), dtype=torch.float64)
        hi = -lo
        for _ in range(80):  # bisection: c is monotone, 80 halvings of 4e6 reach ~3e-18
            mid = 0.5 * (lo + hi)
            below = self._logits_cumulative(mid) < target
            lo = torch.where(below, mid, lo)
            hi = torch.where(below, hi, mid)
        q3 = (0.5 * (lo + hi))[:, 0, :]
        medians = q3[:, 1].to(torch.float32)
        med64 = medians.to(torch.float64)
        qmin = -torch.ceil(med64 - q3[:, 0]).clamp(0, max_symbols // 2)
        qmax = torch.ceil(q3[:, 2] - med64).clamp(0, max_symbols // 2)
        num_symbols = (qmax - qmin + 1).to(torch.int64)
        width = int(num_symbols.max())
        grid = torch.arange(width, dtype=torch.float64).reshape(1, 1, -1) + (qmin + med64).reshape(-1, 1, 1)
        upper = torch.sigmoid(self._logits_cumulative(grid + 0.5))[:, 0, :]
        lower = torch.sigmoid(self._logits_cumulative(grid - 0.5))[:, 0, :]
        pmf = (upper - lower).clamp_min(0.0)
        valid = torch.arange(width).reshape(1, -1) < num_symbols.reshape(-1, 1)
        pmf = torch.where(valid, pmf, torch.zeros_like(pmf))
        tail = (1.0 - pmf.sum(dim=1, keepdim=True)).clamp_min(0.0)
        pmf_int = torch.floor(torch.cat([pmf, torch.zeros_like(tail)], dim=1) * 2**PMF_PRECISION_BITS) + 1
        pmf_int = torch.where(torch.cat([valid, torch.zeros_like(tail, dtype=torch.bool)], 1), pmf_int, 0)
        escape_mass = torch.floor(tail[:, 0] * 2**PMF_PRECISION_BITS) + 1
        pmf_int[torch.arange(self.num_channels), num_symbols] = escape_mass
        self._tables = CodingTables(
            medians=medians.numpy().copy(),
            qmin=qmin.to(torch.int64).numpy(),
            num_symbols=num_symbols.numpy(),
            pmf=pmf_int.numpy(),
            fingerprint=self.fingerprint(),
        )
        return self._tables


# -------------------------------------------------------------------------------------------- coding
_WIDTH_CLASSES = (4, 16, 64)  # symbols are coded in groups of similar table width (cost ~ symbols x width)


class SymbolLayout:
    """Coding order of a fixed sequence of symbols: grouped by table width, each group with its pmf rows.

    Encoder and decoder build the same layout from the same channel sequence and tables.

    Args:
        channel: [M], int64, latent channel of each symbol (selects its pmf row).
        tables: the prior's coding tables.
    """

    def __init__(self, channel: np.ndarray, tables: CodingTables) -> None:
        self.channel = np.asarray(channel, dtype=np.int64)
        self.tables = tables
        width = tables.num_symbols[self.channel] + 1
        bounds = (0, *_WIDTH_CLASSES, int(tables.pmf.shape[1]))
        self.groups: list[tuple[np.ndarray, np.ndarray]] = []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            pos = np.flatnonzero((width > lo) & (width <= hi))
            if pos.size:
                self.groups.append((pos, np.ascontiguousarray(tables.pmf[self.channel[pos], :hi])))


def encode_symbols(
    encoder: constriction.stream.queue.RangeEncoder, q: np.ndarray, layout: SymbolLayout
) -> None:
    """Append integer symbols to a range coder, escaping those outside their channel's table.

    Args:
        encoder: the stream being written.
        q: [M], int64, symbols (from ``FactorizedPrior.quantize``) in the order of ``layout.channel``.
        layout: channels and tables (must equal the decoder's).
    """
    tables = layout.tables
    idx = q - tables.qmin[layout.channel]
    num = tables.num_symbols[layout.channel]
    escaped = (idx < 0) | (idx >= num)
    sym = np.where(escaped, num, idx).astype(np.int32)
    for pos, rows in layout.groups:
        encoder.encode(sym[pos], _CATEGORICAL, rows)
    if escaped.any():
        excess = np.where(idx[escaped] < 0, -idx[escaped] - 1, idx[escaped] - num[escaped])
        encode_uints(encoder, 2 * excess + (idx[escaped] < 0))


def decode_symbols(decoder: constriction.stream.queue.RangeDecoder, layout: SymbolLayout) -> np.ndarray:
    """Inverse of :func:`encode_symbols`: returns q [M] int64.

    Raises:
        DataError: the stream cannot be a stream written by :func:`encode_symbols` with this layout.
    """
    tables = layout.tables
    idx = np.empty(layout.channel.size, dtype=np.int64)
    for pos, rows in layout.groups:
        idx[pos] = decoder.decode(_CATEGORICAL, rows)
    num = tables.num_symbols[layout.channel]
    if (idx > num).any():
        raise DataError("corrupt bitstream: a latent symbol lies in the padding of its table")
    escaped = idx == num
    if escaped.any():
        u = decode_uints(decoder, int(escaped.sum()))
        below = (u & 1).astype(bool)
        excess = u >> 1
        idx[escaped] = np.where(below, -excess - 1, num[escaped] + excess)
    return idx + tables.qmin[layout.channel]


def encode_uints(encoder: constriction.stream.queue.RangeEncoder, u: np.ndarray) -> None:
    """Append unsigned integers (< 2**32) with an Elias-gamma style code: bit length, then the bits.

    Costs log2(33) + max(bit_length - 1, 0) bits each.
    """
    u = np.asarray(u, dtype=np.int64)
    if (u < 0).any() or (u >= 2**_MAX_UINT_BITS).any():
        raise ValueError("encode_uints takes integers in [0, 2**32)")
    num_bits = np.frexp(u.astype(np.float64))[1].astype(np.int64)  # bit_length (exact for u < 2**53)
    encoder.encode(num_bits.astype(np.int32), _BIT_LENGTH)
    rest = u - np.where(num_bits > 0, 1 << np.maximum(num_bits - 1, 0), 0)
    lo_bits = np.minimum(np.maximum(num_bits - 1, 0), 16)
    hi_bits = np.maximum(num_bits - 1 - 16, 0)
    for bits, value in ((lo_bits, rest & 0xFFFF), (hi_bits, rest >> 16)):
        used = bits > 0
        if used.any():
            encoder.encode(value[used].astype(np.int32), _UNIFORM, (1 << bits[used]).astype(np.int32))


def decode_uints(decoder: constriction.stream.queue.RangeDecoder, count: int) -> np.ndarray:
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
