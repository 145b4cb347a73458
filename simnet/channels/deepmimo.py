"""DeepMIMO v4 scenarios (static and dynamic) as a channel source, read with the ``deepmimo`` package.

Only the ray parameters are taken from DeepMIMO; H is computed here with numpy:

    H[n, m, k] = s * sum_p sqrt(P_p) exp(j phi_p) exp(+j 2 pi / lambda u_p . (r_m - r_0)) exp(-j 2 pi f_k tau_p')

P_p [W] = 10^(power/10) (power in dBW), phi_p the stored phase at the BS position, u_p the departure unit vector
(az from +x, zenith angle ``aod_el``), r_m the element positions with element 0 at the BS position (DeepMIMO's
convention), f_k = k * bandwidth / K. Delays are made relative: tau_p' = tau_p - |UE - array centre| / c, so no
path is dropped (DeepMIMO's own generator silently zeroes paths with tau_p >= K / bandwidth) and H matches the
geometric source's delay reference. The array is a half-wavelength UPA with simnet's index order
m = col * rows + row (row = vertical, fastest; DeepMIMO's own is m = iz * cols + iy, horizontal fastest),
boresight +x turned by ``bs_heading_deg`` (counter-clockwise) and ``bs_downtilt_deg``; elements are isotropic.
No 1/sqrt(K) (DeepMIMO's generator has one): s comes from ``normalization`` as in the geometric source.
Doppler is not applied (DeepMIMO's ``doppler`` has a sign error on x): H is the ray-traced snapshot of the
scene, piecewise constant in time, the scene index being floor(t / scene_period_s).
Users: on a regular grid, UE k walks grid row ``rows[k % len(rows)]`` (a row = one y, points sorted by x);
otherwise UE k walks the receiver list in file order. ``channels`` takes the nearest receiver point of the
scene (no interpolation: complex channels between points a wavelength or more apart do not interpolate).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.spatial import cKDTree

from simnet.channels.base import NORMALIZATIONS, ChannelMeta, apply_normalization, register_source
from simnet.channels.lsp import SPEED_OF_LIGHT_MPS
from simnet.channels.response import rotation_matrix
from simnet.errors import ConfigError, DataError

_KEYS = ["power", "phase", "delay", "aod_az", "aod_el", "rx_pos", "tx_pos"]
_CHUNK = 512  # samples per batch in channels(): bounds the [chunk, P, A] and [chunk, P, K] intermediates


def upa_offsets_m(
    bs_array: tuple[int, int], wavelength_m: float, heading_deg: float, downtilt_deg: float
) -> np.ndarray:
    """Element positions relative to element 0: [rows * cols, 3], float64 [m], index m = col * rows + row."""
    rows, cols = bs_array
    row, col = np.meshgrid(np.arange(rows), np.arange(cols), indexing="xy")  # col-major flatten below
    local = np.stack([np.zeros(rows * cols), col.ravel(), row.ravel()], axis=1) * (wavelength_m / 2)
    rot = rotation_matrix(0.0, -np.deg2rad(downtilt_deg), np.deg2rad(heading_deg))
    return local @ rot.T


def params_path(root: Path) -> Path:
    """Where a scenario's ``params.json`` is: at the top (static scenarios, simnet's export) or, as deepmimo lays
    out dynamic scenarios, inside each scene folder, where deepmimo's own loader reads the first one's."""
    top = root / "params.json"
    if top.exists():
        return top
    scene_dirs = sorted(d for d in root.iterdir() if d.is_dir() and (d / "params.json").is_file())
    return scene_dirs[0] / "params.json" if scene_dirs else top


def _read_params(root: Path) -> dict[str, Any]:
    path = params_path(root)
    try:
        params = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise DataError(f"DeepMIMO scenario {root} has no readable params.json, neither at the top nor in a scene "
                        f"folder ({path}: {reason}); re-download it") from None
    if not isinstance(params, dict):
        raise DataError(f"DeepMIMO scenario {root}: {path} is not a params object; re-download it")
    return params


def _load(folder: Path, scenario: str, bs_index: int, max_paths: int) -> tuple[list[dict[str, np.ndarray]], dict]:
    """Ray arrays per scene (NaN-padded [N, P]) and params.json, without prompts or chatter."""
    root = folder / scenario
    if not root.is_dir():
        raise DataError(
            f"DeepMIMO scenario {scenario!r} not found in {folder}; download it with "
            f"`python -c \"import deepmimo; deepmimo.config('scenarios_folder', '{folder}'); "
            f"deepmimo.download('{scenario}')\"` or point scenarios_folder to the folder that holds it"
        )
    if scenario != scenario.lower():
        raise DataError(f"DeepMIMO scenario folder {root} must be lowercase (deepmimo lowercases names); rename it")
    params = _read_params(root)
    try:
        import deepmimo as dm  # noqa: PLC0415  (optional dependency)
    except ImportError as err:
        raise ConfigError("channel type deepmimo needs the deepmimo package: pip install 'deepmimo>=4,<5'") from err
    try:
        txs = [(int(v["id"]), i) for _, v in sorted(params["txrx_sets"].items()) if v["is_tx"]
               for i in range(v["num_points"])]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataError(f"DeepMIMO scenario {root}: its params.json has no valid txrx_sets ({type(err).__name__}: "
                        f"{err}); re-download it") from None
    if not 0 <= bs_index < len(txs):
        raise ConfigError(f"channel.bs_index = {bs_index}: scenario {scenario!r} has {len(txs)} BS (0..{len(txs) - 1})")
    tx_set, tx_idx = txs[bs_index]
    previous = dm.config.get("scenarios_folder")
    try:
        dm.config.set("scenarios_folder", str(folder.resolve()))
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            ds = dm.load(scenario, tx_sets={tx_set: [tx_idx]}, rx_sets="rx_only", max_paths=max_paths, matrices=_KEYS)
    except (EOFError, OSError, ValueError, KeyError, IndexError) as err:
        raise DataError(f"DeepMIMO scenario {root} could not be read ({type(err).__name__}: {err})") from err
    finally:
        dm.config.set("scenarios_folder", previous)
    scenes = list(ds.datasets) if type(ds).__name__ == "DynamicDataset" else [ds]
    return [_merge_rx_sets(s) for s in scenes], params


def _merge_rx_sets(scene: Any) -> dict[str, np.ndarray]:
    """One scene's Dataset or MacroDataset (several RX sets) -> dict of arrays, RX sets concatenated."""
    parts = list(scene.datasets) if type(scene).__name__ == "MacroDataset" else [scene]
    width = max(int(np.asarray(p["power"]).shape[1]) for p in parts)
    out: dict[str, np.ndarray] = {"tx_pos": np.asarray(parts[0]["tx_pos"], dtype=np.float64).reshape(-1, 3)[0]}
    for key in _KEYS[:-1]:
        arrays = [np.asarray(p[key], dtype=np.float64) for p in parts]
        if key != "rx_pos":
            arrays = [np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=np.nan) for a in arrays]
        out[key] = np.concatenate(arrays)
    return out


