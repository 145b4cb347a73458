"""Spatially correlated Gaussian random fields (sum of sinusoids), evaluable at any ground position."""

from __future__ import annotations

import zlib

import numpy as np

DEFAULT_NUM_SINUSOIDS = 256


def field_rng(seed: int, *key: int | str) -> np.random.Generator:
    """A generator owned by one named component of a scene: same (seed, key) -> same stream.

    String parts of the key are hashed with CRC-32, integers are offset so negative grid indices work.
    """
    parts = [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) + (1 << 30) for k in key]
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=tuple(parts)))


class GaussianField:
    """Zero-mean, unit-variance 2-D Gaussian field with exponential correlation exp(-r / corr_m).

    The field is a sum of ``num_sinusoids`` cosines whose wave vectors are drawn from the 2-D spectrum of the
    exponential correlation, so it is defined everywhere, costs nothing to store, and gives the same value
    at a position whatever batch it is evaluated in.

    Args:
        corr_m: decorrelation distance [m] (correlation e^-1 at this distance).
        rng: generator that draws the wave vectors and phases.
        num_sinusoids: number of cosines (marginal is close to Gaussian for a few hundred).
    """

    def __init__(self, corr_m: float, rng: np.random.Generator, num_sinusoids: int = DEFAULT_NUM_SINUSOIDS):
        u = rng.random(num_sinusoids)
        # Radial spatial frequency [1/m]: inverse CDF 1 - 1/sqrt(1 + (2 pi f d)^2) of the 2-D spectrum.
        f = np.sqrt(np.maximum((1.0 - u) ** -2 - 1.0, 0.0)) / (2.0 * np.pi * corr_m)
        az = rng.uniform(0.0, 2.0 * np.pi, num_sinusoids)
        self.wave_vec = 2.0 * np.pi * np.stack([f * np.cos(az), f * np.sin(az)], axis=1)  # [M, 2] rad/m
        self.phase = rng.uniform(0.0, 2.0 * np.pi, num_sinusoids)
        self.scale = np.sqrt(2.0 / num_sinusoids)

    def __call__(self, xy_m: np.ndarray) -> np.ndarray:
        """Field values at ground positions.

        Args:
            xy_m: [..., 2] (or [..., 3], z ignored), float64, positions [m].

        Returns:
            [...], float64, standard-normal field values.
        """
        xy = np.asarray(xy_m, dtype=np.float64)[..., :2]
        # Element-wise (no BLAS) so a position's value never depends on the batch it is evaluated in.
        arg = xy[..., 0:1] * self.wave_vec[:, 0] + xy[..., 1:2] * self.wave_vec[:, 1] + self.phase  # [..., M]
        return self.scale * np.cos(arg).sum(axis=-1)
