"""``never``: the pretrained codec is used unchanged for the whole run (the "No FT" baseline)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from policies.base import Delivery, Observation, UpdateResult, register_policy


@register_policy("never")
class Never:
    """Never fine-tunes; sends no model update."""

    name: ClassVar[str] = "never"
    delivery: ClassVar[Delivery] = "local"

    def reset(self, rng: np.random.Generator) -> None:
        del rng

    def should_update(self, obs: Observation) -> bool:
        del obs
        return False

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        raise RuntimeError("the 'never' policy does not fine-tune")

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        raise RuntimeError("the 'never' policy sends no update")
