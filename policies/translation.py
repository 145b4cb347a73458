"""``translation``: translation/retranslation modules (Liu et al. 2024) every ``interval_m`` metres."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from policies.base import Delivery, UpdateResult, register_policy
from policies.common import OPTIM_KEYS, UPDATE_KEYS, EveryInterval, check_number
from simnet.coding import updates
from simnet.learning.finetune import TRANSLATION_DEFAULTS, translation
from simnet.learning.translation_module import TranslatedCodec, wrap_translation


@register_policy("translation")
class Translation(EveryInterval):
    """Translation-module baseline ("TM" in paper 000), its retranslation update coded and sent.

    Keywords: interval_m (default 10), window_size, num_channels (hidden channels of each translation
    module, 1..256, default 16), steps, batch_size, lr, lambda, augment_*, beta, regularize, prior,
    num_bins, t, alpha, sigma_slab (defaults: ``TRANSLATION_DEFAULTS``).
    """

    name: ClassVar[str] = "translation"
    delivery: ClassVar[Delivery] = "uplink"
    finetune_keys = OPTIM_KEYS + UPDATE_KEYS
    finetune_defaults = TRANSLATION_DEFAULTS
    own_keys = ("num_channels",)

    def __init__(self, interval_m: float | None = None, window_size: int | None = None, **finetune: Any) -> None:
        super().__init__(interval_m, window_size, **finetune)
        self.num_channels = self.own.get("num_channels", 16)
        check_number(self.name, "num_channels", self.num_channels, 1, 256, integer=True)

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        res = translation(codec, self.window(h_window), rng, self.cfg, self.num_channels)
        return UpdateResult(res.codec, res.payload, res.num_steps, res.info())

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        del ue_codec
        if payload is None:
            raise ValueError("the 'translation' policy needs the update payload")
        if not isinstance(bs_codec, TranslatedCodec):
            bs_codec = wrap_translation(bs_codec, self.num_channels)
        return updates.apply_update(bs_codec, payload, names=bs_codec.retranslation_names())
