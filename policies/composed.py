"""A policy as *when* + *how* + *delivery*: the parts of ``when.py``, ``how.py`` and ``delivery.py`` combined.

    report --Observation--> when.observe / when.fire --True--> how(codec, window) --UpdateResult-->
        when.after_update (a gate's answer adapts the trigger) --> UE delivers as ``delivery.kind`` says
        --> BS: delivery.apply(bs_codec, payload, ue_codec)

A registered policy is a subclass that declares its frozen config type, parses its scenario keywords into
it once (``parse``), and builds its parts from that config (``compose``). It is built either from the config
(``Policy(config)``, what the scenario loader holds in ``PolicySpec.config``) or from keywords
(``Policy(**kwargs)``, parsed the same way).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from policies.base import Delivery, Observation, UpdateResult
from policies.common import cut_window
from policies.delivery import DeliveryPart
from policies.how import Procedure
from policies.when import EveryDistance, Trigger
from simnet.learning.finetune import FinetuneResult


class ComposedPolicy:
    """Base of the registered policies: a trigger, a procedure and a delivery, built from one config.

    Args:
        config: the policy's validated config (an instance of ``config_type``), or None to parse ``kwargs``.
        **kwargs: scenario keywords (only without ``config``).
    """

    name: ClassVar[str] = "composed"
    delivery: ClassVar[Delivery] = "uplink"
    config_type: ClassVar[type] = object

    def __init__(self, config: Any = None, /, **kwargs: Any) -> None:
        if config is None:
            config = self.parse(kwargs)
        elif kwargs:
            raise TypeError(f"policy {self.name!r}: give a config or keywords, not both")
        if not isinstance(config, self.config_type):
            raise TypeError(f"policy {self.name!r} needs a {self.config_type.__name__}, "
                            f"got {type(config).__name__}")
        self.config = config
        self.when, self.how, self.deliver, self.window_size = self.compose(config)
        if self.deliver.kind != self.delivery:
            raise TypeError(f"policy {self.name!r} delivers {self.delivery!r} but its part is {self.deliver.kind!r}")
        self.reset(np.random.default_rng(0))

    @classmethod
    def parse(cls, kwargs: Mapping[str, Any]) -> Any:
        """Validate scenario keywords into the policy's config (``ConfigError`` naming the key otherwise)."""
        raise NotImplementedError

    def compose(self, config: Any) -> tuple[Trigger, Procedure, DeliveryPart, int | None]:
        """(when, how, delivery, window_size) of this policy, built from its config."""
        raise NotImplementedError

    def learning_interval_m(self) -> float:
        """The distance between fine-tunes this policy aims at [m]; NaN where the channel decides."""
        return self.when.cadence_m()

    def reset(self, rng: np.random.Generator) -> None:
        del rng
        self.when.reset()
        self.how.reset()

    def should_update(self, obs: Observation) -> bool:
        self.when.observe(obs)
        return not obs.busy and self.when.fire(obs)

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        result = self.how(codec, cut_window(h_window, self.window_size), rng)
        self.when.after_update(result)
        return result

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        return self.deliver.apply(bs_codec, payload, ue_codec)

    # ---------------------------------------------- fine-tunes of several UEs as one batch (sim.finetune_batch)
    def batched_procedure(self, codec: Any) -> str | None:
        """The ``batched_finetune`` procedure that can compute this policy's fine-tunes of ``codec`` together
        with other UEs' (None: they run one by one): a stateless procedure (its result depends only on codec,
        window and generator, so it may be computed later) under a trigger that does not learn from results."""
        from simnet.learning.batched import vmap_refusal

        procedure = getattr(self.how, "batched", None)
        if procedure is None or type(self.when) is not EveryDistance or vmap_refusal(codec) is not None:
            return None
        return str(procedure)

    def cut(self, h_window: np.ndarray) -> np.ndarray:
        """The part of the UE's window this policy trains on."""
        return cut_window(h_window, self.window_size)

    def finish_batched(self, res: FinetuneResult) -> UpdateResult:
        """What :meth:`update` returns, from the batch's result for this UE."""
        result = self.how.result(res)  # type: ignore[attr-defined]  # batched_procedure checked it has one
        self.when.after_update(result)
        return result
