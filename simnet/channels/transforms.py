"""Spatial-frequency <-> angular-delay transforms (orthonormal 2-D DFT) with delay-tap truncation."""

from __future__ import annotations

import numpy as np

from simnet.errors import ConfigError


def _spatial(h: np.ndarray, bs_array: tuple[int, int] | None, inverse: bool) -> np.ndarray:
    fn = np.fft.ifft if inverse else np.fft.fft
    if bs_array is None:
        return fn(h, axis=-2, norm="ortho")
    rows, cols = bs_array
    if rows * cols != h.shape[-2]:
        raise ConfigError(f"bs_array {bs_array} does not match {h.shape[-2]} antennas")
    # Antenna index m = col * rows + row (quadriga-lib / geometric source convention).
    grid = h.reshape(h.shape[:-2] + (cols, rows, h.shape[-1]))
    fn2 = np.fft.ifft2 if inverse else np.fft.fft2
    return fn2(grid, axes=(-3, -2), norm="ortho").reshape(h.shape)


def to_angular_delay(
    h: np.ndarray, num_taps: int | None = None, bs_array: tuple[int, int] | None = None
) -> np.ndarray:
    """Spatial-frequency H to the angular-delay domain, keeping the first ``num_taps`` delay taps.

    A DFT over antennas (2-D over columns x rows when ``bs_array`` is given) gives angle bins; an inverse
    DFT over subcarriers gives delay taps spaced 1 / bandwidth. Both are orthonormal, so energy is kept
    (all of it when nothing is truncated).

    Args:
        h: [..., num_bs_ant, num_subcarriers], complex.
        num_taps: delay taps kept (default: all).
        bs_array: (rows, cols) for a 2-D angular transform of a UPA; None for a 1-D DFT over antennas.

    Returns:
        [..., num_bs_ant, num_taps], complex (same precision as ``h``).
    """
    k = h.shape[-1]
    num_taps = k if num_taps is None else int(num_taps)
    if not 1 <= num_taps <= k:
        raise ConfigError(f"num_taps must be in [1, {k}], got {num_taps}")
    x = np.fft.ifft(_spatial(h, bs_array, inverse=False), axis=-1, norm="ortho")[..., :num_taps]
    return x.astype(np.result_type(h.dtype, np.complex64), copy=False)


def from_angular_delay(
    x: np.ndarray, num_subcarriers: int, bs_array: tuple[int, int] | None = None
) -> np.ndarray:
    """Inverse of ``to_angular_delay``: zero-pads the truncated taps back to ``num_subcarriers``.

    Args:
        x: [..., num_bs_ant, num_taps], complex.
        num_subcarriers: K of the spatial-frequency output.
        bs_array: as given to ``to_angular_delay``.

    Returns:
        [..., num_bs_ant, num_subcarriers], complex.
    """
    taps = x.shape[-1]
    if taps > num_subcarriers:
        raise ConfigError(f"{taps} delay taps do not fit in {num_subcarriers} subcarriers")
    full = np.zeros(x.shape[:-1] + (num_subcarriers,), dtype=np.result_type(x.dtype, np.complex64))
    full[..., :taps] = x
    h = _spatial(np.fft.fft(full, axis=-1, norm="ortho"), bs_array, inverse=True)
    return h.astype(full.dtype, copy=False)
