"""``encoder-only``: fine-tune the encoder every ``interval_m`` metres; nothing is sent (paper 000, III-A).

The decoder and the latent prior never change, so the BS keeps its codec and no bits are spent.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from policies.base import Delivery, UpdateResult, register_policy
from policies.common import EveryInterval
from simnet.learning.finetune import encoder_only


@register_policy("encoder-only")
class EncoderOnly(EveryInterval):
    """Encoder-only fine-tuning on the recent window; the decoder and prior never change.

    Keywords: interval_m (default 5), window_size, steps, batch_size, lr, lambda, augment_*.
    """

    name: ClassVar[str] = "encoder-only"
    delivery: ClassVar[Delivery] = "local"
    default_interval_m = 5.0

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        res = encoder_only(codec, self.window(h_window), rng, self.cfg)
        return UpdateResult(res.codec, None, res.num_steps, res.info())

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        del payload, ue_codec
        return bs_codec
