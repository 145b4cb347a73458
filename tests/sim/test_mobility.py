"""Trajectories: positions, times and sampling along a polyline."""

from __future__ import annotations

import numpy as np
import pytest

from simnet.sim.mobility import Trajectory


def test_polyline_positions_and_times():
    tr = Trajectory(np.array([[0.0, 0, 1.5], [10, 0, 1.5], [10, 5, 1.5]]), speed_mps=2.0, t0_s=1.0)
    assert tr.length_m == 15.0
    np.testing.assert_allclose(tr.position(np.array([0.0, 5, 10, 12.5, 99])),
                               [[0, 0, 1.5], [5, 0, 1.5], [10, 0, 1.5], [10, 2.5, 1.5], [10, 5, 1.5]])
    smp = tr.sample(2.5)
    assert len(smp) == 7
    np.testing.assert_allclose(smp.t_s, 1.0 + np.arange(7) * 1.25)
    assert smp.index_at(1.0 + 3 * 1.25 + 0.1).item() == 3
    assert smp.index_at(1000.0).item() == 6


def test_length_truncates_and_bad_input_raises():
    tr = Trajectory(np.array([[0.0, 0, 0], [100, 0, 0]]), speed_mps=1.0, length_m=10.0)
    assert len(tr.sample(1.0)) == 11
    with pytest.raises(ValueError):
        Trajectory(np.zeros((1, 3)), 1.0)
    with pytest.raises(ValueError):
        Trajectory(np.zeros((2, 3)), 0.0)
