"""The built-in ``geometric`` channel source: spatially consistent 38.901/QuaDRiGa-style, on quadriga-lib."""

from __future__ import annotations

import copy
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, ClassVar, Literal

import numpy as np
from threadpoolctl import threadpool_limits

from simnet.channels.base import ChannelMeta, apply_normalization, register_source
from simnet.channels.geometric_config import PRESET_OPTION_TYPES, build_config, preset_grid
from simnet.channels.lsp import pathloss_db
from simnet.channels.response import ArrayResponse, PathSet
from simnet.channels.scene import SiteGrid
from simnet.channels.vehicles import VehicleFleet
from simnet.errors import ConfigError

NUM_REFERENCE_POSITIONS_PER_AXIS = 8
LOS_XPOL = np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0])


_WORKER_LIMITS: Any = None


def _init_worker() -> None:
    global _WORKER_LIMITS
    _WORKER_LIMITS = threadpool_limits(1)  # noqa: F841  (kept alive for the worker's lifetime)


def _raw_chunk(source: GeometricSource, pos_m: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    return source.raw_channels(pos_m, t_s)


@register_source("geometric")
class GeometricSource:
    """Spatially consistent geometry-based stochastic channels (QuaDRiGa tradition), no data needed.

    Clusters are drawn per visibility region from 3GPP TR 38.901 LSP tables and placed as single-bounce
    scatterers (``scene.py``); LOS state and shadow fading are spatially correlated fields;
    ``o2_dynamic_like``
    adds cars driving through the streets. quadriga-lib turns the paths into per-element coefficients and the
    OFDM response (``response.py``).

    Output scaling (``normalization``):
        ``"area"`` (default): H includes path loss and shadowing and is divided by one fixed, preset-level
            reference amplitude, ``sqrt(reference_power)``, the mean per-entry power E|H_ij|^2 of the raw
            channel over an 8 x 8 grid of positions covering the preset area. Mean per-entry power over the
            area is therefore ~1, while near users stay stronger than far ones.
        ``"none"``: absolute H, |H_ij|^2 is the linear power gain including antenna gains (~1e-10 or less).
        ``"per_sample"``: every sample is scaled to mean per-entry power exactly 1 (no path loss left).

    Args:
        preset: one of ``preset_names()`` (``o1_like``, ``quadriga_track``, ``o2_dynamic_like``).
        seed: scene seed; same seed and parameters -> identical H, whatever the batch split.
        num_subcarriers, bs_array, carrier_hz, bandwidth_hz: override the preset's values.
        normalization: see above.
        engine: ``"fast"`` (single-element quadriga-lib + numpy array factor) or ``"full"`` (quadriga-lib
            per element); they agree within 1%.
        num_workers: processes used by ``channels`` for large batches (1 = in this process).
        **preset_overrides: any other preset key (e.g. ``site_spacing_m``, ``bs_pos_m``, ``vehicles``).
    """

    config_options: ClassVar[dict[str, Any]] = PRESET_OPTION_TYPES
    """Preset keys a ``channel:`` block may override (``**preset_overrides``; ranges checked by ``build_config``)."""

    @staticmethod
    def preset_grid(options: Any) -> dict[str, Any]:
        """The grid (carrier, bandwidth, subcarriers, array) of the preset the options name."""
        return preset_grid(str(options.preset))

    def __init__(
        self,
        preset: str = "o1_like",
        seed: int = 0,
        num_subcarriers: int | None = None,
        bs_array: tuple[int, int] | None = None,
        carrier_hz: float | None = None,
        bandwidth_hz: float | None = None,
        normalization: Literal["area", "none", "per_sample"] = "area",  # NORMALIZATIONS
        engine: Literal["fast", "full"] = "fast",  # ENGINES
        num_workers: int = 1,
        **preset_overrides: Any,
    ) -> None:
        cfg = build_config(
            preset,
            preset_overrides,
            num_subcarriers=num_subcarriers,
            bs_array=bs_array,
            carrier_hz=carrier_hz,
            bandwidth_hz=bandwidth_hz,
            normalization=normalization,
            engine=engine,
            num_workers=num_workers,
        )
        rows, cols = (int(v) for v in cfg["bs_array"])
        self.preset, self.seed, self.cfg = preset, int(seed), cfg
        self.normalization, self.engine, self.num_workers = normalization, engine, int(num_workers)
        self.meta = ChannelMeta(
            carrier_hz=float(cfg["carrier_hz"]),
            bandwidth_hz=float(cfg["bandwidth_hz"]),
            num_subcarriers=int(cfg["num_subcarriers"]),
            bs_array=(rows, cols),
            source="geometric",
            description=f"geometric preset {preset}: {cfg['description']}",
        )
        self.bs_pos_m = np.asarray(cfg["bs_pos_m"], dtype=np.float64)
        self.ue_height_m = float(cfg["ue_height_m"])
        area = np.asarray(cfg["area_m"], dtype=np.float64)
        self.area_m = area
        self.grid = SiteGrid(
            cfg["scenario"],
            self.meta.carrier_hz,
            self.bs_pos_m,
            self.ue_height_m,
            area[0],
            float(cfg["site_spacing_m"]),
            float(cfg["transition_m"]),
            int(cfg["num_rays_per_cluster"]),
            self.seed,
        )
        orientation = np.array(
            [
                0.0,
                -np.deg2rad(float(cfg.get("bs_tilt_deg", 0.0))),
                np.deg2rad(float(cfg.get("bs_heading_deg", 0.0))),
            ]
        )
        self.array = ArrayResponse(
            self.meta.carrier_hz,
            self.meta.bandwidth_hz,
            self.meta.num_subcarriers,
            (rows, cols),
            self.bs_pos_m,
            orientation,
        )
        self.vehicles = VehicleFleet(cfg["vehicles"], self.seed) if cfg.get("vehicles") else None
        self.scene_period_s = float(cfg.get("scene_period_s", 0.0) or 0.0)
        self._reference_power: float | None = None

    # ------------------------------------------------------------------ identity, routes
    def params(self) -> dict[str, Any]:
        """Everything that determines H (for cache keys and the results manifest); JSON-serialisable."""
        return {
            "source": "geometric",
            "preset": self.preset,
            "seed": self.seed,
            "cfg": self.cfg,
            "normalization": self.normalization,
            "engine": self.engine,
            "model_version": 1,
        }

    def tracks(self, num_ues: int) -> list[np.ndarray]:
        """Default routes: UE k walks preset polyline k mod P, shifted k // P times by the repeat offset.

        Returns:
            ``num_ues`` arrays [num_waypoints, 3], float64, waypoints [m].
        """
        lines = [np.asarray(t, dtype=np.float64) for t in self.cfg["tracks"]]
        shift = np.asarray(self.cfg.get("track_repeat_offset_m", [0.0, 0.0, 0.0]), dtype=np.float64)
        return [lines[k % len(lines)] + (k // len(lines)) * shift for k in range(num_ues)]

    # ------------------------------------------------------------------ paths
    def scene_time_s(self, t_s: float) -> float:
        """Time of the scene a sample falls in (vehicles move in steps of ``scene_period_s``)."""
        return (
            float(np.floor(t_s / self.scene_period_s) * self.scene_period_s)
            if self.scene_period_s > 0
            else t_s
        )

    def _large_scale(self, pos_m: np.ndarray) -> dict[bool, np.ndarray]:
        """Path gain incl. shadow fading of the LOS and NLOS states at positions: {los: [N] linear}."""
        d3d = np.linalg.norm(pos_m - self.bs_pos_m, axis=1)
        d2d = np.linalg.norm(pos_m[:, :2] - self.bs_pos_m[:2], axis=1)
        out = {}
        for los, table in self.grid.tables.items():
            pl = pathloss_db(
                table.pathloss, d3d, d2d, self.bs_pos_m[2], self.ue_height_m, self.meta.carrier_hz
            )
            out[los] = 10 ** (-(pl + self.grid.shadow_fading_db(los, pos_m)) / 10)
        return out

    def paths(self, pos_m: np.ndarray, t_s: np.ndarray) -> list[PathSet]:
        """Propagation paths at trajectory samples (one PathSet per sample), input of the response engines.

        Args:
            pos_m: [N, 3], float64, UE positions [m]; t_s: [N], float64, times [s].
        """
        pos_m = np.asarray(pos_m, dtype=np.float64).reshape(-1, 3)
        t_s = np.broadcast_to(np.asarray(t_s, dtype=np.float64), (pos_m.shape[0],))
        idx, w = self.grid.site_weights(pos_m)
        gain_state = self._large_scale(pos_m)
        wavelength = self.array.wavelength_m
        out = []
        for n in range(pos_m.shape[0]):
            ue = pos_m[n]
            scat, gain, xpol = [], [], []
            los_gain = 0.0
            for (i, j), w_s in zip(idx[n], w[n]):
                if w_s <= 0.0:
                    continue
                site = self.grid.site(i, j)
                pg = gain_state[site.los][n] * w_s
                scat.append(site.scat_m)
                gain.append(pg * site.power_frac)
                xpol.append(site.xpol.T)
                los_gain += pg * site.k_factor / (1.0 + site.k_factor)
            if self.vehicles is not None and self.vehicles.num_vehicles:
                pts, phase = self.vehicles.points(self.scene_time_s(float(t_s[n])))
                g = self.vehicles.gains(pts, self.bs_pos_m, ue, wavelength)
                keep = g > 0
                vx = np.zeros((int(keep.sum()), 8))
                vx[:, 0], vx[:, 1] = np.cos(phase[keep]), np.sin(phase[keep])
                vx[:, 6], vx[:, 7] = np.cos(phase[keep]), np.sin(phase[keep])
                scat.append(pts[keep])
                gain.append(g[keep])
                xpol.append(vx)
            n_los = 1 if los_gain > 0 else 0
            if n_los:
                scat.insert(0, 0.5 * (self.bs_pos_m + ue)[None])
                gain.insert(0, np.array([los_gain]))
                xpol.insert(0, LOS_XPOL[None])
            s = np.concatenate(scat) if scat else np.zeros((0, 3))
            length = np.linalg.norm(s - self.bs_pos_m, axis=1) + np.linalg.norm(s - ue, axis=1)
            is_los = np.zeros(s.shape[0], dtype=bool)
            is_los[:n_los] = True
            out.append(
                PathSet(
                    scat_m=s,
                    gain=np.concatenate(gain) if gain else np.zeros(0),
                    length_m=length,
                    xpol=np.concatenate(xpol) if xpol else np.zeros((0, 8)),
                    is_los=is_los,
                )
            )
        return out

    def los_share(self, pos_m: np.ndarray) -> np.ndarray:
        """Visibility-weighted share of LOS sites at positions [N, 3] -> [N] in [0, 1] (1 = fully LOS)."""
        idx, w = self.grid.site_weights(np.asarray(pos_m, dtype=np.float64).reshape(-1, 3))
        return (self.grid.sites_los(idx) * w).sum(axis=1)

    # ------------------------------------------------------------------ channels
    def raw_channels(self, pos_m: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """Un-normalised H (path loss, shadowing and antenna gains included): [N, A, K] complex64."""
        pos_m = np.asarray(pos_m, dtype=np.float64).reshape(-1, 3)
        t_s = np.broadcast_to(np.asarray(t_s, dtype=np.float64), (pos_m.shape[0],))
        h = np.empty((pos_m.shape[0], self.meta.num_bs_ant, self.meta.num_subcarriers), dtype=np.complex64)
        compute = self.array.fast if self.engine == "fast" else self.array.full
        # One BLAS/OpenMP thread: the per-position problems are small and threads only fight each other.
        with threadpool_limits(1):
            for n, paths in enumerate(self.paths(pos_m, t_s)):
                h[n] = compute(paths, pos_m[n])
        return h

    @property
    def reference_power(self) -> float:
        """Mean per-entry power E|H_ij|^2 of the raw channel over an 8 x 8 grid covering the preset area."""
        if self._reference_power is None:
            (x0, y0), (x1, y1) = self.area_m
            m = NUM_REFERENCE_POSITIONS_PER_AXIS
            gx, gy = np.meshgrid(np.linspace(x0, x1, m), np.linspace(y0, y1, m), indexing="ij")
            pos = np.stack([gx.ravel(), gy.ravel(), np.full(m * m, self.ue_height_m)], axis=1)
            ref = copy.copy(self)
            ref.engine = "fast"  # both engines agree within 1%; fixing one keeps the scale engine-independent
            self._reference_power = float(np.mean(np.abs(ref.raw_channels(pos, np.zeros(m * m))) ** 2))
        return self._reference_power

    def channels(self, pos_m: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """Downlink frequency responses at trajectory samples (see the class docstring for the scaling).

        Args:
            pos_m: [N, 3], float64, UE positions [m].
            t_s: [N], float64, sample times [s] (vehicles move between scenes of ``scene_period_s``).

        Returns:
            h: [N, num_bs_ant, num_subcarriers], complex64; antenna index m = col * rows + row.
        """
        pos_m = np.asarray(pos_m, dtype=np.float64)
        t_s = np.asarray(t_s, dtype=np.float64)
        if pos_m.ndim != 2 or pos_m.shape[1] != 3 or t_s.shape != (pos_m.shape[0],):
            raise ConfigError(f"channels() needs pos_m [N, 3] and t_s [N]; got {pos_m.shape} and {t_s.shape}")
        num = pos_m.shape[0]
        if self.num_workers > 1 and num >= 4 * self.num_workers:
            bounds = np.linspace(0, num, self.num_workers + 1).astype(int)
            with ProcessPoolExecutor(
                self.num_workers, mp_context=get_context("spawn"), initializer=_init_worker
            ) as pool:
                parts = pool.map(
                    _raw_chunk,
                    [self] * self.num_workers,
                    [pos_m[a:b] for a, b in zip(bounds[:-1], bounds[1:])],
                    [t_s[a:b] for a, b in zip(bounds[:-1], bounds[1:])],
                )
                h = np.concatenate(list(parts))
        else:
            h = self.raw_channels(pos_m, t_s)
        return apply_normalization(h, self.normalization, lambda: self.reference_power)
