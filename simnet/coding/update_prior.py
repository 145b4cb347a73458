"""The model-update quantizer and its prior (core paper eq. 12-20): what an update costs, differentiably.

    delta = theta' - theta                          (float32, one tensor per parameter)
    q     = clip(round(delta / t), q_min, q_max)     (eq. 12-14, integers, num_bins bins)
    new   = theta + t * q                            (same float32 ops at UE and BS: bit-identical)

The prior pushed through the quantizer (eq. 15) is a categorical pmf over the ``num_bins`` bins,
``P(q) = F((q + 1/2) t) - F((q - 1/2) t)`` with the two edge bins also taking the tails (clipping maps them
there). Priors: ``spike-and-slab`` (eq. 16-18: ``(N(0, sigma_slab) + alpha * N(0, t/6)) / (1 + alpha)``),
``gaussian`` (``N(0, sigma_slab)``) and ``uniform`` (every bin equally likely). The bins are
``q in [-(num_bins // 2), num_bins - 1 - num_bins // 2]`` (like a two's-complement integer: 256 bins = int8),
so an even count is one bin wider on the negative side. :mod:`simnet.coding.updates` codes ``q`` for real.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from simnet.errors import ConfigError

PRIORS = ("spike-and-slab", "gaussian", "uniform")


@dataclass(frozen=True)
class UpdateCoding:
    """How model updates are quantized and priced (eq. 12-18).

    Attributes:
        prior: "spike-and-slab", "gaussian" or "uniform".
        num_bins: number of quantization bins, 2..256 (Table IV).
        t: bin width of the update quantizer (parameter units).
        alpha: spike height relative to the slab (spike-and-slab only).
        sigma_slab: standard deviation of the slab (and of the gaussian prior).
    """

    prior: str = "spike-and-slab"
    num_bins: int = 64
    t: float = 0.05
    alpha: float = 1000.0
    sigma_slab: float = 0.5

    def __post_init__(self) -> None:
        self.check_keywords({f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def check_keywords(cls, keywords: Mapping[str, Any]) -> None:
        """The range checks of update-coding keywords, for any subset of the fields (a scenario's, before the
        codec's defaults fill the rest): each given keyword alone, and ``sigma_slab > t/6`` where both are given.

        Raises:
            ConfigError: one line naming the first bad keyword (in field order), its value and what is allowed.
        """
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(keywords) - set(names))
        if unknown:
            raise ConfigError(f"{unknown[0]}: not an update-coding keyword (allowed: {', '.join(names)})")
        if "prior" in keywords and keywords["prior"] not in PRIORS:
            raise ConfigError(f"prior: {keywords['prior']!r} is not allowed (allowed: {', '.join(PRIORS)})")
        bins = keywords.get("num_bins")
        if "num_bins" in keywords and (isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 256):
            raise ConfigError(f"num_bins: {bins!r} is out of range (allowed: integer 2..256)")
        for key in ("t", "alpha", "sigma_slab"):
            if key not in keywords:
                continue
            value = keywords[key]
            number = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
            if not number or value < 0 or (value == 0 and key != "alpha"):
                allowed = "finite number > 0" if key != "alpha" else "finite number >= 0"
                raise ConfigError(f"{key}: {value!r} is out of range (allowed: {allowed})")
        if "t" in keywords and "sigma_slab" in keywords and keywords["sigma_slab"] <= (spike := keywords["t"] / 6):
            raise ConfigError(f"sigma_slab: {keywords['sigma_slab']!r} is out of range (allowed: > t/6 = {spike:g})")

    @property
    def q_min(self) -> int:
        return -(self.num_bins // 2)

    @property
    def q_max(self) -> int:
        return self.num_bins - 1 + self.q_min


# ---------------------------------------------------------------------------------------------- quantizer
def quantize_indices(delta: torch.Tensor, coding: UpdateCoding) -> torch.Tensor:
    """Integer bin indices q of eq. 12-14.

    Args:
        delta: any shape, float.

    Returns:
        Same shape, int64 in [q_min, q_max].
    """
    return torch.clamp(torch.round(delta.detach() / coding.t), coding.q_min, coding.q_max).to(torch.int64)


def quantize_ste(delta: torch.Tensor, coding: UpdateCoding) -> torch.Tensor:
    """Quantized update ``t * q`` with a straight-through gradient (identity inside the clip range).

    Args:
        delta: any shape, float32 (trainable).

    Returns:
        Same shape and dtype: forward value ``t * q``, gradient ``d/d delta = 1``.
    """
    lo, hi = coding.q_min * coding.t, coding.q_max * coding.t
    clipped = torch.clamp(delta, lo, hi)
    return clipped + (quantize_indices(delta, coding).to(delta.dtype) * coding.t - clipped).detach()


def dequantize(base: torch.Tensor, q: torch.Tensor, t: float) -> torch.Tensor:
    """``base + t * q`` in float32: the ONE formula both UE and BS use, so their results are bit-identical."""
    return base.to(torch.float32) + q.to(torch.float32) * torch.tensor(t, dtype=torch.float32)


# ---------------------------------------------------------------------------------------------- priors
def _tail(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """P(X > x) for X ~ N(0, sigma), accurate far in the tail (erfc, not 1 - cdf)."""
    return 0.5 * torch.special.erfc(x / (sigma * math.sqrt(2.0)))


def _components(coding: UpdateCoding) -> list[tuple[float, float]]:
    """(weight, std) of the Gaussian mixture of the prior; weights sum to one."""
    if coding.prior == "spike-and-slab":
        w = coding.alpha / (1.0 + coding.alpha)
        return [(1.0 - w, coding.sigma_slab), (w, coding.t / 6.0)]
    return [(1.0, coding.sigma_slab)]


def bin_mass(delta: torch.Tensor, coding: UpdateCoding) -> torch.Tensor:
    """Prior mass of the width-t bin centred on ``delta`` (eq. 15 evaluated off the grid, eq. 20).

    Exactly the pmf of eq. 15 at bin centres, smooth in between, so it serves as the differentiable rate.

    Args:
        delta: any shape, float.

    Returns:
        Same shape and dtype, in (0, 1] (float32 keeps the fine-tuning loop fast; erfc tails keep it
        accurate).
    """
    if coding.prior == "uniform":
        return torch.full_like(delta, 1.0 / coding.num_bins)
    d = torch.clamp(delta, coding.q_min * coding.t, coding.q_max * coding.t)
    a = d.abs()
    half = coding.t / 2.0
    # The edge bins absorb the tails (clipping maps them there): their outer boundary is at infinity.
    idx = torch.round(d / coding.t)
    edge = torch.where(d >= 0, idx >= coding.q_max, idx <= coding.q_min)
    mass = torch.zeros_like(a)
    for w, sigma in _components(coding):
        upper = torch.where(edge, torch.zeros_like(a), _tail(a + half, sigma))
        mass = mass + w * (_tail(a - half, sigma) - upper)
    return torch.clamp(mass, min=torch.finfo(mass.dtype).tiny)


def pmf(coding: UpdateCoding) -> np.ndarray:
    """Categorical distribution of q over the bins (eq. 15).

    Returns:
        [num_bins], float64, sums to one; entry i is the probability of q = q_min + i.
    """
    q = torch.arange(coding.q_min, coding.q_max + 1, dtype=torch.float64)
    if coding.prior == "uniform":
        return np.full(coding.num_bins, 1.0 / coding.num_bins)
    lower = (q - 0.5) * coding.t
    upper = (q + 0.5) * coding.t
    upper[-1] = math.inf
    lower[0] = -math.inf
    p = torch.zeros_like(q)
    for w, sigma in _components(coding):
        # P(lower < X <= upper) via tails on the side of the bin away from zero (no cancellation).
        p = p + w * torch.where(q >= 0, _tail(lower, sigma) - _tail(upper, sigma),
                                _tail(-upper, sigma) - _tail(-lower, sigma))
    out = p.numpy()
    return out / out.sum()


def rate_bits(deltas: list[torch.Tensor], coding: UpdateCoding) -> torch.Tensor:
    """Differentiable update rate ``-sum log2 P(delta)`` (eq. 19-20) [bits], float32 scalar."""
    total = torch.zeros(())
    for d in deltas:
        total = total - torch.log2(bin_mass(d.to(torch.float32), coding)).sum()
    return total
