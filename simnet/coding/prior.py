"""Factorized ("DeepFactorized") latent prior and real range coding of its integer symbols.

Follows the design of CompressAI's ``EntropyBottleneck`` (Balle et al. 2018, appendix 6.1), written anew:

    training   y ──(+ U(-1/2, 1/2))──> y_tilde ──> p(y_tilde) = c(y_tilde + 1/2) - c(y_tilde - 1/2)
    inference  y ──clamp, round(y - median)──> q (int) ──> y_hat = q + median,  p(y_hat) as above

``c`` is a monotone per-channel cumulative built from a small network (filters 1-3-3-3-1, softplus-positive
matrices, tanh gates). From it ``update_tables()`` derives, per channel, the support ``[qmin, qmax]`` holding
all but ``tail_mass`` of the mass, integer pmf tables (``2**16`` scale, every entry >= 1) and one escape
symbol carrying the tails. Encoder and decoder hand constriction's range coder the *same integer tables*
(as float64), so decoding is exact; the coding itself (batched, with escapes) is in :mod:`simnet.coding.stream_layout`.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

PMF_PRECISION_BITS = 16  # integer pmf scale; constriction requantizes these exact integers identically
LATENT_LIMIT = 2**20  # |y| is clamped to this before rounding, so escaped values fit the uint code


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


TABLE_CACHE_SIZE = 64
"""Coding tables kept per process, by the fingerprint of the parameters they were built from: every UE and the
BS hold a copy of one codec (and a coded update is applied on both sides), so one build serves them all."""

_TABLE_CACHE: OrderedDict[tuple[Any, ...], CodingTables] = OrderedDict()


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
    def _layers(self, dtype: torch.dtype) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        """Per layer (softplus(matrix), bias, tanh(factor) or None), in ``dtype``: what ``_logits_cumulative``
        applies, computed once for many calls on fixed parameters."""
        return [(F.softplus(matrix.to(dtype)), bias.to(dtype),
                 torch.tanh(self.factors[i].to(dtype)) if i < len(self.factors) else None)
                for i, (matrix, bias) in enumerate(zip(self.matrices, self.biases, strict=True))]

    def _logits_cumulative(self, x: torch.Tensor,
                           layers: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] | None = None,
                           ) -> torch.Tensor:
        """Logit of c(x): x [C, 1, N] -> [C, 1, N] (monotone increasing in x); ``layers`` from :meth:`_layers`."""
        for matrix, bias, factor in layers if layers is not None else self._layers(x.dtype):
            x = torch.matmul(matrix, x) + bias
            if factor is not None:
                x = x + factor * torch.tanh(x)
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
            noise = torch.rand(y.shape, generator=generator, dtype=y.dtype, device=y.device) - 0.5
            y_tilde = y + noise
        else:
            y_tilde = self.dequantize(self.quantize(y))
        return y_tilde, self.likelihood(y_tilde)

    # ---------------------------------------------------------------------------------------- quantizer
    def _medians_tensor(self, like: torch.Tensor) -> torch.Tensor:
        medians = torch.tensor(self.tables().medians).to(like.device, like.dtype)
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

    def _cache_key(self, fingerprint: bytes) -> tuple[Any, ...]:
        shapes = tuple(tuple(p.shape) for p in self.parameters())
        return fingerprint, shapes, self.tail_mass, self.max_symbols

    def tables(self) -> CodingTables:
        """The coding tables, rebuilt first if the parameters changed since they were built."""
        # cheap check first: in-place updates (optimizer steps, copy_) bump the tensors' version counters, and a
        # replaced parameter has a new id (enumerated directly: ``parameters()`` costs ~30 us per call)
        groups = (self.matrices, self.biases, self.factors)
        versions = tuple((id(p), p._version) for g in groups for p in g._parameters.values() if p is not None)
        if self._tables is not None and versions == getattr(self, "_versions", None):
            return self._tables
        fingerprint = self.fingerprint()
        if self._tables is None or self._tables.fingerprint != fingerprint:
            key = self._cache_key(fingerprint)
            cached = _TABLE_CACHE.get(key)
            if cached is None:
                self.update_tables()
            else:
                _TABLE_CACHE.move_to_end(key)
                self._tables = cached
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
        layers = self._layers(torch.float64)
        for _ in range(80):  # bisection: c is monotone, 80 halvings of 4e6 reach ~3e-18
            mid = 0.5 * (lo + hi)
            below = self._logits_cumulative(mid, layers) < target
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
        upper = torch.sigmoid(self._logits_cumulative(grid + 0.5, layers))[:, 0, :]
        lower = torch.sigmoid(self._logits_cumulative(grid - 0.5, layers))[:, 0, :]
        pmf = (upper - lower).clamp_min(0.0)
        valid = torch.arange(width).reshape(1, -1) < num_symbols.reshape(-1, 1)
        pmf = torch.where(valid, pmf, torch.zeros_like(pmf))
        tail = (1.0 - pmf.sum(dim=1, keepdim=True)).clamp_min(0.0)
        pmf_int = torch.floor(torch.cat([pmf, torch.zeros_like(tail)], dim=1) * 2**PMF_PRECISION_BITS) + 1
        pmf_int = torch.where(torch.cat([valid, torch.zeros_like(tail, dtype=torch.bool)], 1), pmf_int, 0)
        escape_mass = torch.floor(tail[:, 0] * 2**PMF_PRECISION_BITS) + 1
        pmf_int[torch.arange(self.num_channels), num_symbols] = escape_mass
        fingerprint = self.fingerprint()
        self._tables = CodingTables(medians=medians.numpy().copy(), qmin=qmin.to(torch.int64).numpy(),
                                    num_symbols=num_symbols.numpy(), pmf=pmf_int.numpy(), fingerprint=fingerprint)
        for a in (self._tables.medians, self._tables.qmin, self._tables.num_symbols, self._tables.pmf):
            a.flags.writeable = False  # shared by every copy of the codec through the cache
        _TABLE_CACHE[self._cache_key(fingerprint)] = self._tables
        while len(_TABLE_CACHE) > TABLE_CACHE_SIZE:
            _TABLE_CACHE.popitem(last=False)
        return self._tables
