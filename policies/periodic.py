"""``periodic``: full-model fine-tune every ``interval_m`` metres, the coded update sent on the uplink."""

from __future__ import annotations

from typing import Any, ClassVar

from policies.base import Delivery, register_policy
from policies.common import OPTIM_KEYS, UPDATE_KEYS
from policies.delivery import CodedUplink
from policies.how import FullModel
from policies.interval import IntervalConfig, IntervalPolicy
from policies.when import EveryDistance


@register_policy("periodic")
class Periodic(IntervalPolicy):
    """Full-model fine-tuning (eq. 21) at every multiple of ``interval_m`` travelled (paper 000, Fig. 10).

    Keywords: interval_m (default 10), window_size, steps, batch_size, lr, lambda, augment_*, and the
    update coding / ablation keys beta, regularize, prior, num_bins, t, alpha, sigma_slab.
    """

    name: ClassVar[str] = "periodic"
    delivery: ClassVar[Delivery] = "uplink"
    finetune_keys = OPTIM_KEYS + UPDATE_KEYS

    def compose(self, config: IntervalConfig) -> Any:
        return EveryDistance(config.interval_m), FullModel(config.finetune), CodedUplink(self.name), config.window_size


