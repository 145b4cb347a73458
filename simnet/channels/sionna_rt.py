"""Sionna RT ray tracing along UE street tracks, stored as a DeepMIMO v4 scenario and read back by the deepmimo source.

    scene (sionna-rt wheel) --PathSolver, batches of ~50 UEs--> rays --DeepMIMO v4 files--> DeepMIMOSource --> H

Static scenes only: nothing in the scene moves and no Doppler is applied, so H at a receiver point is the same at
every time (``t_s`` is ignored) and a moving UE sees H change only from one receiver point to the next.
The trace uses single isotropic V-polarised elements at both ends (``synthetic_array``), the BS element turned by
the heading and pitched down by the downtilt as the array is (Sionna's pitch > 0 tilts down; it tilts the
polarisation): the BS array is applied afterwards by the deepmimo source, plane-wave, as Sionna's synthetic array
does. Paths: LOS, specular reflection, refraction and (default) first-order diffraction, which alone reaches street
receivers in deep shadow (without it 55 of the 641 munich receivers got no path). Sionna samples
candidate paths with rays: 1e5 rays left 52 of 641 munich receivers > 3 dB below a 3e5-ray trace, hence 3e5 by
default.
Ray conventions written (as ``simnet.channels.export``, but for the delay): ``tx_pos`` is BS element 0 (DeepMIMO's
reference; Sionna traces from the array centre c), ``phase`` is the phase at element 0 with the carrier term
(Sionna's ``a`` and deepmimo's own Sionna converter omit it): arg a - 360 fc (tau_c - u.(r_0 - c)/c0) [deg];
``power`` = 20 log10 |a| [dBW]; ``delay`` the absolute delay to the array *centre* tau_c [s] (the reader applies one
delay per path to every element, as Sionna's synthetic array does; the centre halves the beam-squint error of an
element-0 delay); ``aod_el`` a zenith angle; no 1/sqrt(K). Sionna's UPA counts rows from the top (m = col * rows +
row_from_top), simnet's from the bottom: compare element m with Sionna's col * rows + rows-1-row.
The scenario folder is named by a hash of everything that determines the rays (the array, heading and tilt enter
through element 0 and the pitch) and reused when present: a traced scene is paid for once. UE receivers lie on the
tracks every ``spacing_m``; ``channels`` takes the nearest one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

from simnet.channels.base import ChannelMeta, register_source
from simnet.channels.deepmimo import DeepMIMOSource, upa_offsets_m
from simnet.channels.lsp import SPEED_OF_LIGHT_MPS
from simnet.channels.sionna_trace import import_sionna, trace_batches
from simnet.errors import ConfigError

TRACE_VERSION = 2  # bump when the written rays change, so old trace folders are not reused
_FILE_ID = "t000_tx000_r001"
# Per scene: BS array centre [m], heading [deg] (boresight towards the tracks) and straight street segments
# [[x0, y0], [x1, y1]] [m] at ground level that are clear of buildings by >= 3 m (found on a 1 m height map).
SCENES: dict[str, dict[str, Any]] = {
    "munich": {
        "bs_pos_m": [8.5, 21.0, 27.0],  # 1 m above the north edge of a 26 m roof
        "bs_heading_deg": 90.0,
        "tracks": [
            [[-35.0, 40.0], [10.9, 105.5]],
            [[45.0, 15.0], [-0.9, 80.5]],
            [[25.0, 20.0], [97.5, 53.8]],
            [[-55.0, -40.0], [-34.3, 37.3]],
        ],
    },
    "etoile": {
        "bs_pos_m": [41.5, -1.0, 22.0],  # 1.5 m above a 20.5 m roof east of the Arc, 1 m from its west edge
        "bs_heading_deg": 180.0,
        "tracks": [
            [[-35.0, 10.0], [34.3, 50.0]],
            [[-35.0, -50.0], [34.3, -10.0]],
            [[40.0, -25.0], [101.3, 26.4]],
            [[-50.0, 0.0], [-29.3, 77.3]],
        ],
    },
}


@register_source("sionna_rt")
class SionnaRTSource:
    """Ray-traced channels of a Sionna RT scene along straight UE tracks (see the module docstring).

    Args:
        scene: a scene shipped with sionna-rt that has tracks here (``munich``, ``etoile``).
        num_subcarriers, bandwidth_hz, carrier_hz, bs_array, seed: as for the other sources (seed enters the
            solver's sampling; the deterministic solver gives identical rays for the same seed).
        bs_pos_m: BS array centre [m]; default the scene's. bs_heading_deg, bs_downtilt_deg: array orientation [deg].
        tracks_m: street segments [[x0, y0], [x1, y1]] [m]; default the scene's. ue_height_m: UE height [m].
        spacing_m: receiver spacing along each track [m] (H is piecewise constant between receivers).
        max_depth: bounces per path; samples_per_src: rays launched per trace (more finds more of the weak paths;
            see the module docstring); batch_size: receivers per trace.
        diffraction: first-order edge diffraction (Sionna's only order) besides reflection and refraction; without
            it, street receivers that no <= max_depth reflection chain reaches get no path at all (H = 0).
        max_paths: strongest paths kept per receiver (None = all).
        normalization: ``"area"``, ``"none"`` or ``"per_sample"``, as in the deepmimo source.
        trace_folder: where traced scenarios are kept; default ``$SIMNET_CACHE/sionna_rt`` or
            ``~/.cache/simnet/sionna_rt``.
    """

    def __init__(
        self,
        scene: str = "munich",
        num_subcarriers: int = 64,
        bandwidth_hz: float = 50e6,
        carrier_hz: float = 3.5e9,
        bs_array: tuple[int, int] = (8, 8),
        seed: int = 0,
        bs_pos_m: list[float] | None = None,
        bs_heading_deg: float | None = None,
        bs_downtilt_deg: float = 0.0,
        tracks_m: list[list[list[float]]] | None = None,
        ue_height_m: float = 1.5,
        spacing_m: float = 0.5,
        max_depth: int = 3,
        samples_per_src: int = 300_000,
        batch_size: int = 50,
        diffraction: bool = True,
        max_paths: int | None = None,
        normalization: Literal["area", "none", "per_sample"] = "area",  # NORMALIZATIONS
        trace_folder: str | None = None,
    ) -> None:
        self._rt = import_sionna()
        if scene not in SCENES:
            raise ConfigError(f"channel.scene = {scene!r}; scenes with tracks: {', '.join(sorted(SCENES))}")
        if spacing_m <= 0 or max_depth < 0 or samples_per_src < 1 or batch_size < 1:
            raise ConfigError(
                "channel (sionna_rt): spacing_m > 0, max_depth >= 0, samples_per_src and batch_size >= 1 needed; "
                f"got {spacing_m}, {max_depth}, {samples_per_src}, {batch_size}"
            )
        preset = SCENES[scene]
        segs = np.asarray(tracks_m if tracks_m is not None else preset["tracks"], dtype=np.float64)
        if segs.ndim != 3 or segs.shape[1:] != (2, 2) or len(segs) == 0:
            raise ConfigError(f"channel.tracks_m: need a list of [[x0, y0], [x1, y1]] segments, got shape {segs.shape}")
        self.scene_name = scene
        self.segments_m = np.concatenate([segs, np.full(segs.shape[:2] + (1,), float(ue_height_m))], axis=2)
        self.bs_pos_m = np.asarray(bs_pos_m if bs_pos_m is not None else preset["bs_pos_m"], dtype=np.float64)
        heading = float(preset["bs_heading_deg"] if bs_heading_deg is None else bs_heading_deg)
        self.meta = ChannelMeta(
            float(carrier_hz),
            float(bandwidth_hz),
            int(num_subcarriers),
            (int(bs_array[0]), int(bs_array[1])),
            "sionna_rt",
            f"Sionna RT scene {scene}, BS at {self.bs_pos_m.tolist()}",
        )
        self.seed = int(seed)
        self.trace: dict[str, Any] = {  # everything that determines the rays (the trace folder's name is its hash)
            "version": TRACE_VERSION,
            "scene": scene,
            "carrier_hz": float(carrier_hz),
            "bs_pos_m": self.bs_pos_m.tolist(),
            "bs_element0_offset_m": [],  # filled below: depends on the array and its orientation
            "segments_m": self.segments_m.tolist(),
            "spacing_m": float(spacing_m),
            "max_depth": int(max_depth),
            "samples_per_src": int(samples_per_src),
            "batch_size": int(batch_size),
            "diffraction": bool(diffraction),
            "seed": self.seed,
        }
        self.reader_kwargs: dict[str, Any] = {
            "num_subcarriers": int(num_subcarriers),
            "bandwidth_hz": float(bandwidth_hz),
            "carrier_hz": float(carrier_hz),
            "bs_array": self.meta.bs_array,
            "max_paths": max_paths,
            "bs_heading_deg": heading,
            "bs_downtilt_deg": float(bs_downtilt_deg),
            "normalization": normalization,
        }
        offsets = upa_offsets_m(self.meta.bs_array, SPEED_OF_LIGHT_MPS / carrier_hz, heading, bs_downtilt_deg)
        self.element0_m = self.bs_pos_m - offsets.mean(axis=0)  # DeepMIMO's tx_pos
        self.trace["bs_element0_offset_m"] = (self.element0_m - self.bs_pos_m).tolist()
        root = trace_folder or os.path.join(
            os.environ.get("SIMNET_CACHE", Path.home() / ".cache" / "simnet"), "sionna_rt"
        )
        self.folder = Path(root).expanduser()
        digest = hashlib.sha256(json.dumps(self.trace, sort_keys=True).encode()).hexdigest()[:16]
        self.scenario = f"{scene}_{digest}"
        self._reader: DeepMIMOSource | None = None
        self.rx_without_paths_m: np.ndarray = np.zeros((0, 3))  # filled by reader()

    def params(self) -> dict[str, Any]:
        """Everything that determines H (cache key, manifest); JSON-serialisable. No trace is needed."""
        return {"source": "sionna_rt", "trace": self.trace, "meta": self.meta.__dict__, **self.reader_kwargs}

    def rx_positions(self) -> np.ndarray:
        """The traced receiver points: every track sampled every ``spacing_m``, [num_rx, 3], float64 [m]."""
        pts = []
        for a, b in self.segments_m:
            num = int(np.floor(np.linalg.norm(b - a) / self.trace["spacing_m"] + 1e-9)) + 1
            s = np.arange(num) * self.trace["spacing_m"] / np.linalg.norm(b - a)
            pts.append(a + s[:, None] * (b - a))
        return np.concatenate(pts)

    def tracks(self, num_ues: int) -> list[np.ndarray]:
        """UE k walks segment ``k % num_segments``: ``num_ues`` arrays [2, 3], float64 [m]."""
        return [self.segments_m[k % len(self.segments_m)].copy() for k in range(num_ues)]

    def reader(self) -> DeepMIMOSource:
        """The deepmimo source over the traced scenario (traced now if its folder is missing).

        Receivers that no traced path reaches get H = 0 (e.g. deep shadow without ``diffraction``, or a track
        through a building): their positions are kept in ``rx_without_paths_m`` [n, 3] [m] and a warning says so.
        """
        if self._reader is None:
            if not (self.folder / self.scenario / "params.json").is_file():
                self.write_scenario(self.folder, self.scenario)
            self._reader = DeepMIMOSource(self.scenario, str(self.folder), seed=self.seed, **self.reader_kwargs)
            first = self._reader.scenes[0]
            self.rx_without_paths_m = first["rx_pos"][np.all(np.isnan(first["power"]), axis=1)]
            if len(self.rx_without_paths_m):
                warnings.warn(
                    f"sionna_rt {self.scene_name}: {len(self.rx_without_paths_m)} of {len(first['rx_pos'])} receivers "
                    f"have no traced path and get H = 0, e.g. at {self.rx_without_paths_m[:3].round(1).tolist()} m "
                    "(enable diffraction, raise max_depth or samples_per_src, or keep tracks out of buildings)",
                    RuntimeWarning,
                    stacklevel=2,
                )
        return self._reader

    def channels(self, pos_m: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """H at the nearest traced receiver: [N, num_bs_ant, num_subcarriers], complex64 (static scene: t_s unused)."""
        return self.reader().channels(pos_m, t_s)

    def trace_rays(self, rx_pos_m: np.ndarray, tx_array: Any = None) -> tuple[dict[str, np.ndarray], Any]:
        """Ray-trace receivers ``rx_pos_m`` [N, 3] [m] with this source's scene, BS and solver settings.

        ``tx_array``: a Sionna ``PlanarArray`` for the BS (checks against Sionna's own arrays); default one
        isotropic element. Returns ``trace_batches``'s rays and the last ``Paths``.
        """
        orientation = (self.reader_kwargs["bs_heading_deg"], self.reader_kwargs["bs_downtilt_deg"])
        solver = {k: self.trace[k] for k in ("max_depth", "samples_per_src", "diffraction", "seed")}
        return trace_batches(
            self._rt,
            self.scene_name,
            self.meta.carrier_hz,
            self.bs_pos_m,
            orientation,
            rx_pos_m,
            self.trace["batch_size"],
            solver,
            tx_array,
        )

    def write_scenario(self, folder: Path, name: str) -> Path:
        """Trace ``rx_positions()`` and write DeepMIMO v4 scenario ``folder/name`` (atomically: temp + rename)."""
        rx = self.rx_positions()
        rays, _ = self.trace_rays(rx)
        fc = self.meta.carrier_hz
        e0 = self.element0_m - self.bs_pos_m
        proj0 = rays["u"] @ e0  # [N, P] path-length gain of element 0 over the centre [m]
        a0 = rays["a"][..., 0]  # Sionna's a has no propagation phase: the element-0 shift is all in its delay
        tau0 = rays["tau"] - proj0 / SPEED_OF_LIGHT_MPS
        phase = np.degrees(np.angle(a0)) - 360.0 * np.mod(fc * tau0, 1.0)  # carrier term; mod keeps float64 digits
        az_t, az_r = (np.degrees(np.arctan2(rays[k][..., 1], rays[k][..., 0])) for k in ("u", "v"))
        el_t, el_r = (np.degrees(np.arccos(np.clip(rays[k][..., 2], -1, 1))) for k in ("u", "v"))
        data = {
            "power": 20 * np.log10(np.abs(a0)),
            "phase": np.mod(phase + 180.0, 360.0) - 180.0,
            "delay": rays["tau"],  # centre delay: the reader applies one delay per path to every element
            "aod_az": az_t,
            "aod_el": el_t,
            "aoa_az": az_r,
            "aoa_el": el_r,
            "inter": rays["inter"],
            "inter_pos": rays["inter_pos"],
        }
        order = np.argsort(np.where(np.isnan(tau0), np.inf, -np.abs(np.nan_to_num(a0))), axis=1, kind="stable")
        for key, value in data.items():  # strongest path first, padding last (readers keep the first max_paths)
            data[key] = np.take_along_axis(value, order.reshape(order.shape + (1,) * (value.ndim - 2)), axis=1)
        data["rx_pos"], data["tx_pos"] = rx, self.element0_m[None]
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder, prefix=f".{name}."))
        try:
            for key, value in data.items():  # float32, as DeepMIMO stores its matrices
                np.savez_compressed(tmp / f"{key}_{_FILE_ID}.npz", **{key: value.astype(np.float32)})
            (tmp / "objects.json").write_text("[]")
            np.savez_compressed(tmp / "vertices.npz", vertices=np.zeros((0, 3), dtype=np.float32))
            num_paths = int(np.sum(~np.isnan(tau0), axis=1).max(initial=0))
            (tmp / "params.json").write_text(json.dumps(self._params_json(len(rx), num_paths), indent=1))
            os.replace(tmp, folder / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return folder / name

    def _params_json(self, num_rx: int, max_paths: int) -> dict[str, Any]:
        def txrx(name: str, idx: int, is_tx: bool, num: int) -> dict[str, Any]:
            return {
                "name": name,
                "id": idx,
                "is_tx": is_tx,
                "is_rx": not is_tx,
                "num_points": num,
                "num_active_points": num,
                "num_ant": 1,
                "dual_pol": False,
            }

        import sionna.rt as rt  # noqa: PLC0415  (optional dependency)

        return {
            "version": "4.0.0",
            "rt_params": {
                "frequency": self.meta.carrier_hz,
                "raytracer_name": "Sionna RT (simnet)",
                "raytracer_version": str(getattr(rt, "__version__", "?")),
                "max_path_depth": self.trace["max_depth"],
                "max_reflections": self.trace["max_depth"],
                "max_diffractions": int(self.trace["diffraction"]),
                "max_scattering": 0,
            },
            "txrx_sets": {"txrx_set_0": txrx("bs", 0, True, 1), "txrx_set_1": txrx("ue", 1, False, num_rx)},
            "materials": {},
            "scene": {"num_scenes": 1, "n_objects": 0},
            "simnet": {"source": "sionna_rt", "trace": self.trace, "max_paths": max_paths, "first_scene_index": 0},
        }
