"""Write geometric-source rays to a DeepMIMO v4 scenario folder, and render the far-field H that folder holds.

Conventions of the written files (DeepMIMO v4, read back by ``simnet.channels.deepmimo``):
    - one TX set (id 0, one BS) and one RX set (id 1), files ``<key>_t000_tx000_r001.npz`` per scene folder;
    - ``tx_pos`` is the position of BS element 0 (DeepMIMO puts element 0 at the BS position, not the centre);
    - ``phase`` [deg] is the path phase at element 0, carrier term included; ``power`` [dBW] = 10 log10 |a|^2,
      antenna pattern and polarisation of the geometric source folded in (the BS element pattern is that of
      quadriga-lib's 3GPP element, the UE omni);
    - ``delay`` [s] is the absolute propagation time to element 0 (plane-wave); readers subtract a reference;
    - ``aod_az``/``aod_el`` [deg]: departure azimuth from +x and *zenith* angle (90 = horizon), as DeepMIMO's
      array response reads them; ``aoa_*`` likewise at the UE; ``inter`` 0 = LOS, 3 = single scattering.
A ray set is plane-wave and narrowband (one steering vector per path at the carrier): the near-field curvature
and beam squint that the geometric source's own H includes are not representable in the format.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import quadriga_lib

from simnet.channels.geometric import GeometricSource
from simnet.channels.lsp import SPEED_OF_LIGHT_MPS
from simnet.errors import ConfigError

_FILE_ID = "t000_tx000_r001"


def _rays(source: GeometricSource, pos_m: np.ndarray, t_s: np.ndarray) -> dict[str, np.ndarray]:
    """Per-path far-field parameters, NaN-padded to the largest path count: every array is [N, P] or [N, P, 3].

    Keys: ``coeff_c`` complex gain at the array centre (carrier phase included), ``u`` unit departure vector,
    ``v`` unit arrival vector (UE towards the last bounce), ``len_c_m`` path length from the array centre,
    ``scat_m`` bounce point, ``los`` bool.
    """
    arr = source.array
    sets = source.paths(pos_m, t_s)
    num_paths = max([len(p.gain) for p in sets] + [1])
    n = len(sets)
    out = {
        "coeff_c": np.full((n, num_paths), np.nan, dtype=np.complex128),
        "u": np.full((n, num_paths, 3), np.nan),
        "v": np.full((n, num_paths, 3), np.nan),
        "len_c_m": np.full((n, num_paths), np.nan),
        "scat_m": np.full((n, num_paths, 3), np.nan),
        "los": np.zeros((n, num_paths), dtype=bool),
    }
    for i, paths in enumerate(sets):  # quadriga-lib takes one position at a time
        p = len(paths.gain)
        if p == 0:
            continue
        ue = pos_m[i]
        cre, cim, _ = quadriga_lib.arrayant.get_channels_spherical(
            arr.ant_single,
            arr.ant_ue,
            *arr._qd_args(paths, ue),  # noqa: SLF001  (same package)
        )
        first_hop = np.where(paths.is_los[:, None], ue, paths.scat_m) - arr.bs_pos_m
        last_hop = np.where(paths.is_los[:, None], arr.bs_pos_m, paths.scat_m) - ue
        out["coeff_c"][i, :p] = (cre + 1j * cim)[0, 0]
        out["u"][i, :p] = first_hop / np.linalg.norm(first_hop, axis=1, keepdims=True)
        out["v"][i, :p] = last_hop / np.linalg.norm(last_hop, axis=1, keepdims=True)
        # quadriga-lib takes the direct centre-UE distance for the LOS path, the two hops for the others
        out["len_c_m"][i, :p] = np.where(
            paths.is_los, np.linalg.norm(ue - arr.bs_pos_m), np.linalg.norm(paths.scat_m - arr.bs_pos_m, axis=1)
        ) + np.where(paths.is_los, 0.0, np.linalg.norm(paths.scat_m - ue, axis=1))
        out["scat_m"][i, :p] = paths.scat_m
        out["los"][i, :p] = paths.is_los
    return out


def far_field_channels(source: GeometricSource, pos_m: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    """The geometric source's rays rendered plane-wave and narrowband: what an exported scenario holds.

    H[n, m, k] = sum_p c_p exp(+j 2 pi / lambda u_p . (r_m - r_c)) exp(-j 2 pi f_k (tau_p - tau_ref)), with c_p the
    centre coefficient, r_m global element positions (simnet order m = col * rows + row), r_c the array centre,
    tau_p the element-0 delay, tau_ref = |UE - r_c| / c and f_k = k * bandwidth / K. Un-normalised (like
    ``GeometricSource.raw_channels``, no 1/sqrt(K)). Differs from ``raw_channels`` only by near-field curvature
    and beam squint (a few percent for small arrays).

    Returns:
        h: [N, num_bs_ant, num_subcarriers], complex64.
    """
    pos_m = np.asarray(pos_m, dtype=np.float64).reshape(-1, 3)
    t_s = np.broadcast_to(np.asarray(t_s, dtype=np.float64), (pos_m.shape[0],))
    arr, meta = source.array, source.meta
    rays = _rays(source, pos_m, t_s)
    valid = ~np.isnan(rays["len_c_m"])
    u = np.where(valid[..., None], rays["u"], 0.0)
    offset = arr.elem_pos_m - arr.bs_pos_m  # [A, 3]
    steer = np.exp(2j * np.pi / arr.wavelength_m * np.einsum("npd,ad->npa", u, offset))  # [N, P, A]
    tau_el0 = (np.nan_to_num(rays["len_c_m"]) - u @ offset[0]) / SPEED_OF_LIGHT_MPS  # [N, P]
    tau_ref = np.linalg.norm(pos_m - arr.bs_pos_m, axis=1) / SPEED_OF_LIGHT_MPS  # [N]
    freq_hz = np.arange(meta.num_subcarriers) * meta.bandwidth_hz / meta.num_subcarriers
    delay = np.exp(-2j * np.pi * (tau_el0 - tau_ref[:, None])[..., None] * freq_hz)  # [N, P, K]
    coeff = np.where(valid, rays["coeff_c"], 0.0)
    return np.einsum("np,npa,npk->nak", coeff, steer, delay).astype(np.complex64)


def _angles_deg(vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[..., 3] unit vectors -> (azimuth from +x, zenith angle) [deg]; NaN stays NaN."""
    return np.degrees(np.arctan2(vec[..., 1], vec[..., 0])), np.degrees(np.arccos(np.clip(vec[..., 2], -1, 1)))


