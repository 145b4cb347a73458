"""Pieces the fine-tuning policies share: keyword validation, the distance trigger, the window cut."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from policies.base import Observation
from simnet.config.fields import check_kind
from simnet.config.strict_yaml import kind_name, quote
from simnet.errors import ConfigError
from simnet.learning.finetune import FinetuneConfig, FinetuneResult

OPTIM_KEYS = ("steps", "batch_size", "lr", "lambda", "augment_delay_taps", "augment_angle_bins")
"""Optimisation keywords every fine-tuning policy accepts."""
UPDATE_KEYS = ("beta", "regularize", "prior", "num_bins", "t", "alpha", "sigma_slab")
"""Update-coding keywords (and the ablations) of policies that send a decoder update."""
FINETUNE_KINDS = {"steps": "int", "batch_size": "int", "lr": "float", "lambda": "float | None", "beta": "float",
                  "regularize": "bool", "augment_delay_taps": "float", "augment_angle_bins": "float", "prior": "str",
                  "num_bins": "int", "t": "float", "alpha": "float", "sigma_slab": "float"}
"""The type of each fine-tuning keyword (``FinetuneConfig`` and ``UpdateCoding`` check the ranges)."""


def split_kwargs(policy: str, kwargs: Mapping[str, Any], own: tuple[str, ...],
                 finetune_keys: tuple[str, ...],
                 defaults: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], FinetuneConfig]:
    """Split a policy's scenario keywords into its own and a validated ``FinetuneConfig``.

    Raises:
        ConfigError: an unknown keyword (listing the allowed ones) or a value out of range.
    """
    allowed = set(own) | set(finetune_keys)
    for key in kwargs:
        if key not in allowed:
            names = ", ".join(sorted(allowed))
            raise ConfigError(f"policy {policy!r}: unknown keyword {key!r} (allowed: {names})")
    for key, value in kwargs.items():
        problem = check_kind(FINETUNE_KINDS.get(key, "any"), value)
        if problem:  # "4" and true are told as such, not as "out of range"
            raise ConfigError(f"policy {policy!r}: {key}: {problem}")
    try:
        cfg = FinetuneConfig.from_kwargs({k: v for k, v in kwargs.items() if k in finetune_keys},
                                         **(defaults or {}))
    except ConfigError as err:
        raise ConfigError(f"policy {policy!r}: {err}") from None
    return {k: v for k, v in kwargs.items() if k in own}, cfg


def check_number(policy: str, key: str, value: Any, lo: float, hi: float = math.inf, *,
                 integer: bool = False, lo_open: bool = False) -> None:
    """Raise ``ConfigError`` unless ``value`` is a (integer) number in ``[lo, hi]`` (``(lo, hi]`` if open).

    A value of the wrong type (``"4"``, ``true``, ``.inf``) is told so, not reported as out of range.
    """
    what = "an integer" if integer else "a number"
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"policy {policy!r}: {key}: must be {what}, got {kind_name(value)} {quote(value)}")
    if not math.isfinite(value):
        raise ConfigError(f"policy {policy!r}: {key}: must be a finite number, got {value!r}")
    if not ((value > lo if lo_open else value >= lo) and value <= hi):
        left = "(" if lo_open else "["
        raise ConfigError(f"policy {policy!r}: {key}: {value!r} is out of range "
                          f"(allowed: {what.split()[1]} in {left}{lo:g}, {hi:g}])")


def check_flag(policy: str, key: str, value: Any) -> None:
    """Raise ``ConfigError`` unless ``value`` is ``true`` or ``false`` (``"no"`` or ``0`` are not taken)."""
    if not isinstance(value, bool):
        raise ConfigError(f"policy {policy!r}: {key}: must be true or false, got {quote(value)}")


class DistanceTrigger:
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

    def fire(self, distance_m: float, busy: bool) -> bool:
        if busy or distance_m + 1e-9 < self.next_m:
            return False
        self.next_m = (math.floor(distance_m / self.interval_m + 1e-9) + 1) * self.interval_m
        return True


def cut_window(h_window: np.ndarray, window_size: int | None) -> np.ndarray:
    """The last ``window_size`` samples of ``h_window`` ([N, A, S] complex64), or all of them."""
    return h_window if window_size is None else h_window[-window_size:]


def info(result: FinetuneResult) -> dict[str, float]:
    """The numbers a policy reports in ``UpdateResult.info``."""
    return result.info()


class EveryInterval:
    """Base of the policies that fine-tune every ``interval_m`` metres travelled.

    Subclasses set ``name``, ``delivery``, ``default_interval_m``, ``finetune_keys`` (and optionally
    ``finetune_defaults`` and ``own_keys``) and implement ``update`` and ``apply_update``.

    Args:
        interval_m: distance between fine-tunes [m], > 0 (None: the policy's default).
        window_size: most recent samples used (None: all since the last fine-tune).
        **finetune: the policy's fine-tuning keywords (``finetune_keys``) and its own (``own_keys``).
    """

    name: ClassVar[str] = "every-interval"
    default_interval_m: float = 10.0
    finetune_keys: tuple[str, ...] = OPTIM_KEYS
    finetune_defaults: Mapping[str, Any] | None = None
    own_keys: tuple[str, ...] = ()

    def __init__(self, interval_m: float | None = None, window_size: int | None = None, **finetune: Any) -> None:
        interval_m = self.default_interval_m if interval_m is None else interval_m
        check_number(self.name, "interval_m", interval_m, 0.0, lo_open=True)
        if window_size is not None:
            check_number(self.name, "window_size", window_size, 1, integer=True)
        self.own, self.cfg = split_kwargs(self.name, finetune, self.own_keys, self.finetune_keys,
                                          self.finetune_defaults)
        self.interval_m = float(interval_m)
        self.window_size = window_size
        self.trigger = DistanceTrigger(interval_m)

    def reset(self, rng: np.random.Generator) -> None:
        del rng
        self.trigger.reset()

    def should_update(self, obs: Observation) -> bool:
        return self.trigger.fire(obs.distance_m, obs.busy)

    def window(self, h_window: np.ndarray) -> np.ndarray:
        return cut_window(h_window, self.window_size)
