"""Trajectories: position, time and travelled distance of a UE walking a polyline at constant speed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrackSamples:
    """A trajectory sampled on a regular distance grid.

    Attributes:
        s_m: [num_samples], float64, travelled distance [m] (0, spacing, 2*spacing, ...).
        pos_m: [num_samples, 3], float64, positions [m].
        t_s: [num_samples], float64, times the UE is at each position [s].
        spacing_m: distance between consecutive samples [m].
    """

    s_m: np.ndarray
    pos_m: np.ndarray
    t_s: np.ndarray
    spacing_m: float

    def __len__(self) -> int:
        return int(self.s_m.shape[0])

    def index_at(self, t_s: float | np.ndarray) -> np.ndarray:
        """Index of the sample nearest in time to ``t_s``, clipped to the track (the channel at time of use)."""
        idx = np.rint((np.asarray(t_s, dtype=np.float64) - self.t_s[0]) / (self.t_s[1] - self.t_s[0]))
        return np.clip(idx, 0, len(self) - 1).astype(np.int64)


class Trajectory:
    """A UE moving along a polyline of waypoints at constant speed, starting at ``t0_s``.

    Args:
        waypoints_m: [num_waypoints, 3], float64, polyline vertices [m].
        speed_mps: speed [m/s], > 0.
        t0_s: time at which the UE is at the first waypoint [s].
        length_m: if given, stop after this distance (must not exceed the polyline's length).
    """

    def __init__(
        self, waypoints_m: np.ndarray, speed_mps: float, t0_s: float = 0.0, length_m: float | None = None
    ) -> None:
        wp = np.asarray(waypoints_m, dtype=np.float64)
        if wp.ndim != 2 or wp.shape[1] != 3 or wp.shape[0] < 2:
            raise ValueError(f"waypoints must have shape [num_waypoints>=2, 3], got {wp.shape}")
        if speed_mps <= 0:
            raise ValueError(f"speed_mps must be > 0, got {speed_mps}")
        seg = np.linalg.norm(np.diff(wp, axis=0), axis=1)
        self._cum_m = np.concatenate([[0.0], np.cumsum(seg)])
        self.waypoints_m = wp
        self.speed_mps = float(speed_mps)
        self.t0_s = float(t0_s)
        total = float(self._cum_m[-1])
        self.length_m = total if length_m is None else min(float(length_m), total)

    def position(self, s_m: np.ndarray) -> np.ndarray:
        """Positions [N, 3] at travelled distances ``s_m`` [N] (clipped to the track)."""
        s = np.clip(np.asarray(s_m, dtype=np.float64), 0.0, self.length_m)
        return np.stack([np.interp(s, self._cum_m, self.waypoints_m[:, k]) for k in range(3)], axis=-1)

    def time_at(self, s_m: np.ndarray) -> np.ndarray:
        """Time [s] at which the UE has travelled ``s_m``."""
        return self.t0_s + np.asarray(s_m, dtype=np.float64) / self.speed_mps

    def sample(self, spacing_m: float) -> TrackSamples:
        """Sample the track every ``spacing_m`` metres, the last sample at or before the end."""
        if spacing_m <= 0:
            raise ValueError(f"spacing_m must be > 0, got {spacing_m}")
        num = int(np.floor(self.length_m / spacing_m + 1e-9)) + 1
        s = np.arange(num, dtype=np.float64) * spacing_m
        return TrackSamples(s_m=s, pos_m=self.position(s), t_s=self.time_at(s), spacing_m=float(spacing_m))