def _write_scene(folder: Path, source: GeometricSource, pos_m: np.ndarray, t_s: np.ndarray) -> int:
    arr = source.array
    rays = _rays(source, pos_m, t_s)
    valid = ~np.isnan(rays["len_c_m"])
    el0 = arr.elem_pos_m[0] - arr.bs_pos_m
    proj0 = np.einsum("npd,d->np", rays["u"], el0)  # NaN on padded paths
    coeff_el0 = rays["coeff_c"] * np.exp(2j * np.pi / arr.wavelength_m * proj0)
    aod_az, aod_el = _angles_deg(rays["u"])
    aoa_az, aoa_el = _angles_deg(rays["v"])
    inter = np.where(rays["los"], 0.0, 3.0)
    data = {
        "power": 10 * np.log10(np.abs(coeff_el0) ** 2),
        "phase": np.degrees(np.angle(coeff_el0)),
        "delay": (rays["len_c_m"] - proj0) / SPEED_OF_LIGHT_MPS,
        "aod_az": aod_az,
        "aod_el": aod_el,
        "aoa_az": aoa_az,
        "aoa_el": aoa_el,
        "inter": np.where(valid, inter, np.nan),
        "inter_pos": np.where(valid[..., None], rays["scat_m"], np.nan)[:, :, None, :],
        "rx_pos": pos_m,
        "tx_pos": arr.elem_pos_m[:1],
    }
    # DeepMIMO stores the strongest path first (readers keep the first max_paths): sort, padding last
    order = np.argsort(np.where(valid, -np.abs(coeff_el0), np.inf), axis=1, kind="stable")
    for key in ("power", "phase", "delay", "aod_az", "aod_el", "aoa_az", "aoa_el", "inter", "inter_pos"):
        data[key] = np.take_along_axis(data[key], order.reshape(order.shape + (1,) * (data[key].ndim - 2)), axis=1)
    folder.mkdir(parents=True, exist_ok=True)
    for key, value in data.items():  # float32, as DeepMIMO stores its matrices
        np.savez_compressed(folder / f"{key}_{_FILE_ID}.npz", **{key: value.astype(np.float32)})
    (folder / "objects.json").write_text("[]")
    np.savez_compressed(folder / "vertices.npz", vertices=np.zeros((0, 3), dtype=np.float32))
    return int(valid.sum(axis=1).max(initial=0))


