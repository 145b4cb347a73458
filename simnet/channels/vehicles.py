"""Moving scatterers: cars driving along lanes, seen by UEs through the bistatic radar equation."""

from __future__ import annotations

import numpy as np

from simnet.channels.fields import field_rng
from simnet.errors import ConfigError

VEHICLE_KEYS = {"rcs_m2", "num_points", "visibility_radius_m", "taper_m", "height_m", "lanes"}
LANE_KEYS = {"start_m", "end_m", "num_vehicles", "speed_mps"}


class VehicleFleet:
    """Cars on straight lanes; each wraps to the lane start when it reaches the end.

    Args:
        cfg: the preset's ``vehicles`` block (see ``presets/o2_dynamic_like.yaml``).
        seed: scene seed (initial positions, speeds and scattering phases).
    """

    def __init__(self, cfg: dict, seed: int) -> None:
        unknown = set(cfg) - VEHICLE_KEYS
        if unknown:
            raise ConfigError(f"unknown vehicles keys {sorted(unknown)}; allowed: {sorted(VEHICLE_KEYS)}")
        self.rcs_m2 = float(cfg.get("rcs_m2", 10.0))
        self.num_points = int(cfg.get("num_points", 4))
        self.radius_m = float(cfg.get("visibility_radius_m", 50.0))
        self.taper_m = float(cfg.get("taper_m", 10.0))
        height_m = float(cfg.get("height_m", 1.0))
        rng = field_rng(seed, "vehicles")
        starts, dirs, lengths, offsets, speeds = [], [], [], [], []
        for lane in cfg.get("lanes", []):
            if set(lane) - LANE_KEYS:
                raise ConfigError(
                    f"unknown lane keys {sorted(set(lane) - LANE_KEYS)}; allowed: {sorted(LANE_KEYS)}"
                )
            a, b = np.asarray(lane["start_m"], float), np.asarray(lane["end_m"], float)
            n = int(lane["num_vehicles"])
            length = float(np.linalg.norm(b - a))
            starts.append(np.repeat(a[None], n, 0))
            dirs.append(np.repeat(((b - a) / length)[None], n, 0))
            lengths.append(np.full(n, length))
            offsets.append(rng.uniform(0.0, length, n))
            speeds.append(rng.uniform(float(lane["speed_mps"][0]), float(lane["speed_mps"][1]), n))
        self.start = np.concatenate(starts) if starts else np.zeros((0, 2))
        self.dir = np.concatenate(dirs) if dirs else np.zeros((0, 2))
        self.lane_len = np.concatenate(lengths) if lengths else np.zeros(0)
        self.offset = np.concatenate(offsets) if offsets else np.zeros(0)
        self.speed = np.concatenate(speeds) if speeds else np.zeros(0)
        num = self.start.shape[0]
        # Scattering points on a 4.5 m x 1.8 m body, in (along, across) lane coordinates.
        body = np.array([[-1.8, -0.7], [-1.8, 0.7], [1.8, -0.7], [1.8, 0.7], [0.0, 0.0]])
        self.body = body[np.arange(self.num_points) % len(body)]
        self.height_m = height_m
        self.phase = rng.uniform(-np.pi, np.pi, (num, self.num_points))

    @property
    def num_vehicles(self) -> int:
        return int(self.start.shape[0])

    def points(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Scattering points at one (scene) time.

        Returns:
            pos_m: [V * num_points, 3] positions [m]; phase: [V * num_points] scattering phases [rad].
        """
        s = np.mod(self.offset + self.speed * t_s, self.lane_len)  # [V]
        centre = self.start + s[:, None] * self.dir  # [V, 2]
        normal = np.stack([-self.dir[:, 1], self.dir[:, 0]], axis=1)
        xy = (
            centre[:, None, :]
            + self.body[None, :, 0:1] * self.dir[:, None, :]
            + self.body[None, :, 1:2] * normal[:, None, :]
        )  # [V, Np, 2]
        pos = np.concatenate([xy, np.full(xy.shape[:2] + (1,), self.height_m)], axis=2)
        return pos.reshape(-1, 3), self.phase.reshape(-1)

    def gains(self, pts_m: np.ndarray, bs_m: np.ndarray, ue_m: np.ndarray, wavelength_m: float) -> np.ndarray:
        """Bistatic radar-equation gains lambda^2 sigma / ((4 pi)^3 d1^2 d2^2), tapered with UE distance.

        Args:
            pts_m: [Q, 3] scattering points [m]; bs_m, ue_m: [3] [m]; wavelength_m: [m].

        Returns:
            [Q] linear power gains.
        """
        d1 = np.maximum(np.linalg.norm(pts_m - bs_m, axis=1), 1.0)
        d2 = np.maximum(np.linalg.norm(pts_m - ue_m, axis=1), 1.0)
        ground = np.linalg.norm(pts_m[:, :2] - ue_m[:2], axis=1)
        taper = np.clip((self.radius_m - ground) / self.taper_m, 0.0, 1.0)
        sigma = self.rcs_m2 / self.num_points
        return taper * wavelength_m**2 * sigma / ((4 * np.pi) ** 3 * d1**2 * d2**2)
