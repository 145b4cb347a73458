"""Sionna RT's PathSolver as numpy rays: receivers traced in batches, NaN-padded arrays per receiver.

    scene, BS, receivers --PathSolver (deterministic, synthetic array), one run per batch--> Paths --> rays

The Sionna side of the ``sionna_rt`` source (which writes these rays as a DeepMIMO scenario). sionna is imported
only by ``import_sionna``, when a source is built, so importing simnet never imports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simnet.errors import ConfigError

MISSING_EXTRA = (
    "channel type 'sionna_rt' needs the optional extra: pip install 'simnet[raytracing]' and the Debian package "
    "libllvm19"
)


def import_sionna() -> Any:
    """The ``sionna.rt`` module, or a one-line ``ConfigError`` naming the extra (also when libLLVM is missing)."""
    try:
        import drjit  # noqa: PLC0415  (optional dependency)
        import mitsuba  # noqa: F401, PLC0415
        import sionna.rt as rt  # noqa: PLC0415
    except ImportError as err:
        raise ConfigError(MISSING_EXTRA) from err
    if not drjit.has_backend(drjit.JitBackend.LLVM):  # no libLLVM: the path solver would abort the process
        raise ConfigError(MISSING_EXTRA)
    return rt


def inter_code(kinds: np.ndarray) -> np.ndarray:
    """Sionna interaction types [depth, ...] -> DeepMIMO codes [...] (one digit per bounce: 1 reflection,
    2 diffraction, 3 diffuse scattering, 4 transmission; 0 = LOS)."""
    digit = np.select([kinds == 1, kinds == 2, kinds == 4, kinds == 8], [1, 3, 4, 2], 0)
    code = np.zeros(kinds.shape[1:])
    for d in digit:  # first bounce is the most significant digit
        code = np.where(d > 0, code * 10 + d, code)
    return code


def trace_batches(
    rt: Any,
    scene_name: str,
    carrier_hz: float,
    bs_pos_m: np.ndarray,
    orientation_deg: tuple[float, float],
    rx_pos_m: np.ndarray,
    batch_size: int,
    solver_kwargs: dict[str, Any],
    tx_array: Any = None,
) -> tuple[dict[str, np.ndarray], Any]:
    """Ray-trace receivers in batches of ``batch_size`` (one deterministic PathSolver run per batch).

    Args:
        rt: the ``sionna.rt`` module (from ``import_sionna``).
        scene_name: a scene shipped with sionna-rt (``rt.scene.<name>``).
        carrier_hz: carrier [Hz]. bs_pos_m: [3] BS array centre [m].
        orientation_deg: (heading, downtilt) of the BS [deg]; Sionna's (yaw, pitch).
        rx_pos_m: [N, 3], float64, receiver positions [m].
        solver_kwargs: ``max_depth``, ``samples_per_src``, ``diffraction``, ``seed`` for ``PathSolver``.
        tx_array: a Sionna ``PlanarArray`` for the BS (synthetic array); default one isotropic V element.

    Returns:
        rays: NaN-padded, from the array centre: ``a`` [N, P, A] complex128 (Sionna's coefficient, no
        carrier term; A = 1 without ``tx_array``), ``tau`` [N, P] [s], ``u`` [N, P, 3] departure unit
        vectors, ``v`` [N, P, 3] arrival directions (UE towards the last bounce), ``inter`` [N, P] DeepMIMO
        codes, ``inter_pos`` [N, P, max_depth, 3] bounce points [m]; and the last ``Paths`` (for checks).
    """
    import mitsuba as mi  # noqa: PLC0415  (optional dependency, present once sionna imported)

    iso = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
    scene = rt.load_scene(getattr(rt.scene, scene_name), merge_shapes=True)
    scene.frequency = carrier_hz
    scene.tx_array = tx_array if tx_array is not None else iso
    scene.rx_array = iso
    # Sionna's pitch is a downtilt (38.901 7.1-2: a positive pitch turns the boresight below the horizon; measured
    # with a tr38901 element). It tilts the V polarisation with the array, as a tilted array of Sionna's would.
    yaw, pitch = (float(np.deg2rad(x)) for x in orientation_deg)
    scene.add(
        rt.Transmitter(name="bs", position=mi.Point3f(*map(float, bs_pos_m)), orientation=mi.Point3f(yaw, pitch, 0))
    )
    solver = rt.PathSolver(deterministic=True)
    depth = max(solver_kwargs["max_depth"], 1)
    parts: list[dict[str, np.ndarray]] = []
    paths = None
    for lo in range(0, len(rx_pos_m), batch_size):
        names = [f"ue{i}" for i in range(lo, min(lo + batch_size, len(rx_pos_m)))]
        for name, p in zip(names, rx_pos_m[lo : lo + batch_size], strict=True):
            scene.add(rt.Receiver(name=name, position=mi.Point3f(*map(float, p))))
        paths = solver(scene, synthetic_array=True, **solver_kwargs)
        parts.append(extract_rays(paths, depth))
        for name in names:
            scene.remove(name)
    num_paths = max(p["tau"].shape[1] for p in parts)

    def pad(x: np.ndarray) -> np.ndarray:
        return np.pad(x, [(0, 0), (0, num_paths - x.shape[1])] + [(0, 0)] * (x.ndim - 2), constant_values=np.nan)

    return {k: np.concatenate([pad(p[k]) for p in parts]) for k in parts[0]}, paths


def extract_rays(paths: Any, depth: int) -> dict[str, np.ndarray]:
    """One trace's Paths -> NaN-padded numpy arrays per receiver (see ``trace_batches``)."""
    a = np.asarray(paths.a[0].numpy(), dtype=np.float64) + 1j * np.asarray(paths.a[1].numpy())
    a = a[:, 0, 0].transpose(0, 2, 1)  # [R, A, P] -> [R, P, A] (one rx element, one transmitter)
    valid = np.asarray(paths.valid.numpy())[:, 0]  # [R, T, P] with synthetic arrays -> [R, P]
    tau = np.asarray(paths.tau.numpy(), dtype=np.float64)[:, 0]
    th_t, ph_t = (np.asarray(x.numpy(), dtype=np.float64)[:, 0] for x in (paths.theta_t, paths.phi_t))
    th_r, ph_r = (np.asarray(x.numpy(), dtype=np.float64)[:, 0] for x in (paths.theta_r, paths.phi_r))
    kinds = np.asarray(paths.interactions.numpy())[:, :, 0]  # [D, R, P]
    verts = np.asarray(paths.vertices.numpy(), dtype=np.float64)[:, :, 0]  # [D, R, P, 3]
    kinds = np.pad(kinds, [(0, depth - kinds.shape[0]), (0, 0), (0, 0)])
    verts = np.pad(verts, [(0, depth - verts.shape[0]), (0, 0), (0, 0), (0, 0)])

    def unit(th: np.ndarray, ph: np.ndarray) -> np.ndarray:
        return np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], axis=-1)

    nan = np.where(valid, 0.0, np.nan)
    inter_pos = np.where((kinds > 0)[..., None], verts, np.nan).transpose(1, 2, 0, 3)  # [R, P, D, 3]
    return {
        "a": np.where(valid[..., None], a, np.nan),
        "tau": tau + nan,
        "u": unit(th_t, ph_t) + nan[..., None],
        "v": unit(th_r, ph_r) + nan[..., None],
        "inter": inter_code(kinds) + nan,
        "inter_pos": inter_pos + nan[..., None, None],
    }
