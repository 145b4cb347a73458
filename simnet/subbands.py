"""Per-subband channel directions: what SGCS scores and what the NR codebooks report.

A bottom-layer module (plain numpy): the BS's scores (:mod:`simnet.sim.beamforming`) and the codebook codecs
(:mod:`simnet.codecs.etype2`, :mod:`simnet.codecs.type1`) both use it, so neither imports the other's layer.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-30

SGCS_SUBBAND_SIZE = 4
"""Subcarriers per subband of the SGCS every simnet table reports (64 subcarriers -> 16 subbands)."""


def subband_directions(h: np.ndarray, subband_size: int = SGCS_SUBBAND_SIZE) -> np.ndarray:
    """The per-subband channel direction: the precoder that maximises the subband's received power.

    Subband j holds subcarriers ``[j * subband_size, (j + 1) * subband_size)`` (the last one may be
    shorter), so there are ``ceil(num_subcarriers / subband_size)`` subbands. With H_j the matrix whose
    rows are the subband's h_k^T, the direction v_j is the dominant right-singular vector of H_j, i.e. the
    principal eigenvector of the subband covariance R_j = sum_k conj(h_k) h_k^T: it maximises
    sum_k |h_k^T v|^2 over unit vectors v (for one subcarrier, v = conj(h_k) / ||h_k||). Its common phase
    is arbitrary; an all-zero subband gives v_j = 0.

    Args:
        h: [..., num_bs_ant, num_subcarriers], complex.
        subband_size: subcarriers per subband (>= 1).

    Returns:
        [..., num_subbands, num_bs_ant], complex128, unit norm (or zero).
    """
    h = np.asarray(h)
    num_ant, num_sc = h.shape[-2], h.shape[-1]
    num_sb = -(-num_sc // subband_size)
    pad = num_sb * subband_size - num_sc  # zero subcarriers add nothing to a subband's covariance
    rows = np.swapaxes(h.astype(np.complex128), -1, -2)  # [..., S, A]: row k is h_k^T
    if pad:
        rows = np.concatenate([rows, np.zeros((*rows.shape[:-2], pad, num_ant))], axis=-2)
    h_sb = rows.reshape(*rows.shape[:-2], num_sb, subband_size, num_ant)  # [..., N3, K, A]
    if subband_size <= num_ant:  # small K x K Gram matrix: v = H^H u / ||H^H u|| with u its top eigenvector
        gram = h_sb @ np.conj(np.swapaxes(h_sb, -1, -2))
        u = np.linalg.eigh(gram)[1][..., -1]  # [..., N3, K]
        v = np.einsum("...ka,...k->...a", np.conj(h_sb), u)
    else:
        cov = np.conj(np.swapaxes(h_sb, -1, -2)) @ h_sb  # [..., N3, A, A] = sum_k conj(h_k) h_k^T
        v = np.linalg.eigh(cov)[1][..., -1]
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(norm > _EPS, v / np.maximum(norm, _EPS), 0.0)
