"""``genie``: full-model fine-tune every ``interval_m`` metres, the new decoder handed to the BS for free."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from policies.base import Delivery, UpdateResult, register_policy
from policies.common import EveryInterval
from simnet.coding import updates
from simnet.learning.finetune import genie


@register_policy("genie")
class Genie(EveryInterval):
    """Genie-aided full-model fine-tuning ("GA" in paper 000): no quantization, no update bits.

    Keywords: interval_m (default 10), window_size, steps, batch_size, lr, lambda, augment_*.
    """

    name: ClassVar[str] = "genie"
    delivery: ClassVar[Delivery] = "free"

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        res = genie(codec, self.window(h_window), rng, self.cfg)
        return UpdateResult(res.codec, None, res.num_steps, res.info())

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        del payload
        return updates.copy_decoder(bs_codec, ue_codec)
