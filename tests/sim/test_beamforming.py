"""Beamforming scores against hand-computed values."""

from __future__ import annotations

import numpy as np

from simnet.sim.beamforming import cosine_similarity, mrt_se, nmse, to_db, zf_se


def _rand(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def test_perfect_csi():
    h = _rand((3, 4, 5))
    assert np.all(nmse(h, h) == 0)
    np.testing.assert_allclose(cosine_similarity(h, 2.5j * h), 1.0, rtol=1e-6)
    expected = np.mean(np.log2(1 + 10 * np.sum(np.abs(h) ** 2, axis=1)), axis=-1)
    np.testing.assert_allclose(mrt_se(h, h, 10.0), expected, rtol=1e-6)


def test_nmse_and_cosine_values():
    h = np.ones((2, 3), dtype=np.complex64)
    h_hat = h.copy()
    h_hat[0, :] = 0
    assert np.isclose(nmse(h, h_hat), 0.5)
    assert np.isclose(to_db(0.5), -3.0103, atol=1e-4)
    # per subcarrier: |<h_hat, h>| / (|h_hat||h|) = 1 / (1 * sqrt(2))
    assert np.isclose(cosine_similarity(h, h_hat), 1 / np.sqrt(2))
    # a random h_hat gives a clearly smaller gain and SE than the true channel
    h = _rand((8, 16), 1)
    g = _rand((8, 16), 2)
    assert cosine_similarity(h, g) < 0.6
    assert mrt_se(h, g, 10.0) < mrt_se(h, h, 10.0)


def test_zf_removes_interference_with_perfect_csi_and_not_with_stale():
    h = _rand((3, 8, 4), 3)
    se = zf_se(h, h, 20.0)
    # perfect CSI: SINR = snr/U * |h^T w|^2 with no interference
    hk = np.transpose(h, (2, 0, 1))
    w = np.conj(np.transpose(hk, (0, 2, 1))) @ np.linalg.inv(hk @ np.conj(np.transpose(hk, (0, 2, 1))))
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    sig = np.abs(np.einsum("sua,sau->su", hk, w)) ** 2
    np.testing.assert_allclose(se, np.mean(np.log2(1 + 100 / 3 * sig), axis=0), rtol=1e-5)
    stale = h + 0.5 * _rand((3, 8, 4), 4)
    assert np.all(zf_se(h, stale, 20.0) < se)
