"""``drift``: full-model fine-tune when the UE sees its own codec drift from a reference, with hysteresis.

The UE holds the decoder too, so it knows the NMSE of every report it sends and its latent bits. After
each switch to a new model (and at the start) it records a reference: the mean of the next
``num_reference`` reports. It then watches the mean of the last ``num_average`` reports:

    drift_db = mean nmse_db - ref nmse_db                      (statistic "nmse")
    drift_db = 10 log10(mean latent bits / ref latent bits)     (statistic "rate")
    drift_db = max of both                                      (statistic "both")

and fires when ``drift_db >= threshold_db``, at least ``min_spacing_m`` after the last fine-tune started,
and only when armed: a firing disarms it until ``drift_db`` has fallen below
``threshold_db - hysteresis_db`` (a fresh reference after an update re-arms it as well).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, ClassVar

import numpy as np

from policies.base import Delivery, Observation, UpdateResult, register_policy
from policies.common import OPTIM_KEYS, UPDATE_KEYS, check_number, cut_window, split_kwargs
from simnet import updates
from simnet.errors import ConfigError
from simnet.finetune import full_model

STATISTICS = ("nmse", "rate", "both")


@register_policy("drift")
class Drift:
    """Drift-triggered full-model fine-tuning with coded updates on the uplink.

    Args:
        threshold_db: drift that triggers a fine-tune [dB], > 0.
        hysteresis_db: re-arm margin below the threshold [dB], in [0, threshold_db).
        min_spacing_m: least distance between fine-tunes [m], >= 0.
        statistic: "nmse", "rate" or "both".
        num_average: reports in the moving average, >= 1.
        num_reference: reports averaged into the reference after each model switch, >= 1.
        window_size: most recent samples used (None: all since the last update).
        **finetune: steps, batch_size, lr, lambda, beta, regularize, prior, num_bins, t, alpha, sigma_slab.
    """

    name: ClassVar[str] = "drift"
    delivery: ClassVar[Delivery] = "uplink"

    def __init__(self, threshold_db: float = 1.0, hysteresis_db: float = 0.5, min_spacing_m: float = 4.0,
                 statistic: str = "nmse", num_average: int = 5, num_reference: int = 5,
                 window_size: int | None = None, **finetune: Any) -> None:
        check_number(self.name, "threshold_db", threshold_db, 0.0, 100.0, lo_open=True)
        check_number(self.name, "hysteresis_db", hysteresis_db, 0.0, 100.0)
        if hysteresis_db >= threshold_db:
            raise ConfigError(f"policy 'drift': hysteresis_db: {hysteresis_db!r} must be below "
                              f"threshold_db ({threshold_db!r})")
        check_number(self.name, "min_spacing_m", min_spacing_m, 0.0)
        if statistic not in STATISTICS:
            raise ConfigError(f"policy 'drift': statistic: {statistic!r} is not allowed "
                              f"(allowed: {', '.join(STATISTICS)})")
        check_number(self.name, "num_average", num_average, 1, 10_000, integer=True)
        check_number(self.name, "num_reference", num_reference, 1, 10_000, integer=True)
        if window_size is not None:
            check_number(self.name, "window_size", window_size, 1, integer=True)
        _, self.cfg = split_kwargs(self.name, finetune, (), OPTIM_KEYS + UPDATE_KEYS)
        self.threshold_db, self.hysteresis_db = float(threshold_db), float(hysteresis_db)
        self.min_spacing_m, self.statistic = float(min_spacing_m), statistic
        self.num_average, self.num_reference = num_average, num_reference
        self.window_size = window_size
        self.reset(np.random.default_rng(0))

    def reset(self, rng: np.random.Generator) -> None:
        del rng
        self._recent: deque[tuple[float, float]] = deque(maxlen=self.num_average)
        self._ref_samples: list[tuple[float, float]] = []
        self._ref: tuple[float, float] | None = None
        self._armed = True
        self._was_busy = False
        self._last_m = -math.inf

    def drift_db(self) -> float | None:
        """The current drift statistic [dB], None until a reference and a full average exist."""
        if self._ref is None or len(self._recent) < self.num_average:
            return None
        nmse_db = float(np.mean([r[0] for r in self._recent])) - self._ref[0]
        bits = float(np.mean([r[1] for r in self._recent]))
        rate_db = 10.0 * math.log10(max(bits, 1.0) / max(self._ref[1], 1.0))
        return {"nmse": nmse_db, "rate": rate_db, "both": max(nmse_db, rate_db)}[self.statistic]

    def should_update(self, obs: Observation) -> bool:
        if self._was_busy and not obs.busy:
            # the new model is in use from this report on: record a fresh reference
            self._ref, self._ref_samples, self._recent = None, [], deque(maxlen=self.num_average)
            self._armed = True
        self._was_busy = obs.busy
        if obs.busy:
            return False
        sample = (float(obs.nmse_db), float(obs.latent_bits))
        if self._ref is None:
            self._ref_samples.append(sample)
            if len(self._ref_samples) >= self.num_reference:
                self._ref = (float(np.mean([s[0] for s in self._ref_samples])),
                             float(np.mean([s[1] for s in self._ref_samples])))
            return False
        self._recent.append(sample)
        drift = self.drift_db()
        if drift is None:
            return False
        if not self._armed:
            self._armed = drift < self.threshold_db - self.hysteresis_db
            return False
        if drift >= self.threshold_db and obs.distance_m - self._last_m >= self.min_spacing_m:
            self._armed = False
            self._last_m = obs.distance_m
            return True
        return False

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        res = full_model(codec, cut_window(h_window, self.window_size), rng, self.cfg)
        return UpdateResult(res.codec, res.payload, res.num_steps, res.info())

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        del ue_codec
        if payload is None:
            raise ValueError("the 'drift' policy needs the update payload")
        return updates.apply_update(bs_codec, payload)
