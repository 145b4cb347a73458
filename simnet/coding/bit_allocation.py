"""Paper 003's quantization design: per-output scalar K-means codebooks and greedy bit allocation.

    z [N, M] encoder outputs ──kmeans_table──> loss[m, b] (K-means distortion of output m with 2^b codewords)
        ──allocate_bits (paper III-A, eq. 2-3)──> bits [M], sum = budget ──codebooks with 2^bits[m] words each

The allocation moves one bit at a time, from the output whose loss grows least when it loses a bit (eq. 2) to
the output whose loss falls most when it gains one (eq. 3), while that lowers the total loss. K-means here is
Lloyd's algorithm in 1-D, batched over the M outputs (quantile initialisation, so it is deterministic).
"""

from __future__ import annotations

import numpy as np
import torch

from simnet.errors import ConfigError


def kmeans_1d(z: torch.Tensor, num_words: int, num_iters: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's K-means of every column of ``z`` at once.

    Args:
        z: [N, M] float samples, one column per encoder output.
        num_words: K codewords per column (>= 1).
        num_iters: Lloyd iterations (each: nearest word by mid-point boundaries, then cluster means).

    Returns:
        (codewords [M, K] float32, sorted ascending per row; mean squared quantization error [M] float64).
    """
    x = z.detach().to(torch.float64).T.contiguous()  # [M, N]
    num_outputs, num = x.shape
    if num == 0:
        raise ConfigError("K-means needs at least one encoder output sample")
    levels = (torch.arange(num_words, dtype=torch.float64) + 0.5) / num_words
    words = torch.quantile(x, levels, dim=1).T.contiguous()  # [M, K]
    for _ in range(num_iters):
        assign = _nearest_sorted(x, words)
        sums = torch.zeros(num_outputs, num_words, dtype=torch.float64).scatter_add_(1, assign, x)
        counts = torch.zeros(num_outputs, num_words, dtype=torch.float64).scatter_add_(1, assign, torch.ones_like(x))
        # an empty cluster keeps its word (it cannot move anything); the others go to their means
        words = torch.where(counts > 0, sums / counts.clamp_min(1.0), words).sort(dim=1).values
    assign = _nearest_sorted(x, words)
    err = (x - words.gather(1, assign)).square().mean(dim=1)
    return words.to(torch.float32), err


def _nearest_sorted(x: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
    """Index of the nearest word, [M, N] int64, for rows ``x`` [M, N] and ascending ``words`` [M, K]."""
    mids = 0.5 * (words[:, 1:] + words[:, :-1])
    return torch.searchsorted(mids.contiguous(), x.contiguous())


def kmeans_table(z: torch.Tensor, max_bits: int, num_iters: int = 40) -> torch.Tensor:
    """Quantization loss of every output at every bit count: [M, max_bits + 1] float64 (column b: 2^b words)."""
    return torch.stack([kmeans_1d(z, 2**b, num_iters)[1] for b in range(max_bits + 1)], dim=1)


def uniform_bits(num_outputs: int, budget: int, max_bits: int) -> np.ndarray:
    """The allocation as even as integers allow: ``budget // M`` bits each, one more for the first outputs.

    Returns:
        bits [M] int64, summing to ``budget``.
    """
    if not 0 <= budget <= num_outputs * max_bits:
        raise ConfigError(f"bit budget {budget} does not fit {num_outputs} outputs of at most {max_bits} bits")
    bits = np.full(num_outputs, budget // num_outputs, dtype=np.int64)
    bits[: budget % num_outputs] += 1
    return bits


def allocate_bits(loss: np.ndarray | torch.Tensor, start: np.ndarray, max_moves: int | None = None) -> np.ndarray:
    """Paper 003's iterative bit allocation (Sec. III-A) from ``start``, under its total.

    Each move takes a bit from ``d = argmin_m loss[m, B_m - 1] - loss[m, B_m]`` (eq. 2, outputs with B_m > 0)
    and gives it to ``a = argmax_m loss[m, B_m] - loss[m, B_m + 1]`` (eq. 3, outputs below the cap), if that
    lowers the total loss; it stops when no move does (ties go to the lowest index).

    Args:
        loss: [M, max_bits + 1] quantization loss of each output at each bit count.
        start: [M] int initial allocation (its sum is the budget kept).
        max_moves: safety cap on the moves (None: M * max_bits, more than any descent needs).

    Returns:
        bits [M] int64, same sum as ``start``.
    """
    table = np.asarray(loss, dtype=np.float64)
    bits = np.asarray(start, dtype=np.int64).copy()
    num_outputs, num_levels = table.shape
    if bits.shape != (num_outputs,) or bits.min(initial=0) < 0 or bits.max(initial=0) >= num_levels:
        raise ConfigError(f"start allocation {bits.tolist()} does not fit {num_outputs} outputs of "
                          f"0..{num_levels - 1} bits")
    rows = np.arange(num_outputs)
    for _ in range(max_moves if max_moves is not None else num_outputs * num_levels):
        current = table[rows, bits]
        cost = np.where(bits > 0, table[rows, np.maximum(bits - 1, 0)] - current, np.inf)
        gain = np.where(bits < num_levels - 1, current - table[rows, np.minimum(bits + 1, num_levels - 1)], -np.inf)
        d, a = int(np.argmin(cost)), int(np.argmax(gain))
        if d == a or not gain[a] - cost[d] > 1e-12 * max(float(current.sum()), 1e-300):
            break
        bits[d] -= 1
        bits[a] += 1
    return bits
