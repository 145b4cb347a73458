"""*How* to fine-tune: the procedures of ``simnet.learning`` as parts a policy combines.

Each part turns the UE's codec and its (already cut) window into an ``UpdateResult``:

    part(codec, h_window [N, A, S] complex64, rng) -> UpdateResult;  part.reset() at the start of a run
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import numpy as np

from policies.base import UpdateResult
from simnet.learning.finetune import FinetuneConfig, FinetuneResult
from simnet.learning.gated import GateConfig, GatedFinetune
from simnet.learning.procedures import encoder_only, full_model, genie, translation


class Procedure(Protocol):
    """How a policy fine-tunes (one object per UE; it may keep state, e.g. a shadow model)."""

    def reset(self) -> None: ...

    def __call__(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult: ...


def _result(res: FinetuneResult) -> UpdateResult:
    return UpdateResult(res.codec, res.payload, res.num_steps, res.info())


class Stateless:
    """Base of the procedures that keep no state between fine-tunes: only their settings.

    ``batched`` names the :func:`simnet.learning.batched.batched_finetune` procedure that computes this one
    for several users at once (None: none does); ``result`` turns its ``FinetuneResult`` into the policy's.
    """

    batched: ClassVar[str | None] = None

    def __init__(self, cfg: FinetuneConfig) -> None:
        self.cfg = cfg

    def reset(self) -> None:
        pass

    def result(self, res: FinetuneResult) -> UpdateResult:
        return _result(res)


class EncoderOnly(Stateless):
    """Encoder alone (decoder and prior frozen); nothing to send."""

    batched = "encoder-only"

    def __call__(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        return self.result(encoder_only(codec, h_window, rng, self.cfg))

    def result(self, res: FinetuneResult) -> UpdateResult:
        return UpdateResult(res.codec, None, res.num_steps, res.info())


class FullModel(Stateless):
    """Encoder, decoder and prior jointly (eq. 21), the decoder-side change coded as an update."""

    batched = "full-model"

    def __call__(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        return self.result(full_model(codec, h_window, rng, self.cfg))


class Genie(Stateless):
    """Full model without update quantization or cost."""

    batched = "genie"

    def __call__(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        return self.result(genie(codec, h_window, rng, self.cfg))

    def result(self, res: FinetuneResult) -> UpdateResult:
        return UpdateResult(res.codec, None, res.num_steps, res.info())


class Translate(Stateless):
    """Translation/retranslation modules around the frozen backbone, the retranslation update coded."""

    def __init__(self, cfg: FinetuneConfig, num_channels: int) -> None:
        super().__init__(cfg)
        self.num_channels = num_channels

    def __call__(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        return _result(translation(codec, h_window, rng, self.cfg, self.num_channels))


class Gated:
    """A full-model fine-tune sent only if it pays on held-out samples (``simnet.learning.gated``)."""

    def __init__(self, gate: GateConfig, cfg: FinetuneConfig) -> None:
        self.finetune = GatedFinetune(gate, cfg)

    def reset(self) -> None:
        self.finetune.reset()

    def __call__(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        d = self.finetune(codec, h_window, rng)
        return UpdateResult(d.codec, d.payload, d.num_steps, d.info, declined=d.declined)
