"""K users' fine-tunes as one batched computation: ``torch.func.vmap`` over their stacked parameters.

    K codecs (same architecture) + K windows + K generators
        -> stacked tensors [K, ...] (encoder; decoder as base + Q_t(delta) for a coded update)
        -> per step: each user's mini-batch, augmentation and training noise drawn from its own generator
           in the order ``training.train`` draws them -> one vmapped forward -> sum of the K losses
           -> one backward -> one Adam over the stacked tensors
        -> K FinetuneResults (a coded update is range coded per user, as ``procedures._coded_finetune`` does)

Why this equals K runs of ``procedures.encoder_only`` / ``full_model`` / ``genie``: the users' tensors are
disjoint slices, so the gradient of the summed loss w.r.t. user k's slice is the gradient of user k's own
loss, and Adam is elementwise, so one Adam over [K, ...] tensors is K Adams. Every random draw comes from
user k's own generator in the sequential order. What differs is float summation order inside the batched
kernels (vmapped matmuls, reductions): parameters agree to float32 rounding, and the coded payloads are
equal unless a quantized delta sits within that rounding of a quantizer boundary (tests/learning).
Only :class:`simnet.codecs.common.RDCodec` codecs (their training noise is the prior's uniform noise) that
vmap can run: ``rd-crnet`` asks for a channels_last layout, which vmap does not support yet (torch 2.x).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from simnet.codecs.common import RDCodec
from simnet.codecs.normalization import denormalize, norm_code, normalize
from simnet.coding.update_prior import UpdateCoding, quantize_ste, rate_bits
from simnet.coding.updates import decoder_state, encode_update
from simnet.learning.finetune import (
    FinetuneConfig,
    FinetuneResult,
    _lmbda,
    distortion,
    latent_bits,
    optimisation,
    update_coding,
)
from simnet.learning.training import array_shape, augment, split_parameters

Procedure = Literal["encoder-only", "full-model", "genie"]



class _RelaxedForward(nn.Module):
    """``RDCodec.forward`` in training mode with the uniform noise given, not drawn (vmap draws nothing)."""

    def __init__(self, codec: RDCodec) -> None:
        super().__init__()
        self.codec = codec

    def forward(self, h_n: torch.Tensor, code: torch.Tensor, noise: torch.Tensor) -> dict[str, Any]:
        y_tilde = self.codec.analysis(h_n) + noise
        likelihoods = self.codec.prior.likelihood(y_tilde)
        return {"h_hat": denormalize(self.codec.synthesis(y_tilde), code), "likelihoods": {"y": likelihoods}}


def vmap_refusal(codec: Any) -> str | None:
    """Why :func:`batched_finetune` cannot fine-tune ``codec`` (one line), or None if it can."""
    if not isinstance(codec, RDCodec):
        return "batched fine-tuning supports RDCodec codecs only (their training noise is the prior's)"
    if hasattr(codec, "distortion"):
        return f"batched fine-tuning scores NMSE; {type(codec).__name__} has its own distortion"
    from simnet.codecs.rd_crnet import CRNetTransforms

    if isinstance(codec, CRNetTransforms):
        return (f"batched fine-tuning cannot vmap {type(codec).__name__} (rd-crnet): its analysis asks for a "
                "channels_last layout, which torch.func.vmap does not support; fine-tune it one by one")
    return None


def batched_finetune(codecs: Sequence[Any], windows: Sequence[np.ndarray], rngs: Sequence[np.random.Generator],
                     procedure: Procedure, cfg: FinetuneConfig | None = None) -> list[FinetuneResult]:
    """Run K users' fine-tunes of one procedure as one batched computation.

    Args:
        codecs: K codecs of one architecture (not modified), each user's starting point.
        windows: K windows, [N_k, A, S] complex64; ``min(cfg.batch_size, N_k)`` must be the same for all.
        rngs: K generators; each is advanced exactly as the sequential procedure advances it.
        procedure: ``"encoder-only"``, ``"full-model"`` (coded decoder update) or ``"genie"``.
        cfg: settings (defaults if None), shared by the K users.

    Returns:
        K results, each as ``procedures.<procedure>(codecs[k], windows[k], rngs[k], cfg)`` returns it.
    """
    cfg = cfg or FinetuneConfig()
    if procedure == "genie":
        cfg = replace(cfg, regularize=False)
    num_users = len(codecs)
    if not num_users or len(windows) != num_users or len(rngs) != num_users:
        raise ValueError(f"need as many windows and generators as codecs, got {num_users}, {len(windows)}, {len(rngs)}")
    if len({type(c) for c in codecs}) != 1:
        raise TypeError(f"batched fine-tuning needs one codec class, got {sorted({type(c).__name__ for c in codecs})}")
    refusal = vmap_refusal(codecs[0])
    if refusal is not None:
        raise TypeError(refusal)
    h_all = [torch.from_numpy(np.ascontiguousarray(w, dtype=np.complex64)) for w in windows]
    batch = {min(cfg.batch_size, len(h)) for h in h_all}
    if len(batch) != 1 or min(len(h) for h in h_all) == 0:
        raise ValueError(f"every window needs the same mini-batch size (>= 1 sample), got {sorted(batch)}")
    size = batch.pop()
    ues = [copy.deepcopy(c) for c in codecs]
    template = _RelaxedForward(ues[0])
    names = list(ues[0].decoder_parameter_names())
    enc_names = list(split_parameters(ues[0])[0])
    stacked = {k: torch.stack([dict(u.named_parameters())[k].detach() for u in ues]) for k, _ in
               ues[0].named_parameters()}
    buffers = {k: torch.stack([dict(u.named_buffers())[k] for u in ues]) for k, _ in ues[0].named_buffers()}
    coded = procedure == "full-model"
    trainable_names = enc_names if procedure == "encoder-only" else list(stacked)
    if coded:
        trainable_names = enc_names
        deltas = {k: torch.zeros_like(stacked[k], requires_grad=True) for k in names if k in stacked}
    for k in trainable_names:
        stacked[k].requires_grad_(True)
    leaves = [stacked[k] for k in trainable_names] + (list(deltas.values()) if coded else [])
    optim = optimisation(ues[0], cfg)  # one codec class for all users (checked above)
    coding = update_coding(ues[0], cfg)
    opt = torch.optim.Adam(leaves, lr=optim["lr"])
    gens = [torch.Generator().manual_seed(int(rng.integers(0, 2**62))) for rng in rngs]
    lmbda = torch.tensor([_lmbda(u, cfg) for u in ues], dtype=torch.float32)
    nums = torch.tensor([len(h) for h in h_all], dtype=torch.float32)
    dims = 2 * h_all[0].shape[1] * h_all[0].shape[2]
    array = array_shape(ues[0], h_all[0].shape[1])
    orders = [torch.randperm(len(h), generator=g) for h, g in zip(h_all, gens, strict=True)]
    pos = [0] * num_users
    curve: dict[str, list[torch.Tensor]] = {"loss": [], "d": [], "r_latent": [], "r_update": []}

    def one_user(params: dict[str, torch.Tensor], bufs: dict[str, torch.Tensor], h: torch.Tensor,
                 h_n: torch.Tensor, code: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = functional_call(template, ({f"codec.{k}": v for k, v in params.items()},
                                         {f"codec.{k}": v for k, v in bufs.items()}), (h_n, code, noise))
        return distortion(h, out["h_hat"]), latent_bits(out)

    for _ in range(cfg.steps):
        hs, noises = [], []
        for k in range(num_users):  # the draws only: each user's own generator, in train()'s order
            if pos[k] + size > len(h_all[k]):
                orders[k], pos[k] = torch.randperm(len(h_all[k]), generator=gens[k]), 0
            h = h_all[k][orders[k][pos[k]:pos[k] + size]]
            pos[k] += size
            if optim["augment_delay_taps"] > 0 or optim["augment_angle_bins"] > 0:
                h = augment(h, gens[k], optim["augment_delay_taps"], optim["augment_angle_bins"], array)
            hs.append(h)
            noises.append(torch.rand((size, *ues[0].latent_shape), generator=gens[k]) - 0.5)
        h_b = torch.stack(hs)
        code = norm_code(h_b.flatten(0, 1)).reshape(num_users, size)
        h_n = normalize(h_b.flatten(0, 1), code.flatten()).reshape(h_b.shape)
        params = dict(stacked)
        if coded:
            params.update({k: stacked[k] + quantize_ste(deltas[k], coding) for k in deltas})
        d, bits = vmap(one_user)(params, buffers, h_b, h_n, code, torch.stack(noises))
        r_lat = bits / (size * dims)
        r_upd = (_rates(deltas, coding) / (nums * dims)) if coded else torch.zeros(num_users)
        loss = lmbda * d + r_lat + (cfg.beta * r_upd if cfg.regularize else 0.0)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        for key, value in (("loss", loss), ("d", d), ("r_latent", r_lat), ("r_update", r_upd)):
            curve[key].append(value.detach())
    curves = {key: torch.stack(v, dim=1).to(torch.float64).numpy() for key, v in curve.items()}
    results = []
    for k, ue in enumerate(ues):
        before = decoder_state(ue, names)
        with torch.no_grad():
            for name, p in ue.named_parameters():
                p.copy_(stacked[name][k] + deltas[name][k] if coded and name in deltas else stacked[name][k])
        ue.eval()
        user_curve = {key: c[k] for key, c in curves.items()}
        if coded:
            enc = encode_update(ue, before, coding, names=names)
            results.append(FinetuneResult(ue, enc.payload, enc.bits, enc.num_nonzero, cfg.steps, user_curve,
                                          enc.estimated_bits))
        else:
            changed = sum(int((v != before[n]).sum()) for n, v in decoder_state(ue, names).items())
            results.append(FinetuneResult(ue, None, 0, changed if procedure == "genie" else 0, cfg.steps, user_curve))
    return results


def _rates(deltas: dict[str, torch.Tensor], coding: UpdateCoding) -> torch.Tensor:
    """Per-user update rate [K] bits: ``rate_bits`` of each user's slices (bin masses are elementwise)."""
    return vmap(lambda ds: rate_bits(list(ds.values()), coding))(deltas)
