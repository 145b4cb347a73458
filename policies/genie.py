"""``genie``: full-model fine-tune every ``interval_m`` metres, the new decoder handed to the BS for free."""

from __future__ import annotations

from typing import Any, ClassVar

from policies.base import Delivery, register_policy
from policies.delivery import FreeHandover
from policies.how import Genie as GenieFinetune
from policies.interval import IntervalConfig, IntervalPolicy
from policies.when import EveryDistance


@register_policy("genie")
class Genie(IntervalPolicy):
    """Genie-aided full-model fine-tuning ("GA" in paper 000): no quantization, no update bits.

    Keywords: interval_m (default 10), window_size, steps, batch_size, lr, lambda, augment_*.
    """

    name: ClassVar[str] = "genie"
    delivery: ClassVar[Delivery] = "free"

    def compose(self, config: IntervalConfig) -> Any:
        return EveryDistance(config.interval_m), GenieFinetune(config.finetune), FreeHandover(), config.window_size
