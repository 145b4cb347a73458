"""Tiny deterministic channel batches for the codec tests (a few-path ULA/OFDM model, no channel source)."""

from __future__ import annotations

import numpy as np
import pytest


def few_path_channels(num: int, num_bs_ant: int, num_subcarriers: int, seed: int) -> np.ndarray:
    """[num, A, S] complex64 sums of 3 plane waves with random angles, delays (< S/4 taps) and gains."""
    rng = np.random.default_rng(seed)
    num_paths = 3
    sin_theta = rng.uniform(-1, 1, (num, num_paths, 1, 1))
    tau_taps = rng.uniform(0, num_subcarriers / 4, (num, num_paths, 1, 1))
    gain = (rng.standard_normal((num, num_paths, 1, 1)) + 1j * rng.standard_normal((num, num_paths, 1, 1)))
    gain *= 10.0 ** rng.uniform(-6, -3, (num, 1, 1, 1))  # path-loss-like power spread over reports
    a = np.arange(num_bs_ant).reshape(1, 1, -1, 1)
    s = np.arange(num_subcarriers).reshape(1, 1, 1, -1)
    h = gain * np.exp(-1j * np.pi * a * sin_theta) * np.exp(-2j * np.pi * s * tau_taps / num_subcarriers)
    return h.sum(axis=1).astype(np.complex64)


@pytest.fixture
def channels_8x8() -> np.ndarray:
    return few_path_channels(16, 8, 8, seed=0)
