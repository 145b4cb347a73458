"""``periodic``: full-model fine-tune every ``interval_m`` metres, the coded update sent on the uplink."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from policies.base import Delivery, UpdateResult, register_policy
from policies.common import OPTIM_KEYS, UPDATE_KEYS, EveryInterval
from simnet.coding import updates
from simnet.learning.finetune import full_model


@register_policy("periodic")
class Periodic(EveryInterval):
    """Full-model fine-tuning (eq. 21) at every multiple of ``interval_m`` travelled (paper 000, Fig. 10).

    Keywords: interval_m (default 10), window_size, steps, batch_size, lr, lambda, augment_*, and the
    update coding / ablation keys beta, regularize, prior, num_bins, t, alpha, sigma_slab.
    """

    name: ClassVar[str] = "periodic"
    delivery: ClassVar[Delivery] = "uplink"
    finetune_keys = OPTIM_KEYS + UPDATE_KEYS

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        res = full_model(codec, self.window(h_window), rng, self.cfg)
        return UpdateResult(res.codec, res.payload, res.num_steps, res.info())

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        del ue_codec
        if payload is None:
            raise ValueError("the 'periodic' policy needs the update payload")
        return updates.apply_update(bs_codec, payload)
