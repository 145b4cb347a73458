"""Fine-tuning settings, results and objective, shared by the procedures in ``procedures.py`` (paper 000, III).

    FinetuneConfig (steps, lr, lambda, beta, update coding) --> training.train / procedures.* --> FinetuneResult
    objective(codec, h): the loss as the codec itself scores it (eval mode), used by the gate (gated.py)

Units of the loss: ``D`` is the mean per-sample NMSE (linear); rates are bits per CSI real dimension
(``2 * A * S`` per sample). ``R_update`` spreads the update's bits over the ``N`` window samples it was
learnt from. The training choice (recorded for issue 5): Adam, lr 3e-2, 60 steps of 32-sample mini-batches
(epochs reshuffled), which keeps a 250-sample full-model fine-tune of the learned-transform codec at ~3-5 s on one CPU
thread (benchmarks/bench_finetune.py). The learned-transform's trainable tensors are per-bin log-scales and prior
parameters of order 1: at lr 1e-3 60 Adam steps move each by at most 0.06 and nothing is learnt (measured:
every variant within 0.1 dB of no fine-tuning). Every mini-batch is augmented with random delay (+-3 taps)
and angle (+-0.75 DFT bins per array axis) shifts: trained on the window alone, the per-bin codec learns the
window's exact bins and loses most of its gain a few metres later; the shifts the UE's movement will bring
keep it (quadriga_track, 250-sample window, next 350 reports: -5.5 dB without, -6.1 dB with).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch.func import functional_call

from simnet.coding.updates import UpdateCoding
from simnet.errors import ConfigError

FINETUNE_DEFAULTS: dict[str, float] = {"lr": 3e-2, "augment_delay_taps": 3.0, "augment_angle_bins": 0.75}
"""Optimisation settings of a fine-tune that neither the scenario nor the codec (its ``finetune_defaults``)
sets: those measured for the learned-transform codec (see the module docstring)."""

TRANSLATION_DEFAULTS: dict[str, Any] = {"lr": 1e-3, "t": 0.005, "sigma_slab": 0.05}
"""Translation-module defaults (``FinetuneConfig.from_kwargs`` keywords): its conv weights diverge at the
full-model lr (3e-2: +42 dB NMSE measured) and their updates at lr 1e-3 are far below the full-model t."""

@dataclass(frozen=True)
class FinetuneConfig:
    """Optimisation and update-coding settings of a fine-tune.

    Attributes:
        steps: optimizer steps (mini-batches).
        batch_size: samples per mini-batch (capped at the window size).
        lr: Adam learning rate; None: the codec's (:func:`optimisation`).
        lmbda: distortion weight lambda; None takes the codec's own (``simnet.codecs.codec_lmbda``: its
            checkpoint's training lambda, else the codec block's ``lmbda``, else ``simnet.codecs.DEFAULT_LMBDA``),
            the same lambda the run's tables rank by.
        beta: weight of the update rate in eq. 21.
        regularize: include ``beta * R_update`` in the loss (the Fig. 8b ablation switches it off).
        coding: update quantizer and prior, complete; None: the codec's (:func:`update_coding`: its class's
            ``update_coding_defaults`` with ``coding_keywords`` applied).
        coding_keywords: the update-coding keywords a scenario gave (``prior, num_bins, t, alpha,
            sigma_slab``), applied over the codec's defaults when ``coding`` is None.
        augment_delay_taps: each training sample gets a random delay shift, uniform in
            ``[-augment_delay_taps, augment_delay_taps]`` taps (a phase ramp over the subcarriers), so the
            fine-tuned codec covers the delays the UE will see next, not only the window's (0: off; None:
            the codec's, :func:`optimisation`).
        augment_angle_bins: likewise a random angle shift per array axis, in DFT bins of that axis (a phase
            ramp over the array, 0: off).
    """

    steps: int = 60
    batch_size: int = 32
    lr: float | None = None
    lmbda: float | None = None
    beta: float = 0.3
    regularize: bool = True
    coding: UpdateCoding | None = None
    coding_keywords: tuple[tuple[str, Any], ...] = ()
    augment_delay_taps: float | None = None
    augment_angle_bins: float | None = None

    def __post_init__(self) -> None:
        _check("steps", self.steps, int, 1, 100_000)
        _check("batch_size", self.batch_size, int, 1, 100_000)
        if self.lr is not None:
            _check("lr", self.lr, float, 1e-9, 1.0)
        if self.lmbda is not None:
            _check("lambda", self.lmbda, float, 1e-9, 1e9)
        _check("beta", self.beta, float, 0.0, 1e9)
        for key in ("augment_delay_taps", "augment_angle_bins"):
            if getattr(self, key) is not None:
                _check(key, getattr(self, key), float, 0.0, 1e6)
        if not isinstance(self.regularize, bool):
            raise ConfigError(f"regularize: {self.regularize!r} is not allowed (allowed: true or false)")
        # the given keywords now; the complete coding (the codec's defaults filled in) when update_coding() builds it
        UpdateCoding.check_keywords(dict(self.coding_keywords))

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], **defaults: Any) -> FinetuneConfig:
        """Build from scenario keywords (``steps, batch_size, lr, lambda, beta, regularize, augment_delay_taps,
        augment_angle_bins, prior, num_bins, t, alpha, sigma_slab``); ``defaults`` override the class
        defaults before ``kwargs`` apply."""
        own = {"steps", "batch_size", "lr", "lambda", "beta", "regularize", "augment_delay_taps",
               "augment_angle_bins"}
        coding_keys = {"prior", "num_bins", "t", "alpha", "sigma_slab"}
        unknown = sorted(set(kwargs) - own - coding_keys)
        if unknown:
            raise ConfigError(f"unknown fine-tuning keyword {unknown[0]!r} (allowed: "
                              f"{', '.join(sorted(own | coding_keys))})")
        merged = {**defaults, **kwargs}
        coding = tuple(sorted((k, merged[k]) for k in coding_keys if k in merged))
        args = {("lmbda" if k == "lambda" else k): merged[k] for k in own if k in merged}
        return cls(coding_keywords=coding, **args)

    def with_coding(self, **changes: Any) -> FinetuneConfig:
        """This config with the update-coding keywords ``changes`` applied (to ``coding`` where it is set)."""
        if self.coding is not None:
            return replace(self, coding=replace(self.coding, **changes))
        return replace(self, coding_keywords=tuple(sorted({**dict(self.coding_keywords), **changes}.items())))


def _check(key: str, value: Any, kind: type, lo: float, hi: float) -> None:
    what = "integer" if kind is int else "number"
    if isinstance(value, bool) or not isinstance(value, int if kind is int else int | float):
        article = "an" if kind is int else "a"
        raise ConfigError(f"{key}: must be {article} {what} in [{lo:g}, {hi:g}], "
                          f"got {type(value).__name__} {value!r:.200}")
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ConfigError(f"{key}: {value!r} is out of range (allowed: {what} in [{lo:g}, {hi:g}])")


@dataclass
class FinetuneResult:
    """What a fine-tune produced.

    Attributes:
        codec: the UE's new codec (decoder-side tensors already quantized when an update is coded).
        payload: coded update for the BS, or None (encoder-only, genie).
        bits: ``8 * len(payload)`` (0 without payload).
        num_nonzero: decoder-side parameters that changed (non-zero quantized updates).
        num_steps: optimizer steps taken.
        curve: per-step loss terms ``{"loss", "d", "r_latent", "r_update"}`` (numpy float64 [num_steps]).
        estimated_update_bits: ideal code length of the update under its prior.
        trace: per traced step of a coded fine-tune (``trace_every > 0``), the update as it would be sent
            after that step: ``{"step", "num_nonzero", "update_bits" (8 * len of the real payload),
            "estimated_update_bits"}``; the last entry is the update actually sent.
    """

    codec: Any
    payload: bytes | None
    bits: int
    num_nonzero: int
    num_steps: int
    curve: dict[str, np.ndarray]
    estimated_update_bits: float = 0.0
    trace: list[dict[str, float]] = field(default_factory=list)

    def info(self) -> dict[str, float]:
        """Scalars for the result tables."""
        out = {"num_nonzero": float(self.num_nonzero), "estimated_update_bits": self.estimated_update_bits}
        for key, values in self.curve.items():
            if len(values):
                out[f"{key}_first"], out[f"{key}_last"] = float(values[0]), float(values[-1])
        return out


# ------------------------------------------------------------------------------------------------ loss
def distortion(h: torch.Tensor, h_hat: torch.Tensor) -> torch.Tensor:
    """Mean per-sample NMSE (linear).

    Args:
        h: [B, A, S] complex64 target.
        h_hat: [B, A, S] complex64, or [B, A, S, 2] float32 real/imag.
    """
    if not torch.is_complex(h_hat):
        h_hat = torch.view_as_complex(h_hat.contiguous())
    err = (h_hat - h).abs().square().flatten(1).sum(1)
    return (err / h.abs().square().flatten(1).sum(1).clamp_min(1e-30)).mean()


def codec_distortion(codec: Any, h: torch.Tensor, out: Mapping[str, Any]) -> torch.Tensor:
    """The distortion a fine-tune minimises: the codec's own ``distortion(h, out)`` if it has one
    (``eigen-sgcs``: 1 - SGCS), else the mean per-sample NMSE of ``out["h_hat"]`` (:func:`distortion`)."""
    own = getattr(codec, "distortion", None)
    return own(h, out) if own is not None else distortion(h, out["h_hat"])


def latent_bits(out: Mapping[str, Any]) -> torch.Tensor:
    """Total ``-log2`` likelihood of all latents in a forward output [bits], float32 scalar."""
    total = torch.zeros(())
    for lik in out.get("likelihoods", {}).values():
        total = total + (-torch.log2(lik.clamp_min(1e-9))).sum()
    return total


def _call(codec: Any, h: torch.Tensor, gen: torch.Generator,
          params: Mapping[str, torch.Tensor] | None) -> Any:
    """Forward with the training noise drawn from ``gen`` when the codec accepts a generator."""
    kwargs = {"generator": gen} if "generator" in inspect.signature(codec.forward).parameters else {}
    if params is None:
        return codec(h, **kwargs)
    return functional_call(codec, dict(params), (h,), kwargs)


def optimisation(codec: Any, cfg: FinetuneConfig) -> dict[str, float]:
    """``lr``, ``augment_delay_taps`` and ``augment_angle_bins`` of a fine-tune of ``codec``: each from ``cfg``
    where the scenario gave it, else the codec class's ``finetune_defaults``, else :data:`FINETUNE_DEFAULTS`."""
    own = getattr(codec, "finetune_defaults", {})
    return {key: float(value if (value := getattr(cfg, key)) is not None else own.get(key, default))
            for key, default in FINETUNE_DEFAULTS.items()}  # fmt: skip


