"""``translation``: translation/retranslation modules (Liu et al. 2024) every ``interval_m`` metres."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from policies.base import Delivery, register_policy
from policies.common import OPTIM_KEYS, UPDATE_KEYS, check_number
from policies.delivery import TranslationUplink
from policies.how import Translate
from policies.interval import IntervalConfig, IntervalPolicy
from policies.when import EveryDistance
from simnet.learning.finetune import TRANSLATION_DEFAULTS


@dataclass(frozen=True)
class TranslationConfig(IntervalConfig):
    """``IntervalConfig`` plus the hidden channels of each translation module (1..256)."""

    num_channels: int = 16


@register_policy("translation")
class Translation(IntervalPolicy):
    """Translation-module baseline ("TM" in paper 000), its retranslation update coded and sent.

    Keywords: interval_m (default 10), window_size, num_channels (hidden channels of each translation
    module, 1..256, default 16), steps, batch_size, lr, lambda, augment_*, beta, regularize, prior,
    num_bins, t, alpha, sigma_slab (defaults: ``TRANSLATION_DEFAULTS``).
    """

    name: ClassVar[str] = "translation"
    delivery: ClassVar[Delivery] = "uplink"
    config_type: ClassVar[type] = TranslationConfig
    finetune_keys = OPTIM_KEYS + UPDATE_KEYS
    finetune_defaults = TRANSLATION_DEFAULTS
    own_keys = ("num_channels",)

    @classmethod
    def parse(cls, kwargs: Mapping[str, Any]) -> TranslationConfig:
        common, own = cls.parse_common(kwargs)
        num_channels = own.get("num_channels", 16)
        check_number(cls.name, "num_channels", num_channels, 1, 256, integer=True)
        return TranslationConfig(**common, num_channels=num_channels)

    def compose(self, config: TranslationConfig) -> Any:
        return (EveryDistance(config.interval_m), Translate(config.finetune, config.num_channels),
                TranslationUplink(self.name, config.num_channels), config.window_size)
