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

Optional gate, "update only if it pays" (``check_fraction`` set): the most recent part of the window is held
out of the fine-tune and both codecs are scored on it by the fine-tuning objective (eval mode):

    window [N] = train [N - num_check] | check [num_check],  num_check = max(min_check_samples,
                                                                             ceil(check_fraction * N))
    J_old = lambda * D_old + R_old                                           on check
    J_new = lambda * D_new + R_new + update_bits / (payback_reports * 2 A S)  on check

and the update is sent only if ``J_new < J_old``; otherwise it is declined (``UpdateResult.declined``): nothing
is sent, the UE keeps its model, and the reference is recorded afresh from the reports that follow (as after
an update), so the policy does not fire again at once. A window of at most ``num_check`` samples is declined
without fine-tuning.

Optional probing (``probe_m`` set; needs the gate): a drift statistic cannot see a codec that is uniformly
bad from the start (its reference is taken at the bad level) nor one that further training would keep
improving, so the UE also tries a gated fine-tune whenever ``probe_m`` metres have passed since its last
attempt, and adapts that distance to what the gate says: a sent update halves it (down to ``probe_min_m``),
a declined one doubles it (up to ``probe_max_m``). Where updates keep paying the UE ends up fine-tuning
often, where none pays it ends up probing rarely, and it is never told which; a drift firing counts as an
attempt as well.

Optional shadow model (``shadow`` true; needs the gate): learning and sending are decoupled. A declined
fine-tune is not thrown away: the UE keeps it as its shadow model and the next attempt fine-tunes the shadow
further, so small improvements add up the way they do under a short fixed interval. What the gate weighs is
the shadow coded against the model the BS holds (``updates.encode_update``: all the change since the last
sent update, in one payload, with its real bits); when that pays, it is sent and the UE switches to it.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from typing import Any, ClassVar

import numpy as np

