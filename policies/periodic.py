"""``periodic``: full-model fine-tune every ``interval_m`` metres, the coded update sent on the uplink."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from policies.base import Delivery, Observation, UpdateResult, register_policy
from policies.common import OPTIM_KEYS, UPDATE_KEYS, DistanceTrigger, check_number, cut_window, split_kwargs
from simnet import updates
from simnet.finetune import full_model


@register_policy("periodic")
class Periodic:
    """Full-model fine-tuning (eq. 21) at every multiple of ``interval_m`` travelled (paper 000, Fig. 10).

    Args:
        interval_m: distance between updates [m], > 0.
        window_size: most recent samples used (None: all since the last update).
        **finetune: steps, batch_size, lr, lambda, beta, regularize, prior, num_bins, t, alpha, sigma_slab.
    """

    name: ClassVar[str] = "periodic"
    delivery: ClassVar[Delivery] = "uplink"

    def __init__(self, interval_m: float = 10.0, window_size: int | None = None, **finetune: Any) -> None:
        check_number(self.name, "interval_m", interval_m, 0.0, lo_open=True)
        if window_size is not None:
            check_number(self.name, "window_size", window_size, 1, integer=True)
        _, self.cfg = split_kwargs(self.name, finetune, (), OPTIM_KEYS + UPDATE_KEYS)
        self.window_size = window_size
        self.trigger = DistanceTrigger(interval_m)

    def reset(self, rng: np.random.Generator) -> None:
        del rng
        self.trigger.reset()

    def should_update(self, obs: Observation) -> bool:
        return self.trigger.fire(obs.distance_m, obs.busy)

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        res = full_model(codec, cut_window(h_window, self.window_size), rng, self.cfg)
        return UpdateResult(res.codec, res.payload, res.num_steps, res.info())

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        del ue_codec
        if payload is None:
            raise ValueError("the 'periodic' policy needs the update payload")
        return updates.apply_update(bs_codec, payload)