def export_deepmimo(
    source: GeometricSource,
    pos_m: np.ndarray,
    t_s: np.ndarray,
    folder: str | Path,
    name: str,
    scene_period_s: float | None = None,
) -> Path:
    """Write the source's rays at the samples as DeepMIMO v4 scenario ``<folder>/<name>``.

    Static sources (or ``scene_period_s`` 0) give one scene whose receiver n is sample n (rays at its own time).
    Dynamic ones give one scene folder per scene index floor(t / scene_period_s) from the first to the last that
    the samples touch (``params.json`` records the first under ``simnet.first_scene_index``), each
    holding every position with the rays at the scene's start time; read it back with the same period.

    Args:
        source: the geometric source; pos_m: [N, 3], float64, positions [m]; t_s: [N], float64, times [s].
        folder: scenarios folder (created); name: scenario name, lowercase (DeepMIMO lowercases names).
        scene_period_s: scene length [s]; default the source's own ``scene_period_s``.

    Returns:
        The scenario folder.
    """
    if name != name.lower() or not name or any(ch in name for ch in "/\\ "):
        raise ConfigError(f"export_deepmimo: scenario name {name!r} must be lowercase without slashes or spaces")
    pos_m = np.asarray(pos_m, dtype=np.float64).reshape(-1, 3)
    t_s = np.broadcast_to(np.asarray(t_s, dtype=np.float64), (pos_m.shape[0],))
    period = source.scene_period_s if scene_period_s is None else float(scene_period_s)
    root = Path(folder) / name
    if period > 0:
        touched = np.floor(t_s / period).astype(int)
        scenes = np.arange(touched.min(), touched.max() + 1)  # consecutive: readers index scenes by position
        max_paths = max(
            _write_scene(root / f"scene_{s:04d}", source, pos_m, np.full(len(pos_m), s * period)) for s in scenes
        )
    else:
        scenes = np.zeros(1, dtype=int)
        max_paths = _write_scene(root, source, pos_m, t_s)
    meta = source.meta
    txrx = {
        "txrx_set_0": {
            "name": "bs",
            "id": 0,
            "is_tx": True,
            "is_rx": False,
            "num_points": 1,
            "num_active_points": 1,
            "num_ant": 1,
            "dual_pol": False,
        },
        "txrx_set_1": {
            "name": "ue",
            "id": 1,
            "is_tx": False,
            "is_rx": True,
            "num_points": len(pos_m),
            "num_active_points": len(pos_m),
            "num_ant": 1,
            "dual_pol": False,
        },
    }
    params = {
        "version": "4.0.0",
        "rt_params": {
            "frequency": meta.carrier_hz,
            "raytracer_name": "simnet geometric",
            "raytracer_version": "1",
            "max_path_depth": 1,
            "max_reflections": 0,
            "max_scattering": 1,
        },
        "txrx_sets": txrx,
        "materials": {},
        "scene": {"num_scenes": int(len(scenes)), "n_objects": 0},
        "simnet": {
            "source": source.params(),
            "bs_array": list(meta.bs_array),
            "max_paths": max_paths,
            "first_scene_index": int(scenes[0]),
            "scene_period_s": period,
            "bandwidth_hz": meta.bandwidth_hz,
            "num_subcarriers": meta.num_subcarriers,
        },
    }
    (root / "params.json").write_text(json.dumps(params, indent=1, default=str))
    return root
