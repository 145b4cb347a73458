"""SGCS and the per-subband channel direction against hand-computed cases."""

from __future__ import annotations

import numpy as np

from simnet.sim.beamforming import sgcs
from simnet.subbands import subband_directions


def _rand(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def test_direction_of_one_subcarrier_is_the_conjugate_channel():
    h = _rand((3, 6, 5))
    v = subband_directions(h, subband_size=1)  # [3, 5, 6]
    expected = np.conj(np.swapaxes(h, 1, 2)) / np.linalg.norm(h, axis=1)[..., None]
    overlap = np.abs(np.sum(np.conj(v) * expected, axis=-1))
    np.testing.assert_allclose(overlap, 1.0, rtol=1e-6)


def test_direction_is_the_principal_eigenvector_of_the_subband_covariance():
    h = _rand((2, 8, 12), 1)
    for size in (3, 5, 12, 16):  # 16 > 8 antennas takes the covariance branch; 5 leaves a shorter last subband
        v = subband_directions(h, size)
        for b in range(2):
            for j, start in enumerate(range(0, 12, size)):
                sub = h[b, :, start : start + size]
                cov = np.conj(sub) @ sub.T  # sum_k conj(h_k) h_k^T
                top = np.linalg.eigh(cov)[1][:, -1]
                assert abs(np.vdot(top, v[b, j])) > 1 - 1e-6


def test_sgcs_is_one_for_any_per_subband_scale_and_phase_and_low_for_random():
    h = _rand((4, 8, 16), 2)
    scale = np.repeat(_rand((4, 1, 4), 3), 4, axis=2)  # one complex factor per 4-subcarrier subband
    np.testing.assert_allclose(sgcs(h, h * scale, 4), 1.0, rtol=1e-6)
    assert np.all(sgcs(h, _rand((4, 8, 16), 4), 4) < 0.5)


def test_sgcs_of_a_known_angle():
    # one subcarrier, h = (1, 0), h_hat = (cos a, sin a): SGCS = cos^2 a
    a = 0.3
    h = np.array([[1.0], [0.0]], dtype=np.complex64)
    h_hat = np.array([[np.cos(a)], [np.sin(a)]], dtype=np.complex64)
    assert np.isclose(sgcs(h, h_hat, 1), np.cos(a) ** 2)
    assert sgcs(h, np.zeros_like(h), 1) == 0.0
