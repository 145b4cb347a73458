"""The size of a run before it starts: channel samples, reports, downlink slots, memory and a rough time.

    scenario (+ the UEs' track lengths) -> RunEstimate -> refuse (ConfigError) | note the cost | run

What is counted follows ``simnet.sim.world.build_world`` and the SimPy processes: a UE samples its track every
``sample_spacing_m`` (``floor(L / spacing) + 1`` samples), reports every ``report_spacing_m`` and walks at
``speed_mps``; the BS scores every ``slot_period_s`` until the last UE's track ends, one table row per UE
and slot. The true channels are held as ``[num_samples, num_bs_ant, num_subcarriers]`` complex64 per UE
(and a copy in every worker process). Track lengths are known at load time when ``ues.track_length_m`` is
given or the channel is a ``geometric`` preset; otherwise ``check_tracks`` checks them once the channel
source has laid out its tracks, still before any channel is computed.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simnet.config import ue_timing
from simnet.config.fields import Ctx
from simnet.errors import ConfigError

MAX_CHANNEL_BYTES = 8 * 2**30
"""Most memory the true channels of one run may take [bytes] (each worker process holds a copy)."""
MAX_EVENTS = 1e8
"""Most simulation events (downlink slots plus report measurements and deliveries) of one variant."""
MAX_TABLE_ROWS = 2e7
"""Most per-report plus per-slot table rows of one variant (kept in memory until the variant ends)."""
NOTE_SECONDS = 300.0
"""A run whose rough serial time exceeds this [s] gets a one-line cost note before it starts."""
NOTE_BYTES = 2**30
"""A run whose channels exceed this [bytes] gets a one-line cost note before it starts."""
# Rough costs, measured with the learned-transform codec on 8 x 8 antennas x 64 subcarriers on one core of a shared
# 2-core EPYC (channels not cached, 8 users on 8 m of o2_dynamic_like): 2.9 ms per channel sample and
# 5.4 ms per report of a variant without fine-tunes (encode, uplink, decode, scoring). Scaled by the
# array size; fine-tunes come on top (about 30-60 optimiser steps each).
CHANNEL_S_PER_SAMPLE = 2.9e-3 / 4096
"""Seconds to compute one channel sample per antenna-subcarrier pair (geometric source)."""
VARIANT_S_PER_REPORT = 5.4e-3 / 4096
"""Seconds one variant spends per report per antenna-subcarrier pair (learned-transform, no fine-tune)."""


@dataclass(frozen=True)
class RunEstimate:
    """What one run will do (floats: a 1e-300 m/s speed must not make Python build a 300-digit int).

    Attributes:
        num_ues: users.
        num_samples: channel samples of all users.
        num_reports: CSI reports of all users (per variant).
        num_slots: downlink slots (per variant).
        num_table_rows: per-report plus per-slot rows (per variant).
        num_events: slots plus report measurements and deliveries (per variant).
        channel_bytes: memory of the true channels [bytes], complex64.
        channel_s: rough time to compute the channels [s] (once per run, cached afterwards).
        variant_s: rough time of one variant without its fine-tunes [s].
        num_variants: policy variants of the scenario.
    """

    num_ues: int
    num_samples: float
    num_reports: float
    num_slots: float
    num_table_rows: float
    num_events: float
    channel_bytes: float
    channel_s: float
    variant_s: float
    num_variants: int

    @property
    def serial_s(self) -> float:
        """Rough time of the whole run in one process [s] (fine-tunes not included)."""
        return self.channel_s + self.num_variants * self.variant_s

    def summary(self) -> str:
        """One line: users, samples, reports, slots, memory and the rough time."""
        gib = self.channel_bytes / 2**30
        return (f"{self.num_ues} users, {self.num_samples:,.0f} channel samples ({gib:.2f} GiB), "
                f"{self.num_reports:,.0f} reports and {self.num_slots:,.0f} downlink slots per variant; roughly "
                f"{_duration(self.channel_s)} for the channels and {_duration(self.variant_s)} per variant "
                f"x {self.num_variants} variants, plus fine-tunes")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:,.0f} h"


def estimate(scenario: Any, track_lengths_m: Sequence[float]) -> RunEstimate:
    """The size of ``scenario`` when UE ``u`` walks ``track_lengths_m[u]`` metres (the length really used)."""
    ues = scenario.ues
    dims = scenario.system.num_bs_ant * scenario.system.num_subcarriers
    every = max(1, ue_timing.report_every(Ctx(scenario.path), ues))
    spacing = [ue_timing.sample_spacing_m(ues, u) for u in range(len(track_lengths_m))]
    num_samples = [float(np.floor(length / spacing[u] + 1e-9)) + 1.0 for u, length in enumerate(track_lengths_m)]
    num_reports = float(sum(np.ceil(n / every) for n in num_samples))
    t_end = max((u * ue_timing.report_period_s(ues, u) / ues.count if ues.stagger else 0.0)
                + (n - 1) * spacing[u] / ues.speed_of(u) for u, n in enumerate(num_samples))
    num_slots = float(np.floor(t_end / scenario.downlink.slot_period_s + 1e-9))  # slots at k * period <= t_end
    total_samples = float(sum(num_samples))
    num_slot_rows = num_slots * min(ues.count, scenario.downlink.max_served_per_slot or ues.count)
    return RunEstimate(
        num_ues=ues.count, num_samples=total_samples, num_reports=num_reports, num_slots=num_slots,
        num_table_rows=num_reports + num_slot_rows, num_events=num_slots + 2.0 * num_reports,
        channel_bytes=total_samples * dims * np.dtype(np.complex64).itemsize,
        channel_s=total_samples * dims * CHANNEL_S_PER_SAMPLE, variant_s=num_reports * dims * VARIANT_S_PER_REPORT,
        num_variants=len(scenario.policies),
    )


def check(scenario: Any, est: RunEstimate) -> None:
    """Refuse a run that cannot fit, naming the estimate and the keys that change it.

    Raises:
        ConfigError: channels over ``MAX_CHANNEL_BYTES``, events over ``MAX_EVENTS`` or table rows over
            ``MAX_TABLE_ROWS``.
    """
    where = f"{scenario.path}: run size"
    if est.channel_bytes > MAX_CHANNEL_BYTES:
        raise ConfigError(f"{where}: the channels of {est.num_ues} users x {est.num_samples / est.num_ues:,.0f} "
                          f"samples x {scenario.system.num_bs_ant} antennas x {scenario.system.num_subcarriers} "
                          f"subcarriers need {est.channel_bytes / 2**30:,.1f} GiB, more than "
                          f"{MAX_CHANNEL_BYTES / 2**30:.0f} GiB: raise {_measure_key(scenario.ues)}, shorten "
                          f"{_length_key(scenario.ues)} or lower ues.count")
    if est.num_events > MAX_EVENTS or est.num_table_rows > MAX_TABLE_ROWS:
        if est.num_slots >= est.num_reports:
            keys = (f"raise downlink.slot_period_s ({scenario.downlink.slot_period_s:g}) or ues.speed_mps "
                    f"({scenario.ues.speed_mps:g}), or shorten {_length_key(scenario.ues)}")
        else:
            keys = f"raise {_report_key(scenario.ues)}, shorten {_length_key(scenario.ues)} or lower ues.count"
        raise ConfigError(f"{where}: {est.num_slots:,.3g} downlink slots and {est.num_reports:,.3g} reports per "
                          f"variant ({est.num_events:.3g} events, {est.num_table_rows:.3g} table rows) are more "
                          f"than a run can hold ({MAX_EVENTS:.0e} events, {MAX_TABLE_ROWS:.0e} rows): {keys}")


def _measure_key(ues: Any) -> str:
    if ue_timing.is_time_based(ues):
        return f"ues.csi_rs_period_ms ({1e3 * ue_timing.csi_rs_period_s(ues):g})"
    return f"ues.sample_spacing_m ({ues.sample_spacing_m:g})"


def _report_key(ues: Any) -> str:
    if ue_timing.is_time_based(ues):
        return f"ues.report_period_ms ({ues.report_period_ms or ues.csi_rs_period_ms:g})"
    return f"ues.report_spacing_m ({ues.report_spacing_m or ues.sample_spacing_m:g})"


def _length_key(ues: Any) -> str:
    return "ues.track_duration_s" if ues.track_duration_s is not None else "ues.track_length_m"


def polyline_length_m(waypoints_m: np.ndarray) -> float:
    """Length [m] of a polyline of waypoints [num_waypoints, 3]."""
    wp = np.asarray(waypoints_m, dtype=np.float64)
    return float(np.linalg.norm(np.diff(wp, axis=0), axis=1).sum())


def _geometric_tracks(scenario: Any) -> list[np.ndarray] | None:
    """The geometric preset's default routes (UE k walks polyline k mod P), or None for other sources."""
    if scenario.channel.type != "geometric":
        return None
    from simnet.channels.geometric_config import load_preset

    tracks = scenario.channel.get("tracks")  # the preset name was checked by the loader (resolve_system)
    try:
        lines = [np.asarray(t, dtype=np.float64)
                 for t in (tracks if tracks is not None else load_preset(scenario.channel.get("preset"))["tracks"])]
    except (KeyError, TypeError, ValueError):
        return None  # the source's own checks will name the problem when it is built
    if not lines or any(t.ndim != 2 or t.shape[0] < 2 or t.shape[1] != 3 for t in lines):
        return None
    return [lines[k % len(lines)] for k in range(scenario.ues.count)]


