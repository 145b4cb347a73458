"""``genie``: full-model fine-tune every ``interval_m`` metres, the new decoder handed to the BS for free."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from policies.base import Delivery, Observation, UpdateResult, register_policy
from policies.common import OPTIM_KEYS, DistanceTrigger, check_number, cut_window, split_kwargs
from simnet import updates
from simnet.finetune import genie


@register_policy("genie")
class Genie:
    """Genie-aided full-model fine-tuning ("GA" in paper 000): no quantization, no update bits.

    Args:
        interval_m: distance between fine-tunes [m], > 0.
        window_size: most recent samples used (None: all since the last fine-tune).
        **finetune: steps, batch_size, lr, lambda.
    """

    name: ClassVar[str] = "genie"
    delivery: ClassVar[Delivery] = "free"

    def __init__(self, interval_m: float = 10.0, window_size: int | None = None, **finetune: Any) -> None:
        check_number(self.name, "interval_m", interval_m, 0.0, lo_open=True)
        if window_size is not None:
            check_number(self.name, "window_size", window_size, 1, integer=True)
        _, self.cfg = split_kwargs(self.name, finetune, (), OPTIM_KEYS)
        self.window_size = window_size
        self.trigger = DistanceTrigger(interval_m)

    def reset(self, rng: np.random.Generator) -> None:
        del rng
        self.trigger.reset()

    def should_update(self, obs: Observation) -> bool:
        return self.trigger.fire(obs.distance_m, obs.busy)

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        res = genie(codec, cut_window(h_window, self.window_size), rng, self.cfg)
        return UpdateResult(res.codec, None, res.num_steps, res.info())

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        del payload
        return updates.copy_decoder(bs_codec, ue_codec)
