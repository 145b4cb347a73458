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

Optional gate, "update only if it pays" (``check_fraction`` set): the fine-tune becomes the gated procedure
of ``simnet/learning/gated.py`` (part of the window held out; sent only if the objective on it, with the
update's real bits spread over ``payback_reports`` reports, improves). A declined update sends nothing, the UE
keeps its model, and the reference is recorded afresh from the reports that follow (as after an update), so
the policy does not fire again at once.

Optional probing (``probe_m`` set; needs the gate): a drift statistic cannot see a codec that is uniformly
bad from the start (its reference is taken at the bad level) nor one that further training would keep
improving, so the UE also tries a gated fine-tune whenever ``probe_m`` metres have passed since its last
attempt, and adapts that distance to what the gate says: a sent update halves it (down to ``probe_min_m``),
a declined one doubles it (up to ``probe_max_m``); a drift firing counts as an attempt as well.

Optional shadow model (``shadow`` true; needs the gate): a declined fine-tune is kept and the next attempt
trains it further; what the gate weighs is all the change since the last sent update, in one payload.

As parts (``composed.py``): when = FirstOf(Probing, DriftStatistic) (or DriftStatistic alone), how = Gated
or FullModel, delivery = CodedUplink. The held-out variants are named presets (``policies/presets.yaml``):
``drift-gate``, ``drift-probe``, ``drift-shadow`` (= drift trigger + 2 m probing + gated shadow fine-tune +
coded delivery).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from policies.base import Delivery, register_policy
from policies.common import OPTIM_KEYS, UPDATE_KEYS, check_flag, check_number, split_kwargs
from policies.composed import ComposedPolicy
from policies.delivery import CodedUplink
from policies.how import FullModel, Gated, Procedure
from policies.when import STATISTICS, DriftStatistic, DriftStatisticConfig, FirstOf, ProbeConfig, Probing, Trigger
from simnet.config.strict_yaml import quote
from simnet.errors import ConfigError
from simnet.learning.finetune import FinetuneConfig
from simnet.learning.gated import GateConfig

DRIFT_KEYS = ("threshold_db", "hysteresis_db", "min_spacing_m", "statistic", "num_average", "num_reference")
GATE_KEYS = ("check_fraction", "min_check_samples", "payback_reports", "shadow")
PROBE_KEYS = ("probe_m", "probe_min_m", "probe_max_m")


@dataclass(frozen=True)
class DriftConfig:
    """The validated config of the ``drift`` policy.

    Attributes:
        statistic: the drift trigger's settings.
        window_size: most recent samples used (None: all since the last update).
        finetune: the full-model fine-tune's settings.
        gate: the gate (None: every fine-tune is sent).
        probe: adaptive probing (None: none; needs the gate).
    """

    statistic: DriftStatisticConfig
    window_size: int | None
    finetune: FinetuneConfig
    gate: GateConfig | None = None
    probe: ProbeConfig | None = None

    def learning_interval_m(self) -> float:
        """The fixed probing distance [m] where probing has one (min == max), else NaN (the channel decides)."""
        if self.probe is not None and self.probe.min_m == self.probe.max_m:
            return self.probe.probe_m
        return math.nan


def parse_drift(kwargs: Mapping[str, Any]) -> DriftConfig:
    """Validate the ``drift`` keywords (defaults as in the module docstring) into a ``DriftConfig``."""
    kw: dict[str, Any] = {
        "threshold_db": 1.0, "hysteresis_db": 0.5, "min_spacing_m": 4.0, "statistic": "nmse", "num_average": 5,
        "num_reference": 5, "window_size": None, "check_fraction": None, "min_check_samples": 10,
        "payback_reports": 100, "probe_m": None, "probe_min_m": 2.0, "probe_max_m": 64.0, "shadow": False}
    own = tuple(kw)
    given, finetune = split_kwargs("drift", kwargs, own, OPTIM_KEYS + UPDATE_KEYS)
    kw.update(given)
    check_number("drift", "threshold_db", kw["threshold_db"], 0.0, 100.0, lo_open=True)
    check_number("drift", "hysteresis_db", kw["hysteresis_db"], 0.0, 100.0)
    if kw["hysteresis_db"] >= kw["threshold_db"]:
        raise ConfigError(f"policy 'drift': hysteresis_db: {kw['hysteresis_db']!r} must be below "
                          f"threshold_db ({kw['threshold_db']!r})")
    check_number("drift", "min_spacing_m", kw["min_spacing_m"], 0.0)
    if not isinstance(kw["statistic"], str) or kw["statistic"] not in STATISTICS:
        raise ConfigError(f"policy 'drift': statistic: {quote(kw['statistic'])} is not allowed "
                          f"(allowed: {', '.join(STATISTICS)})")
    check_number("drift", "num_average", kw["num_average"], 1, 10_000, integer=True)
    check_number("drift", "num_reference", kw["num_reference"], 1, 10_000, integer=True)
    if kw["window_size"] is not None:
        check_number("drift", "window_size", kw["window_size"], 1, integer=True)
    fraction = kw["check_fraction"]
    if fraction is not None:
        check_number("drift", "check_fraction", fraction, 0.0, 1.0, lo_open=True)
        if fraction >= 1.0:
            raise ConfigError(f"policy 'drift': check_fraction: {fraction!r} is out of range "
                              "(allowed: number in (0, 1), or null for no gate)")
    check_number("drift", "min_check_samples", kw["min_check_samples"], 1, 100_000, integer=True)
    check_number("drift", "payback_reports", kw["payback_reports"], 1, 10**9, integer=True)
    probe = None
    if kw["probe_m"] is not None:
        if fraction is None:
            raise ConfigError("policy 'drift': probe_m needs the gate: set check_fraction as well (e.g. 0.2)")
        check_number("drift", "probe_min_m", kw["probe_min_m"], 0.0, lo_open=True)
        check_number("drift", "probe_m", kw["probe_m"], kw["probe_min_m"])
        check_number("drift", "probe_max_m", kw["probe_max_m"], kw["probe_m"])
        probe = ProbeConfig(kw["probe_m"], float(kw["probe_min_m"]), float(kw["probe_max_m"]))
    check_flag("drift", "shadow", kw["shadow"])
    if kw["shadow"] and fraction is None:
        raise ConfigError("policy 'drift': shadow needs the gate: set check_fraction as well (e.g. 0.2)")
    gate = None if fraction is None else GateConfig(fraction, kw["min_check_samples"], kw["payback_reports"],
                                                    bool(kw["shadow"]))
    statistic = DriftStatisticConfig(float(kw["threshold_db"]), float(kw["hysteresis_db"]),
                                     float(kw["min_spacing_m"]), kw["statistic"], kw["num_average"],
                                     kw["num_reference"])
    return DriftConfig(statistic, kw["window_size"], finetune, gate, probe)


@register_policy("drift")
class Drift(ComposedPolicy):
    """Drift-triggered full-model fine-tuning with coded updates on the uplink.

    Keywords: threshold_db (> 0, default 1.0), hysteresis_db ([0, threshold_db), 0.5), min_spacing_m (>= 0,
    4.0), statistic (nmse, rate or both), num_average (>= 1, 5), num_reference (>= 1, 5), window_size;
    the gate: check_fraction ((0, 1), None: no gate), min_check_samples (>= 1, 10), payback_reports (>= 1,
    100), shadow (false); probing (needs the gate): probe_m, probe_min_m (2), probe_max_m (64),
    0 < min <= probe_m <= max; and steps, batch_size, lr, lambda, beta, regularize, prior, num_bins, t,
    alpha, sigma_slab.
    """

    name: ClassVar[str] = "drift"
    delivery: ClassVar[Delivery] = "uplink"
    config_type: ClassVar[type] = DriftConfig

    @classmethod
    def parse(cls, kwargs: Mapping[str, Any]) -> DriftConfig:
        return parse_drift(kwargs)

    def compose(self, config: DriftConfig) -> tuple[Trigger, Procedure, CodedUplink, int | None]:
        self.statistic = DriftStatistic(config.statistic)
        when: Trigger = self.statistic if config.probe is None else FirstOf(Probing(config.probe), self.statistic)
        how: Procedure = FullModel(config.finetune) if config.gate is None else Gated(config.gate, config.finetune)
        return when, how, CodedUplink(self.name), config.window_size

    def drift_db(self) -> float | None:
        """The current drift statistic [dB], None until a reference and a full average exist."""
        return self.statistic.drift_db()