def check_tracks(scenario: Any, tracks: Sequence[np.ndarray]) -> RunEstimate:
    """Check ``ues.track_length_m`` against the UEs' routes and the run's size on them.

    Args:
        tracks: per UE, the route [num_waypoints, 3], float64 [m] it walks (``source.tracks``).

    A ``track_length_m`` up to one sample spacing past a route's end walks that route to its end (the 80 m
    street segments of the etoile scene are 79.998 to 80.024 m long); anything longer is an error rather than
    a silent cut to the route, which the manifest would not show.

    Raises:
        ConfigError: ``track_length_m`` longer than a route, or a run too large.
    """
    ues = scenario.ues
    lengths = [polyline_length_m(t) for t in tracks]
    if ues.track_duration_s is not None:
        for u, length in enumerate(lengths):
            wanted = ue_timing.track_length_m(ues, u)
            assert wanted is not None
            if wanted > length + ue_timing.sample_spacing_m(ues, u):
                raise ConfigError(f"{scenario.path}: ues.track_duration_s: UE {u} at {ues.speed_of(u):g} m/s "
                                  f"covers {wanted:g} m in {ues.track_duration_s:g} s, more than its {length:.6g} m "
                                  f"route of channel {scenario.channel.type!r}: give at most "
                                  f"{math.floor(length / ues.speed_of(u) * 1e3) / 1e3:g} s")
        lengths = [min(float(ue_timing.track_length_m(ues, u) or 0.0), length) for u, length in enumerate(lengths)]
    elif ues.track_length_m is not None:
        wanted = ues.track_length_m
        u = int(np.argmin(lengths))
        if wanted > lengths[u] + ue_timing.sample_spacing_m(ues, u):  # less than a sample past the end: the end
            raise ConfigError(f"{scenario.path}: ues.track_length_m: value {wanted:g} is longer than the "
                              f"{lengths[u]:.6g} m route of UE {u} of channel {scenario.channel.type!r}: give at "
                              f"most {math.floor(lengths[u] * 1e3) / 1e3:g}, or leave it out to walk whole routes")
        lengths = [min(wanted, length) for length in lengths]
    est = estimate(scenario, lengths)
    check(scenario, est)
    return est


def check_at_load(scenario: Any) -> RunEstimate | None:
    """``check_tracks`` on what is known at load time: the geometric preset's routes, else ``track_length_m``.

    Returns:
        the estimate, or None when the track lengths are only known once the channel source is built.
    """
    tracks = _geometric_tracks(scenario)
    if tracks is not None:
        return check_tracks(scenario, tracks)
    ues = scenario.ues
    if ues.track_length_m is None and ues.track_duration_s is None:
        return None
    est = estimate(scenario, [float(ue_timing.track_length_m(ues, u) or 0.0) for u in range(ues.count)])
    check(scenario, est)
    return est


def note_cost(scenario: Any) -> None:
    """Print one line to stderr before a large run starts (channels over 1 GiB or over ~5 min serial)."""
    est = check_at_load(scenario)
    if est is not None and (est.serial_s > NOTE_SECONDS or est.channel_bytes > NOTE_BYTES):
        print(f"note: a large run: {est.summary()}", file=sys.stderr, flush=True)
