"""The gated fine-tune, "update only if it pays": fine-tune on most of the window, score on the rest, decide.

The most recent part of the window is held out of the fine-tune and both codecs are scored on it by the
fine-tuning objective (eval mode):

    window [N] = train [N - num_check] | check [num_check],  num_check = max(min_check_samples,
                                                                             ceil(check_fraction * N))
    J_old = lambda * D_old + R_old                                           on check
    J_new = lambda * D_new + R_new + update_bits / (payback_reports * 2 A S)  on check

and the update is sent only if ``J_new < J_old``; otherwise it is declined. A window of at most ``num_check``
samples is declined without fine-tuning.

With ``shadow``, learning and sending are decoupled: a declined fine-tune is kept as the shadow model and the
next attempt fine-tunes the shadow further, so small improvements add up the way they do under a short fixed
interval. What the gate then weighs is the shadow coded against the model the BS holds
(``updates.encode_update``: all the change since the last sent update, in one payload, with its real bits).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simnet.coding import updates
from simnet.learning.finetune import FinetuneConfig, objective, update_coding
from simnet.learning.procedures import full_model


@dataclass(frozen=True)
class GateConfig:
    """Settings of the gate (validated by the policy config that holds it).

    Attributes:
        check_fraction: share of the window held out to check the update, in (0, 1).
        min_check_samples: least number of held-out samples, >= 1.
        payback_reports: reports over which the update's real coded bits are spread, >= 1.
        shadow: keep declined fine-tunes as a shadow model that later attempts train further.
    """

    check_fraction: float = 0.2
    min_check_samples: int = 10
    payback_reports: int = 100
    shadow: bool = False


@dataclass
class GateDecision:
    """What one gated fine-tune decided.

    Attributes:
        codec: the new codec when sent, else the codec it started from.
        payload: the coded update when sent, else None.
        num_steps: optimizer steps taken (0 when the window was too small to split).
        info: the fine-tune's numbers plus ``gate_*`` (num_check, j_old, j_new, update_bits, from_shadow).
        declined: the update does not pay: nothing is sent.
    """

    codec: Any
    payload: bytes | None
    num_steps: int
    info: dict[str, float] = field(default_factory=dict)
    declined: bool = False


class GatedFinetune:
    """A full-model fine-tune behind the gate; with ``shadow`` it keeps what it declined (state per UE).

    Args:
        gate: the gate's settings.
        finetune: the fine-tune's settings (also give the objective's lambda).
    """

    def __init__(self, gate: GateConfig, finetune: FinetuneConfig) -> None:
        self.gate, self.cfg = gate, finetune
        self.shadow_codec: Any = None

    def reset(self) -> None:
        """Forget the shadow model (a new run)."""
        self.shadow_codec = None

    def __call__(self, codec: Any, window: np.ndarray, rng: np.random.Generator) -> GateDecision:
        """Fine-tune ``codec`` (or the shadow) on ``window`` ([N, A, S] complex64) and decide whether to send."""
        num_check = max(self.gate.min_check_samples, math.ceil(self.gate.check_fraction * len(window)))
        if len(window) <= num_check:
            return GateDecision(codec, None, 0, {"gate_num_check": float(len(window))}, declined=True)
        start = codec if self.shadow_codec is None else self.shadow_codec
        res = full_model(start, window[:-num_check], rng, self.cfg)
        candidate, payload, bits, info = res.codec, res.payload, res.bits, res.info()
        if self.shadow_codec is not None:  # send all the change since the BS's model: code it against that
            candidate = copy.deepcopy(res.codec)
            enc = updates.encode_update(candidate, codec, update_coding(codec, self.cfg))
            payload, bits = enc.payload, enc.bits
            info.update(num_nonzero=float(enc.num_nonzero), estimated_update_bits=enc.estimated_bits)
        check = window[-num_check:]
        dims = 2 * check.shape[1] * check.shape[2]
        j_old = objective(codec, check, self.cfg)["loss"]
        j_new = objective(candidate, check, self.cfg)["loss"] + bits / (self.gate.payback_reports * dims)
        info.update(gate_num_check=float(num_check), gate_j_old=j_old, gate_j_new=j_new, gate_update_bits=float(bits),
                    gate_from_shadow=float(self.shadow_codec is not None))
        if j_new < j_old:
            self.shadow_codec = None
            return GateDecision(candidate, payload, res.num_steps, info)
        if self.gate.shadow:
            self.shadow_codec = res.codec
        return GateDecision(codec, None, res.num_steps, info, declined=True)
