"""The gated fine-tune (simnet/learning/gated.py): the shadow model and what a sent update is coded against."""

from __future__ import annotations

import numpy as np
import torch

from simnet.coding.updates import apply_update, decoder_state
from simnet.learning.finetune import FinetuneConfig
from simnet.learning.gated import GateConfig, GatedFinetune
from tests.policies.test_contract import FAST, ToyCodec, csi


def test_the_gate_reset_forgets_the_shadow() -> None:
    gated = GatedFinetune(GateConfig(0.25, 3, payback_reports=1, shadow=True), FinetuneConfig(**FAST))
    assert gated(ToyCodec(), csi(1), np.random.default_rng(7)).declined and gated.shadow_codec is not None
    gated.reset()
    assert gated.shadow_codec is None
    assert gated(ToyCodec(), csi(1), np.random.default_rng(7)).info["gate_from_shadow"] == 0.0


def test_the_shadow_keeps_learning_through_declines_and_is_sent_coded_against_the_bs_model() -> None:
    deployed, h = ToyCodec(), csi(1)
    gated = GatedFinetune(GateConfig(0.25, 3, payback_reports=1, shadow=True), FinetuneConfig(**FAST))
    first = gated(deployed, h, np.random.default_rng(7))
    second = gated(deployed, h, np.random.default_rng(8))
    assert first.declined and second.declined and second.info["gate_from_shadow"] == 1.0
    gated.gate = GateConfig(0.25, 3, payback_reports=10**6, shadow=True)  # now every update pays
    third = gated(deployed, h, np.random.default_rng(9))
    assert not third.declined and third.info["gate_from_shadow"] == 1.0
    bs = apply_update(ToyCodec(), third.payload)  # the BS holds the deployed model
    assert all(torch.equal(v, decoder_state(third.codec)[k]) for k, v in decoder_state(bs).items())
    # three fine-tunes' worth of change: the shadow trained on the declined ones
    one = GatedFinetune(GateConfig(0.25, 3, payback_reports=10**6), FinetuneConfig(**FAST))(
        ToyCodec(), h, np.random.default_rng(9))
    assert third.info["gate_update_bits"] > 0 and third.payload != one.payload
    changed = sum(int((v != decoder_state(ToyCodec())[k]).sum()) for k, v in decoder_state(third.codec).items())
    assert third.info["num_nonzero"] == changed  # the sent payload's count, not the last round's
    fourth = gated(third.codec, h, np.random.default_rng(10))
    assert fourth.info["gate_from_shadow"] == 0.0  # a sent update clears the shadow
