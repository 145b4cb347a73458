"""The channel-source interface: trajectory samples in, frequency responses H out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from simnet.registry import Registry


@dataclass(frozen=True)
class ChannelMeta:
    """What a source produces.

    Attributes:
        carrier_hz: carrier frequency [Hz].
        bandwidth_hz: total OFDM bandwidth [Hz].
        num_subcarriers: number of OFDM subcarriers.
        bs_array: (rows, cols) of the BS uniform planar array; num_bs_ant = rows * cols.
        source: registry name of the source (``"geometric"``, ``"deepmimo"``...).
        description: what data was really used (preset name, scenario folder...), for the manifest.
    """

    carrier_hz: float
    bandwidth_hz: float
    num_subcarriers: int
    bs_array: tuple[int, int]
    source: str
    description: str

    @property
    def num_bs_ant(self) -> int:
        return self.bs_array[0] * self.bs_array[1]


@runtime_checkable
class ChannelSource(Protocol):
    """A source of downlink channels for single-antenna UEs.

    ``channels`` is batched and deterministic: the same source (same parameters and seed) returns
    the same H for the same samples, whatever the batch split.
    """

    meta: ChannelMeta

    def tracks(self, num_ues: int) -> list[np.ndarray]:
        """Default UE routes of this environment.

        Returns:
            ``num_ues`` arrays of shape [num_waypoints, 3], float64, waypoint positions [m]; a UE walks
            the polyline from the first waypoint to the last.
        """
        ...

    def channels(self, pos_m: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """Downlink frequency responses at trajectory samples.

        Args:
            pos_m: [num_samples, 3], float64, UE positions [m].
            t_s: [num_samples], float64, sample times [s] (moving scatterers and dynamic scenes
                advance with time; static sources ignore it).

        Returns:
            h: [num_samples, num_bs_ant, num_subcarriers], complex64.
        """
        ...


CHANNEL_SOURCES: Registry[type] = Registry("channel source")
register_source = CHANNEL_SOURCES.register


NORMALIZATIONS = ("area", "none", "per_sample")  # output scalings every source offers


def apply_normalization(h: np.ndarray, normalization: str, reference_power: Callable[[], float]) -> np.ndarray:
    """Output scaling shared by the sources: ``"area"`` divides by sqrt(reference_power) (path loss kept),
    ``"per_sample"`` scales every sample to mean per-entry power 1; anything else leaves H as it is.

    Args:
        h: [N, A, S] complex64 channels (``"area"`` scales them in place).
        normalization: ``"area"``, ``"per_sample"`` or ``"none"``.
        reference_power: returns the source's fixed mean per-entry power; called for ``"area"`` only (it may be
            costly to compute).

    Returns:
        [N, A, S] complex64.
    """
    if normalization == "area":
        h *= np.float32(1.0 / np.sqrt(reference_power()))
    elif normalization == "per_sample":
        p = np.mean(np.abs(h.astype(np.complex128)) ** 2, axis=(1, 2), keepdims=True)
        h = (h / np.sqrt(np.maximum(p, 1e-300))).astype(np.complex64)
    return h
