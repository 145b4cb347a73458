"""The mini-batch Adam loop every fine-tuning procedure runs, with delay/angle augmentation.

    h_window [N, A, S] complex64 --(shuffled mini-batches, augment, forward, lambda * D + R_latent
                                    [+ beta * R_update], Adam step)--> trained codec + loss curve
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from simnet.learning.finetune import FinetuneConfig, _call, _lmbda, codec_distortion, latent_bits, optimisation


def array_shape(codec: Any, num_ant: int) -> tuple[int, int]:
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


def train(codec: Any, h_window: np.ndarray, rng: np.random.Generator, cfg: FinetuneConfig,
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
    optim = optimisation(codec, cfg)
    opt = torch.optim.Adam(trainable, lr=optim["lr"])
    lmbda, batch = _lmbda(codec, cfg), min(cfg.batch_size, num)
    array = array_shape(codec, h_all.shape[1])
    curve: dict[str, list[float]] = {"loss": [], "d": [], "r_latent": [], "r_update": []}
    order = torch.randperm(num, generator=gen)
    pos = 0
    codec.train()
    for step in range(cfg.steps):
        if pos + batch > num:
            order, pos = torch.randperm(num, generator=gen), 0
        h = h_all[order[pos:pos + batch]]
        pos += batch
        if optim["augment_delay_taps"] > 0 or optim["augment_angle_bins"] > 0:
            h = augment(h, gen, optim["augment_delay_taps"], optim["augment_angle_bins"], array)
        out = _call(codec, h, gen, params_fn())
        d = codec_distortion(codec, h, out)
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


def split_parameters(codec: Any) -> tuple[dict[str, torch.nn.Parameter], dict[str, torch.nn.Parameter]]:
    """(encoder-side, decoder-side) trainable parameters by name."""
    dec_names = set(codec.decoder_parameter_names())
    params = dict(codec.named_parameters())
    enc = {k: p for k, p in params.items() if k not in dec_names}
    dec = {k: p for k, p in params.items() if k in dec_names}
    return enc, dec
