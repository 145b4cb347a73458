"""Base of the policies that fine-tune every ``interval_m`` metres travelled, and their config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from policies.common import OPTIM_KEYS, check_number, split_kwargs
from policies.composed import ComposedPolicy
from simnet.learning.finetune import FinetuneConfig


@dataclass(frozen=True)
class IntervalConfig:
    """The validated config of an every-``interval_m`` policy.

    Attributes:
        interval_m: distance between fine-tunes [m], > 0.
        window_size: most recent samples used (None: all since the last fine-tune).
        finetune: optimisation (and update-coding) settings.
    """

    interval_m: float
    window_size: int | None
    finetune: FinetuneConfig

    def learning_interval_m(self) -> float:
        """The distance between fine-tunes [m]."""
        return self.interval_m


class IntervalPolicy(ComposedPolicy):
    """An ``EveryDistance`` trigger with the subclass's procedure and delivery.

    Subclasses set ``name``, ``delivery``, ``default_interval_m``, ``finetune_keys`` (and optionally
    ``finetune_defaults`` and ``own_keys``, then override ``parse``) and implement ``compose``.
    Keywords: interval_m (None: the policy's default), window_size, the ``finetune_keys``.
    """

    config_type: ClassVar[type] = IntervalConfig
    default_interval_m: ClassVar[float] = 10.0
    finetune_keys: ClassVar[tuple[str, ...]] = OPTIM_KEYS
    finetune_defaults: ClassVar[Mapping[str, Any] | None] = None
    own_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def parse(cls, kwargs: Mapping[str, Any]) -> IntervalConfig:
        return IntervalConfig(**cls.parse_common(kwargs)[0])

    @classmethod
    def parse_common(cls, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(IntervalConfig fields, the subclass's own keywords), validated."""
        kwargs = dict(kwargs)
        interval_m = kwargs.pop("interval_m", None)
        window_size = kwargs.pop("window_size", None)
        interval_m = cls.default_interval_m if interval_m is None else interval_m
        check_number(cls.name, "interval_m", interval_m, 0.0, lo_open=True)
        if window_size is not None:
            check_number(cls.name, "window_size", window_size, 1, integer=True)
        own, cfg = split_kwargs(cls.name, kwargs, cls.own_keys, cls.finetune_keys, cls.finetune_defaults)
        return {"interval_m": float(interval_m), "window_size": window_size, "finetune": cfg}, own
