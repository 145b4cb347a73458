"""*When* to fine-tune: triggers a policy combines (every N metres, a drift statistic, adaptive probing).

A trigger sees every report of its UE and says whether a fine-tune should start now:

    observe(obs)          every report, busy or not (bookkeeping only)
    fire(obs) -> bool     only at reports where the UE is free
    after_update(result)  once per fine-tune, with what it produced (sent or declined)

``FirstOf(a, b, ...)`` asks its parts in order and stops at the first that fires; the others are told of the
attempt (``note_attempt``), so a drift firing also restarts the probing distance.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from policies.base import Observation, UpdateResult

STATISTICS = ("nmse", "rate", "both")
"""Drift statistics: NMSE rise [dB], latent-rate rise [dB], or the larger of both."""


class Trigger(Protocol):
    """When a policy fine-tunes (one object per UE)."""

    def reset(self) -> None: ...

    def observe(self, obs: Observation) -> None: ...

    def fire(self, obs: Observation) -> bool: ...

    def note_attempt(self, distance_m: float) -> None: ...

    def after_update(self, result: UpdateResult) -> None: ...

    def cadence_m(self) -> float:
        """The distance between fine-tunes this trigger aims at [m] (NaN where it follows the channel)."""
        ...


class EveryDistance:
    """Fires once each time the travelled distance crosses the next multiple of ``interval_m``.

    Reports while the UE is busy do not fire and do not consume a crossing: the update starts at the first
    report after the UE is free. On a straight track observed every 0.5 m from 0 to D (not busy), it fires
    exactly ``floor(D / interval_m)`` times.
    """

    def __init__(self, interval_m: float) -> None:
        self.interval_m = float(interval_m)
        self.next_m = self.interval_m

    def reset(self) -> None:
        self.next_m = self.interval_m

    def observe(self, obs: Observation) -> None:
        del obs

    def fire(self, obs: Observation) -> bool:
        if obs.busy or obs.distance_m + 1e-9 < self.next_m:
            return False
        self.next_m = (math.floor(obs.distance_m / self.interval_m + 1e-9) + 1) * self.interval_m
        return True

    def note_attempt(self, distance_m: float) -> None:
        del distance_m

    def after_update(self, result: UpdateResult) -> None:
        del result

    def cadence_m(self) -> float:
        return self.interval_m


@dataclass(frozen=True)
class DriftStatisticConfig:
    """Settings of the drift statistic (validated by the ``drift`` policy's config).

    Attributes:
        threshold_db: drift that triggers a fine-tune [dB], > 0.
        hysteresis_db: re-arm margin below the threshold [dB], in [0, threshold_db).
        min_spacing_m: least distance between fine-tunes [m], >= 0.
        statistic: one of ``STATISTICS``.
        num_average: reports in the moving average, >= 1.
        num_reference: reports averaged into the reference after each model switch, >= 1.
    """

    threshold_db: float = 1.0
    hysteresis_db: float = 0.5
    min_spacing_m: float = 4.0
    statistic: str = "nmse"
    num_average: int = 5
    num_reference: int = 5


class DriftStatistic:
    """Fires when the UE sees its own codec drift from a reference, with hysteresis (see ``policies/drift.py``).

    After each model switch, after a declined update and at the start it records a reference (the mean of the
    next ``num_reference`` reports), then watches the mean of the last ``num_average`` reports.
    """

    def __init__(self, cfg: DriftStatisticConfig) -> None:
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self._recent: deque[tuple[float, float]] = deque(maxlen=self.cfg.num_average)
        self._ref_samples: list[tuple[float, float]] = []
        self._ref: tuple[float, float] | None = None
        self._armed = True
        self._was_busy = False
        self._declined = False
        self._last_m = -math.inf

    def drift_db(self) -> float | None:
        """The current drift statistic [dB], None until a reference and a full average exist."""
        if self._ref is None or len(self._recent) < self.cfg.num_average:
            return None
        nmse_db = float(np.mean([r[0] for r in self._recent])) - self._ref[0]
        bits = float(np.mean([r[1] for r in self._recent]))
        rate_db = 10.0 * math.log10(max(bits, 1.0) / max(self._ref[1], 1.0))
        return {"nmse": nmse_db, "rate": rate_db, "both": max(nmse_db, rate_db)}[self.cfg.statistic]

    def observe(self, obs: Observation) -> None:
        if (self._was_busy or self._declined) and not obs.busy:
            # the new model (or, after a declined update, the kept one) is in use: record a fresh reference
            self._declined = False
            self._ref, self._ref_samples, self._recent = None, [], deque(maxlen=self.cfg.num_average)
            self._armed = True
        self._was_busy = obs.busy

    def fire(self, obs: Observation) -> bool:
        sample = (float(obs.nmse_db), float(obs.latent_bits))
        if self._ref is None:
            self._ref_samples.append(sample)
            if len(self._ref_samples) >= self.cfg.num_reference:
                self._ref = (float(np.mean([s[0] for s in self._ref_samples])),
                             float(np.mean([s[1] for s in self._ref_samples])))
            return False
        self._recent.append(sample)
        drift = self.drift_db()
        if drift is None:
            return False
        if not self._armed:
            self._armed = drift < self.cfg.threshold_db - self.cfg.hysteresis_db
            return False
        if drift >= self.cfg.threshold_db and obs.distance_m - self._last_m >= self.cfg.min_spacing_m:
            self._armed = False
            self._last_m = obs.distance_m
            return True
        return False

    def note_attempt(self, distance_m: float) -> None:
        del distance_m  # a probe does not count against min_spacing_m

    def after_update(self, result: UpdateResult) -> None:
        self._declined = result.declined  # a decline makes the current level the reference

    def cadence_m(self) -> float:
        return math.nan


@dataclass(frozen=True)
class ProbeConfig:
    """Settings of adaptive probing [m]: first distance, bounds ``0 < min_m <= probe_m <= max_m``."""

    probe_m: float
    min_m: float = 2.0
    max_m: float = 64.0


class Probing:
    """Fires when ``probe_m`` metres have passed since the last attempt; the gate's answer adapts the distance.

    A sent update halves the distance (down to ``min_m``), a declined one doubles it (up to ``max_m``); the
    current distance is reported as ``info["probe_m"]``. With ``min_m == max_m`` it is a fixed learning
    cadence.
    """

    def __init__(self, cfg: ProbeConfig) -> None:
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self._last_attempt_m = 0.0
        self.probe_m = self.cfg.probe_m

    def observe(self, obs: Observation) -> None:
        del obs

    def fire(self, obs: Observation) -> bool:
        if obs.distance_m - self._last_attempt_m >= self.probe_m:
            self._last_attempt_m = obs.distance_m
            return True
        return False

    def note_attempt(self, distance_m: float) -> None:
        self._last_attempt_m = distance_m

    def after_update(self, result: UpdateResult) -> None:
        scaled = self.probe_m * (2.0 if result.declined else 0.5)
        self.probe_m = min(self.cfg.max_m, max(self.cfg.min_m, scaled))
        result.info["probe_m"] = self.probe_m

    def cadence_m(self) -> float:
        return self.cfg.probe_m if self.cfg.min_m == self.cfg.max_m else math.nan


class FirstOf:
    """The first of ``parts`` that fires (in order) starts the fine-tune; never while the UE is busy."""

    def __init__(self, *parts: Trigger) -> None:
        self.parts = parts

    def reset(self) -> None:
        for part in self.parts:
            part.reset()

    def observe(self, obs: Observation) -> None:
        for part in self.parts:
            part.observe(obs)

    def fire(self, obs: Observation) -> bool:
        if obs.busy:
            return False
        for part in self.parts:
            if part.fire(obs):
                for other in self.parts:
                    if other is not part:
                        other.note_attempt(obs.distance_m)
                return True
        return False

    def note_attempt(self, distance_m: float) -> None:
        for part in self.parts:
            part.note_attempt(distance_m)

    def after_update(self, result: UpdateResult) -> None:
        for part in self.parts:
            part.after_update(result)

    def cadence_m(self) -> float:
        """The shortest fixed cadence among the parts (NaN if none has one)."""
        fixed = [c for c in (p.cadence_m() for p in self.parts) if math.isfinite(c)]
        return min(fixed) if fixed else math.nan