@register_source("deepmimo")
class DeepMIMOSource:
    """Channels from a DeepMIMO v4 scenario folder (see the module docstring for every convention).

    Args:
        scenario: scenario name (folder name under ``scenarios_folder``, lowercase).
        scenarios_folder: folder holding the scenario folders [path].
        num_subcarriers, bandwidth_hz: OFDM grid, subcarrier k at k * bandwidth_hz / num_subcarriers baseband.
        carrier_hz: carrier [Hz]; default the scenario's ray-tracing frequency.
        bs_array: (rows, cols) of the BS UPA. bs_heading_deg, bs_downtilt_deg: array orientation [deg].
        seed: kept for the cache key and interface; the data are deterministic.
        bs_index: which transmitter (all TX sets' points in set order) is the BS.
        rows: grid rows the UEs walk (None = all rows).
        scene_period_s: duration of one scene of a dynamic scenario [s].
        max_paths: strongest paths kept per receiver (None = all stored; DeepMIMO's own default is 10).
        normalization: ``"area"`` (divide by the root mean path power over all receivers of the first scene),
            ``"none"`` or ``"per_sample"``, as in the geometric source.
    """

    def __init__(
        self,
        scenario: str,
        scenarios_folder: str = "deepmimo_scenarios",
        num_subcarriers: int = 64,
        bandwidth_hz: float = 50e6,
        carrier_hz: float | None = None,
        bs_array: tuple[int, int] = (8, 8),
        seed: int = 0,
        bs_index: int = 0,
        rows: list[int] | None = None,
        scene_period_s: float = 0.1,
        max_paths: int | None = None,
        bs_heading_deg: float = 0.0,
        bs_downtilt_deg: float = 0.0,
        normalization: Literal["area", "none", "per_sample"] = "area",  # NORMALIZATIONS
    ) -> None:
        if normalization not in NORMALIZATIONS:
            raise ConfigError(f"channel.normalization = {normalization!r}; allowed: {', '.join(NORMALIZATIONS)}")
        if num_subcarriers < 1 or bandwidth_hz <= 0 or scene_period_s <= 0 or (max_paths or 1) < 1:
            raise ConfigError(
                "channel (deepmimo): num_subcarriers, max_paths >= 1 and bandwidth_hz, scene_period_s > 0 needed; "
                f"got {num_subcarriers}, {max_paths}, {bandwidth_hz}, {scene_period_s}"
            )
        self.folder = Path(scenarios_folder).expanduser()
        self.scenario, self.seed, self.bs_index = scenario, int(seed), int(bs_index)
        self.scene_period_s, self.normalization = float(scene_period_s), normalization
        self.scenes, params = _load(self.folder, scenario, self.bs_index, max_paths or 2**31 - 1)
        extra = params.get("simnet", {})
        self.first_scene = int(extra.get("first_scene_index", 0))
        try:
            carrier = float(carrier_hz if carrier_hz is not None else params["rt_params"]["frequency"])
        except (KeyError, TypeError, ValueError):
            raise DataError(f"DeepMIMO scenario {scenario!r}: its params.json has no rt_params.frequency; give "
                            f"channel.carrier_hz or re-download it") from None
        rows_cols = (int(bs_array[0]), int(bs_array[1]))
        self.meta = ChannelMeta(
            carrier,
            float(bandwidth_hz),
            int(num_subcarriers),
            rows_cols,
            "deepmimo",
            f"DeepMIMO scenario {scenario} in {self.folder}",
        )
        self.wavelength_m = SPEED_OF_LIGHT_MPS / carrier
        self.offset_m = upa_offsets_m(rows_cols, self.wavelength_m, bs_heading_deg, bs_downtilt_deg)
        self.centre_m = self.offset_m.mean(axis=0)
        self._kwargs = {
            "max_paths": max_paths,
            "bs_heading_deg": float(bs_heading_deg),
            "bs_downtilt_deg": float(bs_downtilt_deg),
            "rows": rows,
        }
        self._trees = [cKDTree(s["rx_pos"]) for s in self.scenes]
        self.row_idx = self._grid_rows(self.scenes[0]["rx_pos"])
        if rows is not None:
            bad = [r for r in rows if not 0 <= r < len(self.row_idx)]
            if bad or not rows:
                raise ConfigError(
                    f"channel.rows = {rows}: the scenario has {len(self.row_idx)} rows (0..{len(self.row_idx) - 1})"
                )
            self.row_idx = [self.row_idx[r] for r in rows]
        first = self.scenes[0]
        self.reference_power = float(np.mean(np.nansum(10 ** (first["power"] / 10), axis=1)))

    def params(self) -> dict[str, Any]:
        """Everything that determines H (cache key, manifest); JSON-serialisable."""
        files = sorted((self.folder / self.scenario).rglob("*"))
        stamp = [
            (str(f.relative_to(self.folder)), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()
        ]
        return {
            "source": "deepmimo",
            "scenario": self.scenario,
            "folder": str(self.folder.resolve()),
            "files": stamp,
            "meta": self.meta.__dict__,
            "seed": self.seed,
            "bs_index": self.bs_index,
            "scene_period_s": self.scene_period_s,
            "normalization": self.normalization,
            **self._kwargs,
        }

    @staticmethod
    def _grid_rows(rx_pos: np.ndarray) -> list[np.ndarray]:
        ys = np.round(rx_pos[:, 1], 3)
        xs = np.unique(np.round(rx_pos[:, 0], 3))
        uy = np.unique(ys)
        if len(uy) * len(xs) != len(rx_pos) or len(xs) < 2:
            return [np.arange(len(rx_pos))]  # not a grid: one route through the receivers in file order
        return [np.flatnonzero(ys == y)[np.argsort(rx_pos[ys == y, 0], kind="stable")] for y in uy]

    def tracks(self, num_ues: int) -> list[np.ndarray]:
        """UE k walks grid row ``rows[k % len(rows)]``: ``num_ues`` arrays [num_points, 3], float64 [m]."""
        pos = self.scenes[0]["rx_pos"]
        return [pos[self.row_idx[k % len(self.row_idx)]].copy() for k in range(num_ues)]

    def channels(self, pos_m: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """H at the nearest receiver point of each sample's scene: [N, num_bs_ant, num_subcarriers], complex64."""
        pos_m = np.asarray(pos_m, dtype=np.float64)
        t_s = np.asarray(t_s, dtype=np.float64)
        if pos_m.ndim != 2 or pos_m.shape[1] != 3 or t_s.shape != (pos_m.shape[0],):
            raise ConfigError(f"channels() needs pos_m [N, 3] and t_s [N]; got {pos_m.shape} and {t_s.shape}")
        scene = np.floor(t_s / self.scene_period_s).astype(int) - self.first_scene if len(self.scenes) > 1 else 0
        scene = np.broadcast_to(scene, t_s.shape)
        if scene.size and (scene.min() < 0 or scene.max() >= len(self.scenes)):
            raise DataError(
                f"times {t_s.min():.3f}..{t_s.max():.3f} s need scenes beyond the {len(self.scenes)} of "
                f"{self.scenario} (scene_period_s = {self.scene_period_s}); shorten the run or the period"
            )
        meta = self.meta
        h = np.zeros((len(pos_m), meta.num_bs_ant, meta.num_subcarriers), dtype=np.complex64)
        freq_hz = np.arange(meta.num_subcarriers) * meta.bandwidth_hz / meta.num_subcarriers
        for s in np.unique(scene):  # loops over scenes and sample chunks only
            data, rows = self.scenes[s], np.flatnonzero(scene == s)
            _, nearest = self._trees[s].query(pos_m[rows])
            for lo in range(0, len(rows), _CHUNK):
                idx = nearest[lo : lo + _CHUNK]
                h[rows[lo : lo + _CHUNK]] = self._render(data, idx, freq_hz)
        return apply_normalization(h, self.normalization, lambda: self.reference_power)

    def _render(self, data: dict[str, np.ndarray], idx: np.ndarray, freq_hz: np.ndarray) -> np.ndarray:
        """H of receivers ``idx`` of one scene: [len(idx), A, K], complex128 (formula in the module docstring)."""
        power = data["power"][idx]
        valid = ~np.isnan(power)
        amp = np.where(valid, np.sqrt(10 ** (np.nan_to_num(power) / 10)), 0.0)
        a = amp * np.exp(1j * np.deg2rad(np.nan_to_num(data["phase"][idx])))  # [B, P]
        az, zen = np.deg2rad(np.nan_to_num(data["aod_az"][idx])), np.deg2rad(np.nan_to_num(data["aod_el"][idx]))
        u = np.stack([np.sin(zen) * np.cos(az), np.sin(zen) * np.sin(az), np.cos(zen)], axis=-1)  # [B, P, 3]
        steer = np.exp(2j * np.pi / self.wavelength_m * (u @ self.offset_m.T))  # [B, P, A]
        centre = data["tx_pos"] + self.centre_m
        tau_ref = np.linalg.norm(data["rx_pos"][idx] - centre, axis=1) / SPEED_OF_LIGHT_MPS  # [B]
        tau = np.nan_to_num(data["delay"][idx]) - tau_ref[:, None]  # [B, P]
        delay = np.exp(-2j * np.pi * tau[..., None] * freq_hz)  # [B, P, K]
        return np.einsum("bp,bpa,bpk->bak", a, steer, delay)
