"""When each UE measures and reports CSI: per metre (the paper's question) or NR-like per CSI-RS period in time.

Two ways to say it, exactly one per scenario:

    distance: ues.sample_spacing_m (a measurement every d metres), ues.report_spacing_m (a multiple of it)
    time:     ues.csi_rs_period_ms (a CSI-RS occasion, measured, every T ms), ues.report_period_ms (a multiple)

In time, UE ``u`` at speed ``v_u`` measures every ``v_u * T`` metres, so users of different speeds take
different numbers of measurements (and reports) per metre; its track samples are still a regular distance
grid, at times ``t0 + k * T``. The policies' ``interval_m`` stays in metres (a fine-tune every N metres
travelled, whatever the speed). Speeds: ``ues.speed_mps`` for every UE, or ``ues.speeds_mps`` (UE ``u`` at
``speeds_mps[u % len]``); track length: ``ues.track_length_m`` for every UE, or ``ues.track_duration_s``
(UE ``u`` covers ``v_u * duration``).
"""

from __future__ import annotations

import math
from typing import Any

from simnet.config.fields import Ctx

DISTANCE_KEYS = ("sample_spacing_m", "report_spacing_m")
TIME_KEYS = ("csi_rs_period_ms", "report_period_ms")
SPEED_RANGE_MPS = (0.01, 100.0)


def check_ue_timing(ctx: Ctx, ues: Any, given: dict[str, Any]) -> None:
    """Check the ``ues`` keys that join: distance or time timing, one speed setting, one track-length setting.

    Args:
        ues: the parsed ``UEConfig``.
        given: the keys the file (with ``quick:`` and ``--set`` merged) really sets in ``ues``.

    Raises:
        ConfigError: both distance and time settings, both ``speed_mps`` and ``speeds_mps``, both
            ``track_length_m`` and ``track_duration_s``, a speed out of range, or a report period (spacing)
            that is not a whole multiple of the measurement period (spacing).
    """
    for one, other, what in ((DISTANCE_KEYS, TIME_KEYS, "report timing"), (("speed_mps",), ("speeds_mps",), "speed"),
                             (("track_length_m",), ("track_duration_s",), "track length")):
        a, b = [k for k in one if k in given], [k for k in other if k in given]
        if a and b:
            raise ctx.error(f"ues.{b[0]}", f"gives the {what} a second time beside ues.{a[0]}: set either "
                                           f"{' / '.join(one)} or {' / '.join(other)}, not both")
    if ues.speeds_mps is not None:
        raw = given.get("speeds_mps")
        for k, v in enumerate(raw if isinstance(raw, list | tuple) else []):
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ctx.error(f"ues.speeds_mps[{k}]", f"must be a number [m/s], got {v!r}")
        if not ues.speeds_mps:
            raise ctx.error("ues.speeds_mps", "is empty: give at least one speed [m/s], e.g. [1.4, 10.0]")
        lo, hi = SPEED_RANGE_MPS
        for k, v in enumerate(ues.speeds_mps):
            if not (math.isfinite(v) and lo <= v <= hi):
                raise ctx.error(f"ues.speeds_mps[{k}]", f"value {v!r} is out of range (allowed: >= {lo:g} and "
                                                        f"<= {hi:g} m/s)")
    report_every(ctx, ues)


def is_time_based(ues: Any) -> bool:
    """True where the scenario gives CSI-RS / report periods in time."""
    return ues.csi_rs_period_ms is not None or ues.report_period_ms is not None


def csi_rs_period_s(ues: Any) -> float:
    """The CSI-RS (measurement) period [s] of a time-based scenario (the report period where only it is given)."""
    return 1e-3 * float(ues.csi_rs_period_ms if ues.csi_rs_period_ms is not None else ues.report_period_ms)


def report_every(ctx: Ctx, ues: Any) -> int:
    """Measurements per report: report period over CSI-RS period, or report spacing over sample spacing.

    Raises:
        ConfigError: the ratio is not a whole number >= 1.
    """
    if is_time_based(ues):
        report_ms = ues.report_period_ms if ues.report_period_ms is not None else ues.csi_rs_period_ms
        ratio, key = report_ms / (1e3 * csi_rs_period_s(ues)), "ues.report_period_ms"
        need, value = f"ues.csi_rs_period_ms = {1e3 * csi_rs_period_s(ues):g}", f"{report_ms:g}"
    else:
        report_m = ues.report_spacing_m or ues.sample_spacing_m
        ratio, key = report_m / ues.sample_spacing_m, "ues.report_spacing_m"
        need, value = f"ues.sample_spacing_m = {ues.sample_spacing_m}", f"{report_m}"
    every = int(round(ratio))
    if every < 1 or abs(ratio - every) > 1e-4 * ratio:
        raise ctx.error(key, f"value {value} must be a whole multiple of {need}")
    return every


def sample_spacing_m(ues: Any, u: int) -> float:
    """Distance between UE ``u``'s measurements [m]."""
    if is_time_based(ues):
        return ues.speed_of(u) * csi_rs_period_s(ues)
    return float(ues.sample_spacing_m)


def report_period_s(ues: Any, u: int) -> float:
    """Time between UE ``u``'s reports [s] (sets the stagger of the UEs' start times)."""
    if is_time_based(ues):
        return csi_rs_period_s(ues) * report_every(Ctx("scenario"), ues)
    return float(ues.report_spacing_m or ues.sample_spacing_m) / ues.speed_of(u)


def track_length_m(ues: Any, u: int) -> float | None:
    """The distance UE ``u`` covers [m], or None (its whole route)."""
    if ues.track_duration_s is not None:
        return ues.speed_of(u) * float(ues.track_duration_s)
    return None if ues.track_length_m is None else float(ues.track_length_m)


__all__ = ["DISTANCE_KEYS", "TIME_KEYS", "check_ue_timing", "csi_rs_period_s", "is_time_based", "report_every",
           "report_period_s", "sample_spacing_m", "track_length_m"]
