"""Fine-tuning procedures on a window of CSI: encoder-only, full-model, genie, translation (paper 000, III).

    h_window [N, A, S] complex64 --(Adam, `steps` mini-batches)--> new codec (+ coded decoder update)

* ``encoder_only``: decoder and latent prior frozen; loss ``lambda * D + R_latent``; nothing to send.
* ``full_model``: everything trained, decoder-side tensors as ``theta + Q_t(delta)`` (straight-through),
  loss eq. 21 ``lambda * D + R_latent + beta * R_update``; the quantized delta is coded (``updates.py``).
* ``genie``: full model without quantization or update cost; delivered for free (the lower bound).
* ``translation``: translation/retranslation modules around a frozen backbone (``translation.py``),
  the retranslation parameters coded as an update like ``full_model``'s.

Units of the loss: ``D`` is the mean per-sample NMSE (linear); rates are bits per CSI real dimension
(``2 * A * S`` per sample). ``R_update`` spreads the update's bits over the ``N`` window samples it was
learnt from. The training choice (recorded for issue 5): Adam, lr 3e-2, 60 steps of 32-sample mini-batches
(epochs reshuffled), which keeps a 250-sample full-model fine-tune of the rd-cnn codec at ~3-5 s on one CPU
thread (benchmarks/bench_finetune.py). The rd-cnn's trainable tensors are per-bin log-scales and prior
parameters of order 1: at lr 1e-3 60 Adam steps move each by at most 0.06 and nothing is learnt (measured:
every variant within 0.1 dB of no fine-tuning). Every mini-batch is augmented with random delay (+-3 taps)
and angle (+-0.75 DFT bins per array axis) shifts: trained on the window alone, the per-bin codec learns the
window's exact bins and loses most of its gain a few metres later; the shifts the UE's movement will bring
keep it (quadriga_track, 250-sample window, next 350 reports: -5.5 dB without, -6.1 dB with).
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch.func import functional_call

from simnet.coding.updates import UpdateCoding, code_deltas, decoder_state, encode_update, quantize_ste, rate_bits
from simnet.errors import ConfigError
from simnet.learning.translation_module import TranslatedCodec, wrap_translation

TRANSLATION_DEFAULTS: dict[str, Any] = {"lr": 1e-3, "t": 0.005, "sigma_slab": 0.05}
"""Translation-module defaults (``FinetuneConfig.from_kwargs`` keywords): its conv weights diverge at the
full-model lr (3e-2: +42 dB NMSE measured) and their updates at lr 1e-3 are far below the full-model t."""

DEFAULT_LMBDA = 16.0
"""lambda when neither the scenario nor the codec (``lmbda`` / checkpoint metadata) gives one."""


@dataclass(frozen=True)
class FinetuneConfig:
    """Optimisation and update-coding settings of a fine-tune.

    Attributes:
        steps: optimizer steps (mini-batches).
        batch_size: samples per mini-batch (capped at the window size).
        lr: Adam learning rate.
        lmbda: distortion weight lambda; None takes the codec's ``lmbda`` attribute or its checkpoint's
            ``lmbda`` metadata (the pretraining lambda), else ``DEFAULT_LMBDA``.
        beta: weight of the update rate in eq. 21.
        regularize: include ``beta * R_update`` in the loss (the Fig. 8b ablation switches it off).
        coding: update quantizer and prior.
        augment_delay_taps: each training sample gets a random delay shift, uniform in
            ``[-augment_delay_taps, augment_delay_taps]`` taps (a phase ramp over the subcarriers), so the
            fine-tuned codec covers the delays the UE will see next, not only the window's (0: off).
        augment_angle_bins: likewise a random angle shift per array axis, in DFT bins of that axis (a phase
            ramp over the array, 0: off).
    """

    steps: int = 60
    batch_size: int = 32
    lr: float = 3e-2
    lmbda: float | None = None
    beta: float = 0.3
    regularize: bool = True
    coding: UpdateCoding = field(default_factory=UpdateCoding)
    augment_delay_taps: float = 3.0
    augment_angle_bins: float = 0.75

    def __post_init__(self) -> None:
        _check("steps", self.steps, int, 1, 100_000)
        _check("batch_size", self.batch_size, int, 1, 100_000)
        _check("lr", self.lr, float, 1e-9, 1.0)
        if self.lmbda is not None:
            _check("lambda", self.lmbda, float, 1e-9, 1e9)
        _check("beta", self.beta, float, 0.0, 1e9)
        _check("augment_delay_taps", self.augment_delay_taps, float, 0.0, 1e6)
        _check("augment_angle_bins", self.augment_angle_bins, float, 0.0, 1e6)
        if not isinstance(self.regularize, bool):
            raise ConfigError(f"regularize: {self.regularize!r} is not allowed (allowed: true or false)")

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
        coding = UpdateCoding(**{k: merged[k] for k in coding_keys if k in merged})
        args = {("lmbda" if k == "lambda" else k): merged[k] for k in own if k in merged}
        return cls(coding=coding, **args)


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
        {"d": mean per-sample NMSE (linear), "r_latent": estimated latent rate [bits per real dimension],
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
    d = float(distortion(h_t, out["h_hat"]))
    r_latent = float(latent_bits(out)) / (h_t.shape[0] * 2 * h_t.shape[1] * h_t.shape[2])
    return {"d": d, "r_latent": r_latent, "loss": _lmbda(codec, cfg or FinetuneConfig()) * d + r_latent}


def _array_shape(codec: Any, num_ant: int) -> tuple[int, int]:
    """(rows, cols) of the BS planar array the codec assumes (a 1-D array if it names none)."""
    for owner in (codec, getattr(codec, "backbone", None)):
        shape = (getattr(owner, "config", None) or {}).get("bs_array")
        if shape is not None and int(shape[0]) * int(shape[1]) == num_ant:
            return int(shape[0]), int(shape[1])
    return 1, num_ant


def augment(h: torch.Tensor, gen: torch.Generator, delay_taps: float, angle_bins: float,
            array: tuple[int, int]) -> torch.Tensor:
    """Random delay and angle shifts of a batch (phase ramps; the norm of every sample is kept).

    Args:
        h: [B, A, S] complex64.
        gen: source of the shifts.
        delay_taps: largest delay shift [taps of the S-point delay grid].
        angle_bins: largest angle shift per array axis [DFT bins of that axis].
        array: (rows, cols) of the planar array, rows * cols = A.

    Returns:
        [B, A, S] complex64: ``h[b, a, s] * exp(-2j pi (tau_b s / S - u_b r_a / rows - v_b c_a / cols))``.
    """
    num, num_ant, num_sc = h.shape
    shift = (torch.rand(num, 3, generator=gen, dtype=torch.float64) * 2 - 1) * torch.tensor(
        [delay_taps, angle_bins, angle_bins], dtype=torch.float64)
    ant = torch.arange(num_ant, dtype=torch.float64)
    rows, cols = array
    phase_sc = -shift[:, :1] * torch.arange(num_sc, dtype=torch.float64) / num_sc  # [B, S]
    phase_ant = shift[:, 1:2] * torch.div(ant, cols, rounding_mode="floor") / rows + shift[:, 2:3] * (ant % cols) / cols
    phase = 2 * math.pi * (phase_ant[:, :, None] + phase_sc[:, None, :])
    return h * torch.polar(torch.ones_like(phase), phase).to(torch.complex64)


def _train(codec: Any, h_window: np.ndarray, rng: np.random.Generator, cfg: FinetuneConfig,
           trainable: list[torch.Tensor],
           params_fn: Callable[[], Mapping[str, torch.Tensor] | None],
           update_rate: Callable[[], torch.Tensor] | None,
           on_step: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """The shared mini-batch Adam loop (``on_step(step)`` after each optimizer step). Returns the per-step
    loss curve."""
    h_all = torch.from_numpy(np.ascontiguousarray(h_window, dtype=np.complex64))
    num, dims = h_all.shape[0], 2 * h_all.shape[1] * h_all.shape[2]
    if num == 0:
        raise ValueError("fine-tuning needs at least one CSI sample in the window")
    gen = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
    opt = torch.optim.Adam(trainable, lr=cfg.lr)
    lmbda, batch = _lmbda(codec, cfg), min(cfg.batch_size, num)
    array = _array_shape(codec, h_all.shape[1])
    curve: dict[str, list[float]] = {"loss": [], "d": [], "r_latent": [], "r_update": []}
    order = torch.randperm(num, generator=gen)
    pos = 0
    codec.train()
    for step in range(cfg.steps):
        if pos + batch > num:
            order, pos = torch.randperm(num, generator=gen), 0
        h = h_all[order[pos:pos + batch]]
        pos += batch
        if cfg.augment_delay_taps > 0 or cfg.augment_angle_bins > 0:
            h = augment(h, gen, cfg.augment_delay_taps, cfg.augment_angle_bins, array)
        out = _call(codec, h, gen, params_fn())
        d = distortion(h, out["h_hat"])
        r_lat = latent_bits(out) / (batch * dims)
        r_upd = update_rate() / (num * dims) if update_rate is not None else torch.zeros(())
        loss = lmbda * d + r_lat + (cfg.beta * r_upd if cfg.regularize else 0.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        for key, value in (("loss", loss), ("d", d), ("r_latent", r_lat), ("r_update", r_upd)):
            curve[key].append(float(value.detach()) if isinstance(value, torch.Tensor) else float(value))
        if on_step is not None:
            on_step(step)
    codec.eval()
    return {k: np.asarray(v, dtype=np.float64) for k, v in curve.items()}


def _split(codec: Any) -> tuple[dict[str, torch.nn.Parameter], dict[str, torch.nn.Parameter]]:
    """(encoder-side, decoder-side) trainable parameters by name."""
    dec_names = set(codec.decoder_parameter_names())
    params = dict(codec.named_parameters())
    enc = {k: p for k, p in params.items() if k not in dec_names}
    dec = {k: p for k, p in params.items() if k in dec_names}
    return enc, dec


# ------------------------------------------------------------------------------------------ procedures
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
    enc, dec = _split(ue)
    for p in dec.values():
        p.requires_grad_(False)
    curve = _train(ue, h_window, rng, cfg, list(enc.values()), lambda: None, None)
    for p in dec.values():
        p.requires_grad_(True)
    return FinetuneResult(ue, None, 0, 0, cfg.steps, curve)


def _coded_finetune(ue: Any, h_window: np.ndarray, rng: np.random.Generator, cfg: FinetuneConfig,
                    trainable_enc: list[torch.Tensor], names: list[str], trace_every: int = 0) -> FinetuneResult:
    """Train ``trainable_enc`` and the decoder-side parameters among ``names`` as ``theta + Q_t(delta)``.

    The update covers all of ``names`` (buffers and frozen tensors code as zeros). With ``trace_every > 0``
    the update is range coded for real after every ``trace_every``-th step and after the last one (~4 ms
    per coding of the rd-cnn's 59 K decoder-side parameters).
    """
    params_by_name = dict(ue.named_parameters())
    coded = {k: params_by_name[k] for k in names if k in params_by_name}
    base_state = decoder_state(ue, names)
    base = {k: p.detach().clone() for k, p in coded.items()}
    deltas = {k: torch.zeros_like(p, requires_grad=True) for k, p in coded.items()}

    def params() -> dict[str, torch.Tensor]:
        return {k: base[k] + quantize_ste(deltas[k], cfg.coding) for k in coded}

    def rate() -> torch.Tensor:
        return rate_bits(list(deltas.values()), cfg.coding)

    trace: list[dict[str, float]] = []

    def record(step: int) -> None:
        if trace_every <= 0 or ((step + 1) % trace_every and step + 1 != cfg.steps):
            return
        with torch.no_grad():  # the same float32 arithmetic as the final commit below
            change = {k: ((base[k] + deltas[k]) - v if k in coded else torch.zeros_like(v))
                      for k, v in base_state.items()}
        enc, _ = code_deltas(change, base_state, cfg.coding)
        trace.append({"step": step + 1, "num_nonzero": enc.num_nonzero, "update_bits": enc.bits,
                      "estimated_update_bits": enc.estimated_bits})

    for p in coded.values():
        p.requires_grad_(False)
    curve = _train(ue, h_window, rng, cfg, trainable_enc + list(deltas.values()), params, rate, record)
    with torch.no_grad():
        for k, p in coded.items():
            p.copy_(base[k] + deltas[k])
            p.requires_grad_(True)
    enc = encode_update(ue, base_state, cfg.coding, names=names)
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
    enc, _ = _split(ue)
    return _coded_finetune(ue, h_window, rng, cfg, list(enc.values()), list(ue.decoder_parameter_names()),
                           trace_every)


def genie(codec: Any, h_window: np.ndarray, rng: np.random.Generator,
          cfg: FinetuneConfig | None = None) -> FinetuneResult:
    """Full-model fine-tune without update quantization or cost (the decoder reaches the BS for free)."""
    cfg = replace(cfg or FinetuneConfig(), regularize=False)
    ue = copy.deepcopy(codec)
    before = decoder_state(ue)
    trainable = [p for p in ue.parameters() if p.requires_grad]
    curve = _train(ue, h_window, rng, cfg, trainable, lambda: None, None)
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
