"""Angular-delay transform and channel statistics."""

from __future__ import annotations

import numpy as np
import pytest

from simnet.channels import (
    azimuth_spread_deg,
    from_angular_delay,
    k_factor_db,
    make_source,
    rms_delay_spread_from_h,
    rms_delay_spread_s,
    to_angular_delay,
)


@pytest.mark.parametrize("bs_array", [None, (4, 2)])
def test_round_trip_and_energy(bs_array) -> None:
    rng = np.random.default_rng(0)
    h = (rng.normal(size=(3, 8, 16)) + 1j * rng.normal(size=(3, 8, 16))).astype(np.complex64)
    x = to_angular_delay(h, bs_array=bs_array)
    np.testing.assert_allclose(np.linalg.norm(x), np.linalg.norm(h), rtol=1e-5)
    np.testing.assert_allclose(from_angular_delay(x, 16, bs_array=bs_array), h, atol=1e-5)


def test_truncation_keeps_the_energy_of_a_real_channel() -> None:
    src = make_source("geometric", preset="o1_like", seed=0, num_subcarriers=64, bs_array=(4, 4))
    h = src.channels(np.array([[60.0, 10.0, 1.5], [120.0, -20.0, 1.5]]), np.zeros(2))
    x = to_angular_delay(h, num_taps=16, bs_array=(4, 4))
    h_back = from_angular_delay(x, 64, bs_array=(4, 4))
    nmse = np.sum(np.abs(h_back - h) ** 2) / np.sum(np.abs(h) ** 2)
    assert x.shape == (2, 16, 16) and nmse < 0.05


def test_statistics_on_known_profiles() -> None:
    assert rms_delay_spread_s(np.array([1.0, 1.0]), np.array([0.0, 2e-7])) == pytest.approx(1e-7)
    assert azimuth_spread_deg(np.array([1.0, 1.0]), np.array([179.0, -179.0])) == pytest.approx(1.0, rel=1e-3)
    assert k_factor_db(np.array([10.0, 1.0]), np.array([True, False])) == pytest.approx(10.0)
    h = np.zeros((1, 2, 64), dtype=np.complex64)
    f = np.arange(64) / 64 * 50e6
    h[0, :] = 1 + np.exp(-2j * np.pi * f * 200e-9)  # two equal taps 200 ns apart -> 100 ns spread
    assert rms_delay_spread_from_h(h, 50e6)[0] == pytest.approx(100e-9, rel=0.02)
