"""``encoder-only``: fine-tune the encoder every ``interval_m`` metres; nothing is sent (paper 000, III-A).

The decoder and the latent prior never change, so the BS keeps its codec and no bits are spent.
"""

from __future__ import annotations

from typing import Any, ClassVar

from policies.base import Delivery, register_policy
from policies.delivery import NothingToSend
from policies.how import EncoderOnly as EncoderOnlyFinetune
from policies.interval import IntervalConfig, IntervalPolicy
from policies.when import EveryDistance


@register_policy("encoder-only")
class EncoderOnly(IntervalPolicy):
    """Encoder-only fine-tuning on the recent window; the decoder and prior never change.

    Keywords: interval_m (default 5), window_size, steps, batch_size, lr, lambda, augment_*.
    """

    name: ClassVar[str] = "encoder-only"
    delivery: ClassVar[Delivery] = "local"
    default_interval_m = 5.0

    def compose(self, config: IntervalConfig) -> Any:
        return (EveryDistance(config.interval_m), EncoderOnlyFinetune(config.finetune), NothingToSend(),
                config.window_size)
