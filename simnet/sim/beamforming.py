"""Precoders and scores: NMSE, beamforming gain (cosine similarity), SGCS, spectral efficiency (MRT, ZF).

Convention: ``h`` [..., num_bs_ant, num_subcarriers] is the downlink channel from the BS array to a
single-antenna UE; a precoder ``w`` [num_bs_ant] on subcarrier k gives the received amplitude h_k^T w.
"""

from __future__ import annotations

import numpy as np

from simnet.subbands import SGCS_SUBBAND_SIZE, subband_directions

_EPS = 1e-30



def nmse(h: np.ndarray, h_hat: np.ndarray) -> np.ndarray:
    """Normalised MSE ||h - h_hat||^2 / ||h||^2 per sample.

    Args:
        h, h_hat: [..., num_bs_ant, num_subcarriers], complex.

    Returns:
        [...], float64, linear NMSE.
    """
    err = np.sum(np.abs(h - h_hat) ** 2, axis=(-2, -1))
    ref = np.sum(np.abs(h) ** 2, axis=(-2, -1))
    return err / np.maximum(ref, _EPS)


def to_db(x: np.ndarray | float) -> np.ndarray:
    """10*log10(x), with a floor at -300 dB for zeros."""
    return 10.0 * np.log10(np.maximum(np.asarray(x, dtype=np.float64), 1e-30))


def cosine_similarity(h: np.ndarray, h_hat: np.ndarray) -> np.ndarray:
    """Beamforming gain of MRT on ``h_hat`` relative to perfect CSI, averaged over subcarriers.

    rho = mean_k |h_hat_k^H h_k| / (||h_hat_k|| ||h_k||), in [0, 1].

    Args:
        h, h_hat: [..., num_bs_ant, num_subcarriers], complex.

    Returns:
        [...], float64.
    """
    inner = np.abs(np.sum(np.conj(h_hat) * h, axis=-2))
    den = np.linalg.norm(h_hat, axis=-2) * np.linalg.norm(h, axis=-2)
    return np.mean(inner / np.maximum(den, _EPS), axis=-1)


def sgcs(h: np.ndarray, h_hat: np.ndarray, subband_size: int = SGCS_SUBBAND_SIZE) -> np.ndarray:
    """Squared generalized cosine similarity of the reconstruction's subband directions, mean over subbands.

    SGCS = mean_j |w_hat_j^H v_j|^2 / (||w_hat_j||^2 ||v_j||^2), with v_j and w_hat_j the directions
    (:func:`subband_directions`) of ``h`` and ``h_hat`` on subband j; in [0, 1], blind to each subband's
    scale and common phase. A codebook's h_hat repeats conj(w_j) over the subband's subcarriers, so its
    direction is the reported precoder w_j itself. A subband where either direction is zero scores 0.

    Args:
        h, h_hat: [..., num_bs_ant, num_subcarriers], complex.
        subband_size: subcarriers per subband.

    Returns:
        [...], float64.
    """
    v = subband_directions(h, subband_size)
    w_hat = subband_directions(h_hat, subband_size)
    return np.mean(np.abs(np.sum(np.conj(w_hat) * v, axis=-1)) ** 2, axis=-1)


def mrt_se(h: np.ndarray, h_hat: np.ndarray, snr_db: float) -> np.ndarray:
    """Spectral efficiency of one UE served alone with MRT built from ``h_hat``.

    w_k = conj(h_hat_k) / ||h_hat_k||; SE = mean_k log2(1 + snr |h_k^T w_k|^2) [bit/s/Hz], where
    ``snr`` is the transmit power over noise power for a channel of unit per-antenna gain.

    Args:
        h, h_hat: [..., num_bs_ant, num_subcarriers], complex.
        snr_db: transmit SNR [dB].

    Returns:
        [...], float64 [bit/s/Hz].
    """
    snr = 10.0 ** (snr_db / 10.0)
    w = np.conj(h_hat) / np.maximum(np.linalg.norm(h_hat, axis=-2, keepdims=True), _EPS)
    gain = np.abs(np.sum(h * w, axis=-2)) ** 2
    return np.mean(np.log2(1.0 + snr * gain), axis=-1)


def zf_se(h: np.ndarray, h_hat: np.ndarray, snr_db: float) -> np.ndarray:
    """Per-UE spectral efficiency of zero-forcing across UEs built from the reconstructions.

    Per subcarrier, W = H_hat^H (H_hat H_hat^H)^-1 with unit-norm columns and power split equally; the
    interference left by imperfect CSI counts as noise. Leading dimensions are independent problems (e.g.
    downlink slots), each the same as a call on its own.

    Args:
        h, h_hat: [..., num_ues, num_bs_ant, num_subcarriers], complex (true channels at time of use and the
            BS's reconstructions).
        snr_db: total transmit SNR [dB].

    Returns:
        [..., num_ues], float64 [bit/s/Hz], averaged over subcarriers.
    """
    num_ues = h.shape[-3]
    snr_per_ue = 10.0 ** (snr_db / 10.0) / num_ues
    hk = np.moveaxis(h, -1, -3)  # [..., S, U, A]
    hk_hat = np.moveaxis(h_hat, -1, -3)
    gram = hk_hat @ np.conj(np.swapaxes(hk_hat, -1, -2))  # [..., S, U, U]
    reg = 1e-9 * np.trace(gram, axis1=-2, axis2=-1).real[..., None, None] / num_ues
    w = np.conj(np.swapaxes(hk_hat, -1, -2)) @ np.linalg.inv(gram + reg * np.eye(num_ues))  # [..., S, A, U]
    w = w / np.maximum(np.linalg.norm(w, axis=-2, keepdims=True), _EPS)
    g = np.abs(hk @ w) ** 2  # [..., S, U(rx), U(stream)]
    signal = np.diagonal(g, axis1=-2, axis2=-1)
    interference = np.sum(g, axis=-1) - signal
    sinr = snr_per_ue * signal / (1.0 + snr_per_ue * interference)
    return np.mean(np.log2(1.0 + sinr), axis=-2)
