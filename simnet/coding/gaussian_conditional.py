"""Zero-mean Gaussian conditional entropy model of a latent y with given scales, and its real range coding.

Follows CompressAI's ``GaussianConditional`` (Balle et al. 2018, "Variational image compression with a scale
hyperprior"), written anew:

    training   y ──(+ U(-1/2, 1/2))──> y_tilde,  p(y_tilde) = Phi((1/2 - |y|) / s) - Phi((-1/2 - |y|) / s)
    coding     q = round(y) ──constriction QuantizedGaussian(mean 0, std = SCALES[index])──> bytes

The scale of every symbol comes from the hyper-synthesis as a *log-scale* ``r``; for coding, ``r`` is quantized
to the index of a fixed log-spaced table (:func:`scale_index`: only additions, one multiplication and a
rounding, no transcendental function), so encoder and decoder hand the coder the same float64 std exactly as
long as they agree on ``r`` to within the table's step (12 % of a scale). Symbols with ``|q| >= SYMBOL_LIMIT``
are sent as the escape symbol ``sign(q) * SYMBOL_LIMIT`` followed by ``|q| - SYMBOL_LIMIT`` in the
uint code of :mod:`simnet.coding.stream_layout`.
"""

from __future__ import annotations

import math
from typing import Any

import constriction
import numpy as np
import torch

from simnet.coding.stream_layout import Decoder, EncodeCall, decode_uints, uint_calls

SCALE_MIN = 0.11  # CompressAI's lower bound on scales: below it a symbol is all but certainly 0 anyway
SCALE_MAX = 256.0
NUM_SCALES = 64
LOG_SCALE_MIN = math.log(SCALE_MIN)
LOG_SCALE_MAX = math.log(SCALE_MAX)
LOG_SCALE_STEP = (LOG_SCALE_MAX - LOG_SCALE_MIN) / (NUM_SCALES - 1)
SCALES = np.exp(LOG_SCALE_MIN + LOG_SCALE_STEP * np.arange(NUM_SCALES, dtype=np.float64))
"""[NUM_SCALES], float64, the coding table of scales (latent units), log-spaced from SCALE_MIN to SCALE_MAX."""
SYMBOL_LIMIT = 1024  # symbols -SYMBOL_LIMIT..SYMBOL_LIMIT are in the coder's model, the two ends as escapes
LIKELIHOOD_BOUND = 1e-9

_MODEL = constriction.stream.model.QuantizedGaussian(-SYMBOL_LIMIT, SYMBOL_LIMIT)


class _LowerBound(torch.autograd.Function):
    """max(x, bound) whose gradient still flows where it would raise x (CompressAI's ``LowerBound``)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, bound: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp_min(bound)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        passes = (x >= ctx.bound) | (grad < 0)
        return grad * passes.to(grad.dtype), None


def training_scale(log_scale: torch.Tensor) -> torch.Tensor:
    """Scale used while training: exp(r) bounded below by SCALE_MIN (gradient kept where it raises it) and
    above by SCALE_MAX (where the coding table ends; it also keeps exp finite when a step overshoots)."""
    return _LowerBound.apply(torch.exp(log_scale.clamp(max=LOG_SCALE_MAX)), SCALE_MIN)


def scale_index(log_scale: torch.Tensor) -> torch.Tensor:
    """Coding-table index of each log-scale: round((r - log SCALE_MIN) / step), clipped, any shape -> int64."""
    position = (log_scale.to(torch.float64) - LOG_SCALE_MIN) / LOG_SCALE_STEP
    return torch.round(position).clamp(0, NUM_SCALES - 1).to(torch.int64)


def table_scale(index: torch.Tensor) -> torch.Tensor:
    """The table's scales at ``index`` (int64, any shape) as float32."""
    return torch.from_numpy(SCALES.astype(np.float32))[index]


def likelihood(y: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Mass of the unit bin centred on each value under N(0, scale^2): same shape as ``y``, in (0, 1].

    Evaluated on the lower tail (``|y|``) where the normal cdf has no cancellation.
    """
    magnitude = y.abs()
    upper = torch.special.ndtr((0.5 - magnitude) / scale)
    lower = torch.special.ndtr((-0.5 - magnitude) / scale)
    return (upper - lower).clamp_min(LIKELIHOOD_BOUND)


def plan(q: np.ndarray, index: np.ndarray) -> list[list[EncodeCall]]:
    """The encoder calls that write each report's y symbols.

    Args:
        q: [B, M], int64, symbols round(y) (|q| < 2**30).
        index: [B, M], int64, their scale-table indices.

    Returns:
        B lists of argument tuples for ``RangeEncoder.encode``: the M symbols (escapes clipped to the ends),
        then, if any, the uint code of each escaped symbol's excess ``|q| - SYMBOL_LIMIT`` (the escape symbol
        carries the sign).
    """
    q = np.asarray(q, dtype=np.int64)
    clipped = np.clip(q, -SYMBOL_LIMIT, SYMBOL_LIMIT).astype(np.int32)
    stds = SCALES[np.asarray(index)]
    means = np.zeros(q.shape[1], dtype=np.float64)
    escaped = np.abs(q) >= SYMBOL_LIMIT
    plans: list[list[EncodeCall]] = [[(clipped[i], _MODEL, means, stds[i])] for i in range(len(q))]
    for i in np.flatnonzero(escaped.any(axis=1)).tolist():
        values = q[i, escaped[i]]
        plans[i].extend(uint_calls(np.abs(values) - SYMBOL_LIMIT))
    return plans


def decode(decoder: Decoder, index: np.ndarray) -> np.ndarray:
    """Read one report written by :func:`plan`'s calls: index [M] int64 -> q [M] int64."""
    means = np.zeros(len(index), dtype=np.float64)
    q = decoder.decode(_MODEL, means, SCALES[np.asarray(index)]).astype(np.int64)
    escaped = np.abs(q) == SYMBOL_LIMIT
    if escaped.any():
        q[escaped] += np.sign(q[escaped]) * decode_uints(decoder, int(escaped.sum()))
    return q
