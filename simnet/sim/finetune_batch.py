"""Fine-tunes of several UEs computed as one batch (``ues.batch_finetunes``), equal to running them one by one.

    UE a starts a fine-tune at t_a --submit(policy, codec, window, rng)--> pending
    UE b starts one at t_b (t_a <= t_b < t_a + steps x seconds_per_step) --submit--> pending
    UE a's compute time is over --result(a)--> every pending request of a's group in one
        ``batched_finetune`` call (torch.func.vmap over the stacked parameters) --> a's and b's UpdateResults

Why the results equal the sequential ones: a batchable fine-tune (``ComposedPolicy.batched_procedure``) depends
only on what is fixed when it starts: the UE's codec (which it keeps until its update is done; ``batched_finetune``
copies it), its window and its own generator (which nothing else draws from while the UE is busy), under a
trigger that does not learn from the result. So it may be computed later, at the latest when the UE needs it;
``batched_finetune`` advances each generator as the sequential procedure does and its results agree to float32
rounding (``tests/learning/test_batched.py``; ``tests/sim/test_finetune_batch.py`` checks a whole run).
One group shares the codec class, the procedure, the fine-tune settings and the mini-batch size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from policies.base import UpdateResult


@dataclass
class Request:
    """One UE's fine-tune, waiting for its batch."""

    policy: Any
    codec: Any
    window: np.ndarray
    rng: np.random.Generator
    procedure: str
    key: tuple[Any, ...]
    result: UpdateResult | None = field(default=None, repr=False)

    @property
    def num_steps(self) -> int:
        return int(self.policy.how.cfg.steps)


class FinetuneBatcher:
    """The fine-tunes of one run's UEs that can be batched, computed group by group when first needed."""

    def __init__(self) -> None:
        self.pending: list[Request] = []

    @staticmethod
    def procedure(policy: Any, codec: Any) -> str | None:
        """The batched procedure of ``policy``'s next fine-tune of ``codec``, or None (it runs alone)."""
        batched = getattr(policy, "batched_procedure", None)
        return batched(codec) if batched is not None else None

    def submit(self, policy: Any, procedure: str, codec: Any, window: np.ndarray, rng: np.random.Generator) -> Request:
        """Queue a fine-tune of ``codec``: the UE's own, which it keeps unchanged while busy (no copy here:
        ``batched_finetune`` trains copies)."""
        window = policy.cut(window)
        cfg = policy.how.cfg
        key = (type(codec), procedure, repr(cfg), min(cfg.batch_size, len(window)))
        req = Request(policy, codec, window, rng, procedure, key)
        self.pending.append(req)
        return req

    def result(self, req: Request) -> UpdateResult:
        """``req``'s result, computing it with every pending request of its group if not done yet."""
        if req.result is None:
            from simnet.learning.batched import batched_finetune

            group = [r for r in self.pending if r.key == req.key]
            self.pending = [r for r in self.pending if r.key != req.key]
            results = batched_finetune([r.codec for r in group], [r.window for r in group], [r.rng for r in group],
                                       req.procedure, req.policy.how.cfg)  # type: ignore[arg-type]
            for r, res in zip(group, results, strict=True):
                r.result = r.policy.finish_batched(res)
        assert req.result is not None
        return req.result