def update_coding(codec: Any, cfg: FinetuneConfig) -> UpdateCoding:
    """The update quantizer and prior of a fine-tune of ``codec``: ``cfg.coding`` where set, else the codec
    class's ``update_coding_defaults`` (its parameters' scale sets the quantizer step ``t``) with the
    scenario's ``cfg.coding_keywords`` applied, else :class:`UpdateCoding`'s defaults (those of the
    learned-transform codec, core paper Table IV)."""
    if cfg.coding is not None:
        return cfg.coding
    own = dict(getattr(codec, "update_coding_defaults", {}))
    return UpdateCoding(**{**own, **dict(cfg.coding_keywords)})


def _lmbda(codec: Any, cfg: FinetuneConfig) -> float:
    from simnet.codecs.checkpoint import codec_lmbda  # the one rule the tables use too

    return cfg.lmbda if cfg.lmbda is not None else codec_lmbda(codec)


@torch.no_grad()
def objective(codec: Any, h: np.ndarray, cfg: FinetuneConfig | None = None) -> dict[str, float]:
    """The fine-tuning objective of ``codec`` on samples, as the codec itself scores them: eval mode
    (latents rounded), no augmentation, the same ``lambda`` as a fine-tune with ``cfg``.

    Args:
        codec: any codec with the training interface (not modified; its train/eval mode is restored).
        h: [N, A, S] complex64 CSI samples, N >= 1.
        cfg: gives ``lambda`` (None: the codec's own, as in a fine-tune with default settings).

    Returns:
        {"d": the codec's distortion (:func:`codec_distortion`: mean per-sample NMSE, linear, or 1 - SGCS),
        "r_latent": estimated latent rate [bits per real dimension],
        "loss": ``lambda * d + r_latent``}.
    """
    h_t = torch.from_numpy(np.ascontiguousarray(h, dtype=np.complex64))
    if h_t.shape[0] == 0:
        raise ValueError("the objective needs at least one CSI sample")
    was_training = codec.training
    codec.eval()
    # a fixed generator: codecs that draw noise even in eval mode score both models on the same draw
    out = _call(codec, h_t, torch.Generator().manual_seed(0), None)
    codec.train(was_training)
    d = float(codec_distortion(codec, h_t, out))
    r_latent = float(latent_bits(out)) / (h_t.shape[0] * 2 * h_t.shape[1] * h_t.shape[2])
    return {"d": d, "r_latent": r_latent, "loss": _lmbda(codec, cfg or FinetuneConfig()) * d + r_latent}
