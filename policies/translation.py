"""``translation``: translation/retranslation modules (Liu et al. 2024) every ``interval_m`` metres."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from policies.base import Delivery, Observation, UpdateResult, register_policy
from policies.common import OPTIM_KEYS, UPDATE_KEYS, DistanceTrigger, check_number, cut_window, split_kwargs
from simnet import updates
from simnet.finetune import TRANSLATION_DEFAULTS, translation
from simnet.translation import TranslatedCodec, wrap_translation


@register_policy("translation")
class Translation:
    """Translation-module baseline ("TM" in paper 000), its retranslation update coded and sent.

    Args:
        interval_m: distance between fine-tunes [m], > 0.
        window_size: most recent samples used (None: all since the last fine-tune).
        num_channels: hidden channels of each translation module, 1..256.
        **finetune: steps, batch_size, lr, lambda, beta, regularize, prior, num_bins, t, alpha, sigma_slab.
    """

    name: ClassVar[str] = "translation"
    delivery: ClassVar[Delivery] = "uplink"

    def __init__(self, interval_m: float = 10.0, window_size: int | None = None, num_channels: int = 16,
                 **finetune: Any) -> None:
        check_number(self.name, "interval_m", interval_m, 0.0, lo_open=True)
        if window_size is not None:
            check_number(self.name, "window_size", window_size, 1, integer=True)
        check_number(self.name, "num_channels", num_channels, 1, 256, integer=True)
        _, self.cfg = split_kwargs(self.name, finetune, (), OPTIM_KEYS + UPDATE_KEYS, TRANSLATION_DEFAULTS)
        self.window_size = window_size
        self.num_channels = num_channels
        self.trigger = DistanceTrigger(interval_m)

    def reset(self, rng: np.random.Generator) -> None:
        del rng
        self.trigger.reset()

    def should_update(self, obs: Observation) -> bool:
        return self.trigger.fire(obs.distance_m, obs.busy)

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        res = translation(codec, cut_window(h_window, self.window_size), rng, self.cfg, self.num_channels)
        return UpdateResult(res.codec, res.payload, res.num_steps, res.info())

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        del ue_codec
        if payload is None:
            raise ValueError("the 'translation' policy needs the update payload")
        if not isinstance(bs_codec, TranslatedCodec):
            bs_codec = wrap_translation(bs_codec, self.num_channels)
        return updates.apply_update(bs_codec, payload, names=bs_codec.retranslation_names())
