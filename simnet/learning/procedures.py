"""Fine-tuning procedures on a window of CSI: encoder-only, full-model, genie, translation (paper 000, III).

    h_window [N, A, S] complex64 --(``training.train``)--> new codec (+ coded decoder update)

* ``encoder_only``: decoder and latent prior frozen; loss ``lambda * D + R_latent``; nothing to send.
* ``full_model``: everything trained, decoder-side tensors as ``theta + Q_t(delta)`` (straight-through),
  loss eq. 21 ``lambda * D + R_latent + beta * R_update``; the quantized delta is coded (``coding/updates.py``).
* ``genie``: full model without quantization or update cost; delivered for free (the lower bound).
* ``translation``: translation/retranslation modules around a frozen backbone (``translation_module.py``),
  the retranslation parameters coded as an update like ``full_model``'s.

The gated procedure (fine-tune, then send only if it pays on held-out samples) is ``gated.py``.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from simnet.coding.updates import code_deltas, decoder_state, encode_update, quantize_ste, rate_bits
from simnet.learning.finetune import TRANSLATION_DEFAULTS, FinetuneConfig, FinetuneResult, update_coding
from simnet.learning.training import split_parameters, train
from simnet.learning.translation_module import TranslatedCodec, wrap_translation


def encoder_only(codec: Any, h_window: np.ndarray, rng: np.random.Generator,
                 cfg: FinetuneConfig | None = None) -> FinetuneResult:
    """Fine-tune the encoder alone (decoder and prior frozen); nothing is sent.

    Args:
        codec: the UE's current codec (not modified).
        h_window: [N, A, S] complex64 CSI samples.
        rng: the UE's generator (the only randomness used).
        cfg: settings (defaults if None).
    """
    cfg = cfg or FinetuneConfig()
    ue = copy.deepcopy(codec)
    enc, dec = split_parameters(ue)
    for p in dec.values():
        p.requires_grad_(False)
    curve = train(ue, h_window, rng, cfg, list(enc.values()), lambda: None, None)
    for p in dec.values():
        p.requires_grad_(True)
    return FinetuneResult(ue, None, 0, 0, cfg.steps, curve)


def _coded_finetune(ue: Any, h_window: np.ndarray, rng: np.random.Generator, cfg: FinetuneConfig,
                    trainable_enc: list[torch.Tensor], names: list[str], trace_every: int = 0) -> FinetuneResult:
    """Train ``trainable_enc`` and the decoder-side parameters among ``names`` as ``theta + Q_t(delta)``.

    The update covers all of ``names`` (buffers and frozen tensors code as zeros). With ``trace_every > 0``
    the update is range coded for real after every ``trace_every``-th step and after the last one (~4 ms
    per coding of the learned-transform's 59 K decoder-side parameters).
    """
    coding = update_coding(ue, cfg)
    params_by_name = dict(ue.named_parameters())
    coded = {k: params_by_name[k] for k in names if k in params_by_name}
    base_state = decoder_state(ue, names)
    base = {k: p.detach().clone() for k, p in coded.items()}
    deltas = {k: torch.zeros_like(p, requires_grad=True) for k, p in coded.items()}

    def params() -> dict[str, torch.Tensor]:
        return {k: base[k] + quantize_ste(deltas[k], coding) for k in coded}

    def rate() -> torch.Tensor:
        return rate_bits(list(deltas.values()), coding)

    trace: list[dict[str, float]] = []

    def record(step: int) -> None:
        if trace_every <= 0 or ((step + 1) % trace_every and step + 1 != cfg.steps):
            return
        with torch.no_grad():  # the same float32 arithmetic as the final commit below
            change = {k: ((base[k] + deltas[k]) - v if k in coded else torch.zeros_like(v))
                      for k, v in base_state.items()}
        enc, _ = code_deltas(change, base_state, coding)
        trace.append({"step": step + 1, "num_nonzero": enc.num_nonzero, "update_bits": enc.bits,
                      "estimated_update_bits": enc.estimated_bits})

    for p in coded.values():
        p.requires_grad_(False)
    curve = train(ue, h_window, rng, cfg, trainable_enc + list(deltas.values()), params, rate, record)
    with torch.no_grad():
        for k, p in coded.items():
            p.copy_(base[k] + deltas[k])
            p.requires_grad_(True)
    enc = encode_update(ue, base_state, coding, names=names)
    return FinetuneResult(ue, enc.payload, enc.bits, enc.num_nonzero, cfg.steps, curve, enc.estimated_bits, trace)


def full_model(codec: Any, h_window: np.ndarray, rng: np.random.Generator,
               cfg: FinetuneConfig | None = None, *, trace_every: int = 0) -> FinetuneResult:
    """Fine-tune encoder, decoder and prior jointly (eq. 21); code the quantized decoder-side update.

    The returned codec's decoder-side tensors equal ``theta + t * q`` exactly, i.e. what the BS obtains
    from ``updates.apply_update(bs_codec, payload)``. ``trace_every > 0`` fills ``FinetuneResult.trace``
    (update size during fine-tuning, core paper Fig. 9); it does not change the result.
    """
    cfg = cfg or FinetuneConfig()
    ue = copy.deepcopy(codec)
    enc, _ = split_parameters(ue)
    return _coded_finetune(ue, h_window, rng, cfg, list(enc.values()), list(ue.decoder_parameter_names()),
                           trace_every)


def genie(codec: Any, h_window: np.ndarray, rng: np.random.Generator,
          cfg: FinetuneConfig | None = None) -> FinetuneResult:
    """Full-model fine-tune without update quantization or cost (the decoder reaches the BS for free)."""
    cfg = replace(cfg or FinetuneConfig(), regularize=False)
    ue = copy.deepcopy(codec)
    before = decoder_state(ue)
    trainable = [p for p in ue.parameters() if p.requires_grad]
    curve = train(ue, h_window, rng, cfg, trainable, lambda: None, None)
    changed = sum(int((v != before[k]).sum()) for k, v in decoder_state(ue).items())
    return FinetuneResult(ue, None, 0, changed, cfg.steps, curve)


def translation(codec: Any, h_window: np.ndarray, rng: np.random.Generator,
                cfg: FinetuneConfig | None = None, num_channels: int = 16) -> FinetuneResult:
    """Train translation/retranslation modules around the frozen backbone; code the retranslation update.

    Args:
        codec: a backbone codec, or a ``TranslatedCodec`` from an earlier translation fine-tune.
        h_window: [N, A, S] complex64 CSI samples.
        rng: the UE's generator.
        cfg: settings.
        num_channels: hidden channels of each module (only when ``codec`` is not wrapped yet).
    """
    cfg = cfg or FinetuneConfig.from_kwargs({}, **TRANSLATION_DEFAULTS)
    ue = copy.deepcopy(codec) if isinstance(codec, TranslatedCodec) else wrap_translation(codec, num_channels)
    for p in ue.backbone.parameters():
        p.requires_grad_(False)
    return _coded_finetune(ue, h_window, rng, cfg, list(ue.translate.parameters()), ue.retranslation_names())
