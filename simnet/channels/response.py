"""Path sets -> per-element coefficients -> OFDM frequency response, through quadriga-lib.

Two engines compute the same H for a BS uniform planar array and an omni UE:

``full``: quadriga-lib computes every element's spherical-wave coefficient and delay
    (``arrayant.get_channels_spherical`` with the full 3GPP array), then the frequency response
    (``channel.baseband_freq_response``).
``fast``: quadriga-lib computes one element's coefficient per path (pattern, polarisation, path gain, phase at
    the array centre); numpy adds each element's spherical-wave phase and delay (the array factor) and
    evaluates the frequency response with a second-order expansion of the per-element delay offset around the
    band centre. It matches ``full`` to well within 1% (tests/channels/test_response.py).

Antenna index convention (quadriga-lib's): m = i_col * rows + i_row, vertical (row) index fastest, row 0 at
the bottom, column 0 on the left seen from behind the array. Subcarrier k sits at baseband k * bandwidth / K.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import quadriga_lib

from simnet.channels.lsp import SPEED_OF_LIGHT_MPS

PATTERN_RES_DEG = 5.0


@dataclass(frozen=True)
class PathSet:
    """Single-bounce propagation paths from the BS to one UE position.

    Attributes:
        scat_m: [P, 3], float64, bounce points [m] (the LOS path uses the BS-UE midpoint).
        gain: [P], float64, linear power gain of each path (path loss, shadowing, cluster power included).
        length_m: [P], float64, total path length BS -> bounce -> UE [m].
        xpol: [P, 8], float64, polarisation transfer matrix (ReVV, ImVV, ReVH, ImVH, ReHV, ImHV, ReHH, ImHH).
        is_los: [P], bool, marks the direct path.
    """

    scat_m: np.ndarray
    gain: np.ndarray
    length_m: np.ndarray
    xpol: np.ndarray
    is_los: np.ndarray


def rotation_matrix(bank_rad: float, tilt_rad: float, heading_rad: float) -> np.ndarray:
    """Euler rotation (bank about x, then tilt about y, then heading about z) as quadriga-lib applies it.

    quadriga-lib turns the boresight (+x) *upwards* for a positive tilt (checked against its per-element
    output), so a mechanical downtilt is a negative ``tilt_rad``. Returns [3, 3].
    """
    cb, sb = np.cos(bank_rad), np.sin(bank_rad)
    ct, st = np.cos(tilt_rad), np.sin(tilt_rad)
    ch, sh = np.cos(heading_rad), np.sin(heading_rad)
    rx = np.array([[1, 0, 0], [0, cb, -sb], [0, sb, cb]])
    ry = np.array([[ct, 0, -st], [0, 1, 0], [st, 0, ct]])
    rz = np.array([[ch, -sh, 0], [sh, ch, 0], [0, 0, 1]])
    return rz @ ry @ rx


class ArrayResponse:
    """Computes H for one BS array configuration.

    Args:
        carrier_hz, bandwidth_hz: carrier and OFDM bandwidth [Hz].
        num_subcarriers: K.
        bs_array: (rows, cols) of the half-wavelength UPA of 3GPP (38.901 7.3) elements, vertical pol.
        bs_pos_m: [3] array centre [m].
        orientation_rad: [3] (bank, tilt, heading) [rad].
    """

    def __init__(
        self,
        carrier_hz: float,
        bandwidth_hz: float,
        num_subcarriers: int,
        bs_array: tuple[int, int],
        bs_pos_m: np.ndarray,
        orientation_rad: np.ndarray,
    ) -> None:
        self.carrier_hz = carrier_hz
        self.bandwidth_hz = bandwidth_hz
        self.num_subcarriers = num_subcarriers
        self.bs_pos_m = np.asarray(bs_pos_m, dtype=np.float64)
        self.orientation = np.asarray(orientation_rad, dtype=np.float64)
        rows, cols = bs_array
        self.ant_full = quadriga_lib.arrayant.generate(
            "3gpp", res=PATTERN_RES_DEG, freq=carrier_hz, M=rows, N=cols
        )
        self.ant_single = quadriga_lib.arrayant.generate("3gpp", res=PATTERN_RES_DEG, freq=carrier_hz)
        self.ant_ue = quadriga_lib.arrayant.generate("omni", res=PATTERN_RES_DEG, freq=carrier_hz)
        rot = rotation_matrix(*self.orientation)
        self.elem_pos_m = (rot @ self.ant_full["element_pos"]).T + self.bs_pos_m  # [A, 3] global [m]
        self.pilot_grid = np.arange(num_subcarriers) / num_subcarriers
        self.freq_hz = self.pilot_grid * bandwidth_hz  # [K] baseband
        self.wavelength_m = SPEED_OF_LIGHT_MPS / carrier_hz

    @property
    def num_bs_ant(self) -> int:
        return self.elem_pos_m.shape[0]

    def _qd_args(self, paths: PathSet, ue_m: np.ndarray) -> tuple:
        fbs = np.asfortranarray(paths.scat_m.T)
        return (
            fbs,
            fbs,
            paths.gain,
            paths.length_m,
            np.asfortranarray(paths.xpol.T),
            self.bs_pos_m,
            self.orientation,
            np.asarray(ue_m, dtype=np.float64),
            np.zeros(3),
            self.carrier_hz,
            False,
            False,
        )

    def full(self, paths: PathSet, ue_m: np.ndarray) -> np.ndarray:
        """quadriga-lib per-element computation: [A, K] complex128."""
        if paths.gain.size == 0:
            return np.zeros((self.num_bs_ant, self.num_subcarriers), dtype=np.complex128)
        cre, cim, delay = quadriga_lib.arrayant.get_channels_spherical(
            self.ant_full, self.ant_ue, *self._qd_args(paths, ue_m)
        )
        h = quadriga_lib.channel.baseband_freq_response(
            coeff=[cre + 1j * cim], delay=[delay], bandwidth=self.bandwidth_hz, pilot_grid=self.pilot_grid
        )
        return h[0, :, :, 0]

    def fast(self, paths: PathSet, ue_m: np.ndarray) -> np.ndarray:
        """Single-element quadriga-lib coefficients + numpy spherical array factor: [A, K] complex128."""
        if paths.gain.size == 0:
            return np.zeros((self.num_bs_ant, self.num_subcarriers), dtype=np.complex128)
        ue = np.asarray(ue_m, dtype=np.float64)
        cre, cim, _ = quadriga_lib.arrayant.get_channels_spherical(
            self.ant_single, self.ant_ue, *self._qd_args(paths, ue)
        )
        coeff_centre = (cre + 1j * cim)[0, 0]  # [P] at the array centre
        to_ue = np.linalg.norm(paths.scat_m - ue, axis=1)  # [P]
        diff = paths.scat_m[None, :, :] - self.elem_pos_m[:, None, :]  # [A, P, 3]
        len_elem = np.sqrt(np.einsum("apk,apk->ap", diff, diff)) + to_ue  # [A, P]
        if paths.is_los.any():  # quadriga-lib takes the direct element-UE distance for the LOS path
            len_elem[:, paths.is_los] = np.linalg.norm(ue - self.elem_pos_m, axis=1)[:, None]
        len_centre = np.linalg.norm(paths.scat_m - self.bs_pos_m, axis=1) + to_ue  # [P]
        # Delays are relative to the array-centre LOS distance, as quadriga-lib reports them.
        d_los = np.linalg.norm(ue - self.bs_pos_m)
        tau_p = (len_centre - d_los) / SPEED_OF_LIGHT_MPS  # [P]
        dtau = (len_elem - len_centre) / SPEED_OF_LIGHT_MPS  # [A, P], |dtau| < array size / c
        f_mid = 0.5 * (self.freq_hz[0] + self.freq_hz[-1])
        df = self.freq_hz - f_mid  # [K]
        coeff = coeff_centre * np.exp(-2j * np.pi * (self.carrier_hz + f_mid) * dtau)  # [A, P]
        base = np.exp(-2j * np.pi * np.outer(tau_p, self.freq_hz))  # [P, K]
        # exp(-j 2 pi df dtau) to second order: |2 pi df dtau| < 0.1 for 50 MHz and a 64-element array.
        x = -2j * np.pi * dtau
        h = coeff @ base
        h += (coeff * x) @ (base * df)
        h += (0.5 * coeff * x * x) @ (base * df**2)
        return h
