"""``never``: the pretrained codec is used unchanged for the whole run (the "No FT" baseline)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from policies.base import Delivery, Observation, UpdateResult, register_policy
from simnet.errors import ConfigError


@dataclass(frozen=True)
class NeverConfig:
    """``never`` takes no keywords."""

    def learning_interval_m(self) -> float:
        """Never learns: an infinite interval."""
        return math.inf


@register_policy("never")
class Never:
    """Never fine-tunes; sends no model update."""

    name: ClassVar[str] = "never"
    delivery: ClassVar[Delivery] = "local"
    config_type: ClassVar[type] = NeverConfig

    def __init__(self, config: NeverConfig | None = None, /, **kwargs: Any) -> None:
        self.config = self.parse(kwargs) if config is None else config

    @classmethod
    def parse(cls, kwargs: Mapping[str, Any]) -> NeverConfig:
        if kwargs:
            raise ConfigError(f"policy 'never': unknown keyword {sorted(kwargs)[0]!r} (it takes none)")
        return NeverConfig()

    def learning_interval_m(self) -> float:
        return self.config.learning_interval_m()

    def reset(self, rng: np.random.Generator) -> None:
        del rng

    def should_update(self, obs: Observation) -> bool:
        del obs
        return False

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        raise RuntimeError("the 'never' policy does not fine-tune")

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        raise RuntimeError("the 'never' policy sends no update")
