"""Channel statistics: RMS delay spread, azimuth angular spread, Ricean K-factor (path- and H-based)."""

from __future__ import annotations

import numpy as np


def rms_delay_spread_s(power: np.ndarray, delay_s: np.ndarray) -> float:
    """Power-weighted RMS delay spread.

    Args:
        power: [P], float, linear path powers.
        delay_s: [P], float, path delays [s].

    Returns:
        RMS delay spread [s].
    """
    w = np.asarray(power, dtype=np.float64)
    w = w / w.sum()
    tau = np.asarray(delay_s, dtype=np.float64)
    mean = float(w @ tau)
    return float(np.sqrt(max(float(w @ (tau - mean) ** 2), 0.0)))


def azimuth_spread_deg(power: np.ndarray, az_deg: np.ndarray) -> float:
    """Power-weighted RMS azimuth spread around the circular mean (38.901 Annex A.1 style, wrapped).

    Args:
        power: [P], float, linear path powers.
        az_deg: [P], float, azimuths [deg].

    Returns:
        Angular spread [deg].
    """
    w = np.asarray(power, dtype=np.float64)
    w = w / w.sum()
    az = np.deg2rad(np.asarray(az_deg, dtype=np.float64))
    mean = np.angle(np.sum(w * np.exp(1j * az)))
    diff = np.angle(np.exp(1j * (az - mean)))
    return float(np.rad2deg(np.sqrt(w @ diff**2)))


def k_factor_db(power: np.ndarray, is_los: np.ndarray) -> float:
    """Ricean K-factor: LOS power over the rest [dB] (-inf when there is no LOS power)."""
    p = np.asarray(power, dtype=np.float64)
    los = np.asarray(is_los, dtype=bool)
    p_los, p_rest = p[los].sum(), p[~los].sum()
    return float(10 * np.log10(p_los / p_rest)) if p_los > 0 else float("-inf")


def rms_delay_spread_from_h(h: np.ndarray, bandwidth_hz: float) -> np.ndarray:
    """RMS delay spread of the power delay profile of frequency responses (resolution 1 / bandwidth).

    Args:
        h: [N, num_bs_ant, num_subcarriers], complex, frequency responses.
        bandwidth_hz: OFDM bandwidth [Hz].

    Returns:
        [N], float64, delay spreads [s].
    """
    pdp = (np.abs(np.fft.ifft(h, axis=-1)) ** 2).sum(axis=1)  # [N, S]
    tau = np.arange(h.shape[-1]) / bandwidth_hz
    w = pdp / pdp.sum(axis=1, keepdims=True)
    mean = w @ tau
    return np.sqrt(np.maximum(w @ tau**2 - mean**2, 0.0))


def correlation(h_a: np.ndarray, h_b: np.ndarray) -> np.ndarray:
    """Normalised inner product |<h_a, h_b>| / (||h_a|| ||h_b||) per sample: [N, ...] -> [N] float64."""
    a = h_a.reshape(h_a.shape[0], -1).astype(np.complex128)
    b = h_b.reshape(h_b.shape[0], -1).astype(np.complex128)
    num = np.abs(np.sum(np.conj(a) * b, axis=1))
    return num / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def spatial_covariance(h: np.ndarray) -> np.ndarray:
    """Sample spatial covariance over samples and subcarriers: [N, A, S] -> [A, A] complex128."""
    x = np.moveaxis(h, 1, 2).reshape(-1, h.shape[1]).astype(np.complex128)
    return (x.T @ x.conj()) / x.shape[0]


def correlation_matrix_distance(r_a: np.ndarray, r_b: np.ndarray) -> float:
    """Correlation-matrix distance 1 - tr(R_a R_b) / (||R_a||_F ||R_b||_F), in [0, 1] (Herdin et al. 2005)."""
    num = np.real(np.trace(r_a @ r_b))
    return float(1.0 - num / (np.linalg.norm(r_a) * np.linalg.norm(r_b)))