from policies.base import Delivery, Observation, UpdateResult, register_policy
from policies.common import OPTIM_KEYS, UPDATE_KEYS, check_flag, check_number, cut_window, split_kwargs
from simnet.coding import updates
from simnet.config.strict_yaml import quote
from simnet.errors import ConfigError
from simnet.learning.finetune import full_model, objective

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
        check_fraction: share of the window held out to check the update, in (0, 1) (None: no gate, every
            fine-tune is sent).
        min_check_samples: least number of held-out samples of the gate, >= 1.
        payback_reports: reports over which the gate spreads the update's real coded bits, >= 1.
        probe_m: first probing distance [m] (None: no probing); needs ``check_fraction``.
        probe_min_m, probe_max_m: bounds of the probing distance [m], 0 < min <= probe_m <= max.
        shadow: keep declined fine-tunes as a shadow model that later attempts train further; needs
            ``check_fraction``.
        **finetune: steps, batch_size, lr, lambda, beta, regularize, prior, num_bins, t, alpha, sigma_slab.
    """

    name: ClassVar[str] = "drift"
    delivery: ClassVar[Delivery] = "uplink"

    def __init__(self, threshold_db: float = 1.0, hysteresis_db: float = 0.5, min_spacing_m: float = 4.0,
                 statistic: str = "nmse", num_average: int = 5, num_reference: int = 5,
                 window_size: int | None = None, check_fraction: float | None = None, min_check_samples: int = 10,
                 payback_reports: int = 100, probe_m: float | None = None, probe_min_m: float = 2.0,
                 probe_max_m: float = 64.0, shadow: bool = False, **finetune: Any) -> None:
        check_number(self.name, "threshold_db", threshold_db, 0.0, 100.0, lo_open=True)
        check_number(self.name, "hysteresis_db", hysteresis_db, 0.0, 100.0)
        if hysteresis_db >= threshold_db:
            raise ConfigError(f"policy 'drift': hysteresis_db: {hysteresis_db!r} must be below "
                              f"threshold_db ({threshold_db!r})")
        check_number(self.name, "min_spacing_m", min_spacing_m, 0.0)
        if not isinstance(statistic, str) or statistic not in STATISTICS:
            raise ConfigError(f"policy 'drift': statistic: {quote(statistic)} is not allowed "
                              f"(allowed: {', '.join(STATISTICS)})")
        check_number(self.name, "num_average", num_average, 1, 10_000, integer=True)
        check_number(self.name, "num_reference", num_reference, 1, 10_000, integer=True)
        if window_size is not None:
            check_number(self.name, "window_size", window_size, 1, integer=True)
        if check_fraction is not None:
            check_number(self.name, "check_fraction", check_fraction, 0.0, 1.0, lo_open=True)
            if check_fraction >= 1.0:
                raise ConfigError(f"policy 'drift': check_fraction: {check_fraction!r} is out of range "
                                  "(allowed: number in (0, 1), or null for no gate)")
        check_number(self.name, "min_check_samples", min_check_samples, 1, 100_000, integer=True)
        check_number(self.name, "payback_reports", payback_reports, 1, 10**9, integer=True)
        if probe_m is not None:
            if check_fraction is None:
                raise ConfigError("policy 'drift': probe_m needs the gate: set check_fraction as well (e.g. 0.2)")
            check_number(self.name, "probe_min_m", probe_min_m, 0.0, lo_open=True)
            check_number(self.name, "probe_m", probe_m, probe_min_m)
            check_number(self.name, "probe_max_m", probe_max_m, probe_m)
        check_flag(self.name, "shadow", shadow)
        if shadow and check_fraction is None:
            raise ConfigError("policy 'drift': shadow needs the gate: set check_fraction as well (e.g. 0.2)")
        self.probe_m, self.probe_min_m, self.probe_max_m = probe_m, float(probe_min_m), float(probe_max_m)
        self.shadow = bool(shadow)
        self.check_fraction, self.min_check_samples = check_fraction, min_check_samples
        self.payback_reports = payback_reports
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
        self._declined = False
        self._last_m = -math.inf
        self._last_attempt_m = 0.0
        self._probe = self.probe_m
        self._shadow: Any = None  # the declined fine-tunes so far, trained on (with ``shadow``)

    def drift_db(self) -> float | None:
        """The current drift statistic [dB], None until a reference and a full average exist."""
        if self._ref is None or len(self._recent) < self.num_average:
            return None
        nmse_db = float(np.mean([r[0] for r in self._recent])) - self._ref[0]
        bits = float(np.mean([r[1] for r in self._recent]))
        rate_db = 10.0 * math.log10(max(bits, 1.0) / max(self._ref[1], 1.0))
        return {"nmse": nmse_db, "rate": rate_db, "both": max(nmse_db, rate_db)}[self.statistic]

    def should_update(self, obs: Observation) -> bool:
        if (self._was_busy or self._declined) and not obs.busy:
            # the new model (or, after a declined update, the kept one) is in use: record a fresh reference
            self._declined = False
            self._ref, self._ref_samples, self._recent = None, [], deque(maxlen=self.num_average)
            self._armed = True
        self._was_busy = obs.busy
        if obs.busy:
            return False
        if self._probe is not None and obs.distance_m - self._last_attempt_m >= self._probe:
            self._last_attempt_m = obs.distance_m
            return True
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
            self._last_m = self._last_attempt_m = obs.distance_m
            return True
        return False

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        window = cut_window(h_window, self.window_size)
        if self.check_fraction is None:
            res = full_model(codec, window, rng, self.cfg)
            return UpdateResult(res.codec, res.payload, res.num_steps, res.info())
        num_check = max(self.min_check_samples, math.ceil(self.check_fraction * len(window)))
        if len(window) <= num_check:
            return self._decide(UpdateResult(codec, None, 0, {"gate_num_check": float(len(window))}, declined=True))
        res = full_model(codec if self._shadow is None else self._shadow, window[:-num_check], rng, self.cfg)
        candidate, payload, bits, info = res.codec, res.payload, res.bits, res.info()
        if self._shadow is not None:  # send all the change since the BS's model: code it against that
            candidate = copy.deepcopy(res.codec)
            enc = updates.encode_update(candidate, codec, self.cfg.coding)
            payload, bits = enc.payload, enc.bits
            info.update(num_nonzero=float(enc.num_nonzero), estimated_update_bits=enc.estimated_bits)
        check = window[-num_check:]
        dims = 2 * check.shape[1] * check.shape[2]
        j_old = objective(codec, check, self.cfg)["loss"]
        j_new = objective(candidate, check, self.cfg)["loss"] + bits / (self.payback_reports * dims)
        info.update(gate_num_check=float(num_check), gate_j_old=j_old, gate_j_new=j_new, gate_update_bits=float(bits),
                    gate_from_shadow=float(self._shadow is not None))
        if j_new < j_old:
            self._shadow = None
            return self._decide(UpdateResult(candidate, payload, res.num_steps, info))
        if self.shadow:
            self._shadow = res.codec
        return self._decide(UpdateResult(codec, None, res.num_steps, info, declined=True))

    def _decide(self, result: UpdateResult) -> UpdateResult:
        """Record the gate's decision: a decline makes the current level the reference; with probing, a sent
        update halves the probing distance and a declined one doubles it."""
        self._declined = result.declined
        if self._probe is not None:
            scaled = self._probe * (2.0 if result.declined else 0.5)
            self._probe = min(self.probe_max_m, max(self.probe_min_m, scaled))
            result.info["probe_m"] = self._probe
        return result

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        del ue_codec
        if payload is None:
            raise ValueError("the 'drift' policy needs the update payload")
        return updates.apply_update(bs_codec, payload)
