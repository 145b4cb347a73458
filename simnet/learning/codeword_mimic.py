"""Codeword mimic (paper 004): a lightweight student encoder trained to reproduce a teacher's latents.

    teacher (rd-crnet, frozen) ──analysis──> y_t [N, C*A/4*T/4, 1]  (once, before training)
    student (rd-crnet-binary-encoder; decoder + prior copied from the teacher)
       mimic   (first ``mimic_fraction`` of the steps): RD loss + alpha(t) * mean (y_s - y_t)^2,
               one cosine learning rate for encoder and decoder (paper: 2e-3 -> 4e-5)
       explore (the rest): RD loss only; decoder lr 4e-3 -> 4e-5, encoder lr 2e-4 -> 2e-6 (the encoder
               keeps what it mimicked, the decoder adapts to it)
    plain: the same student, data, steps and noise on the RD loss alone, one cosine lr (2e-3 -> 4e-5)

Paper 004 anneals alpha(t) and the learning rates per epoch over hundreds of epochs; a CPU affords a few
epochs, so ``t`` here is the optimizer step (the same curves, sampled finer).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from simnet.codecs import CODECS, rd_loss
from simnet.codecs.normalization import norm_code, normalize
from simnet.errors import ConfigError

SCHEDULES = ("cosine", "linear", "const")


@dataclass(frozen=True)
class MimicSchedule:
    """The training recipe of one student.

    Attributes:
        epochs: passes over the training set (both stages together).
        mimic_fraction: share of the steps in the mimic stage (0: plain training; paper's best 200 of 1000).
        alpha0: the distillation weight at the start, alpha(0) (scales the codeword MSE to the RD loss).
        alpha_schedule: ``cosine`` (paper eq. 5), ``linear`` decay or ``const`` (paper Table III).
        lr: peak learning rate of plain training and of the mimic stage (cosine-annealed to ``lr / 50``).
        explore_decoder_lr: decoder (and prior) learning rate at the start of the explore stage (to / 100).
        explore_encoder_lr: encoder learning rate at the start of the explore stage (to / 100).
        batch_size: reports per Adam step.
    """

    epochs: int = 5
    mimic_fraction: float = 0.2
    alpha0: float = 1.0
    alpha_schedule: str = "cosine"
    lr: float = 2e-3
    explore_decoder_lr: float = 4e-3
    explore_encoder_lr: float = 2e-4
    batch_size: int = 64

    def __post_init__(self) -> None:
        if self.alpha_schedule not in SCHEDULES:
            raise ConfigError(f"alpha_schedule {self.alpha_schedule!r} is not one of {', '.join(SCHEDULES)}")
        if not 0.0 <= self.mimic_fraction < 1.0:
            raise ConfigError(f"mimic_fraction = {self.mimic_fraction}: must be in [0, 1) (the explore stage "
                              f"needs steps)")
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(f"epochs = {self.epochs}, batch_size = {self.batch_size}: both must be >= 1")


def distillation_weight(step: int, num_mimic_steps: int, alpha0: float, schedule: str = "cosine") -> float:
    """alpha(t) of paper 004 eq. (5) (and its Table III alternatives); 0 from step ``num_mimic_steps`` on."""
    if step >= num_mimic_steps:
        return 0.0
    frac = step / num_mimic_steps
    if schedule == "cosine":
        return 0.5 * alpha0 * (1.0 + math.cos(math.pi * frac))
    if schedule == "linear":
        return alpha0 * (1.0 - frac)
    return alpha0


def student_from_teacher(teacher: Any, student_type: str = "rd-crnet-binary-encoder", seed: int = 0,
                         **student_kwargs: Any) -> Any:
    """A student codec with the teacher's BS side (decoder and prior weights copied) and a fresh encoder.

    Args:
        teacher: an rd-crnet codec (its ``config`` sets the shared BS-side architecture).
        student_type: registered codec with the teacher's ``decoder_modules``.
        seed: initialises the student's encoder.
        **student_kwargs: the student's own constructor keywords (e.g. ``num_head_filters``).
    """
    held = tuple(getattr(CODECS.get(student_type), "decoder_modules", ()))
    if held != tuple(teacher.decoder_modules):
        raise ConfigError(f"{student_type} holds {held} at the BS, the teacher {tuple(teacher.decoder_modules)}: "
                          f"a student must share the teacher's decoder")
    try:
        student = CODECS.make(student_type, **{**teacher.config, **student_kwargs, "seed": seed})
    except TypeError as err:
        raise ConfigError(f"{student_type} cannot take the teacher's configuration ({err}): a student must "
                          f"share the teacher's decoder") from None
    bs_state = {k: v for k, v in teacher.state_dict().items() if k.split(".")[0] in teacher.decoder_modules}
    missing = [k for k in bs_state if k not in student.state_dict()]
    if missing:
        raise ConfigError(f"{student_type} has no {missing[0]!r}: it does not share the teacher's decoder")
    student.load_state_dict(bs_state, strict=False)
    student.update_entropy_tables()
    return student.eval()


@torch.no_grad()
def codewords(codec: Any, h: np.ndarray, batch_size: int = 512) -> torch.Tensor:
    """Pre-quantization latents y = analysis(normalised h): [N, *latent_shape] float32 (eval mode)."""
    codec.eval()
    parts = []
    for i in range(0, len(h), batch_size):
        h_t = codec._as_tensor(h[i : i + batch_size])
        parts.append(codec.analysis(normalize(h_t, norm_code(h_t))))
    return torch.cat(parts)


def _forward(codec: Any, h: torch.Tensor, gen: torch.Generator) -> tuple[dict[str, Any], torch.Tensor]:
    """RDCodec.forward that also returns the student's latent y [B, *latent_shape]."""
    h_n = normalize(h, norm_code(h))
    y = codec.analysis(h_n)
    y_tilde, likelihoods = codec.prior(y, gen)
    return {"h_n": h_n, "h_n_hat": codec.synthesis(y_tilde), "likelihoods": {"y": likelihoods}}, y


def _cosine(opt: torch.optim.Optimizer, num_steps: int, ratio: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step cosine annealing of every group from its lr to ``lr * ratio`` over ``num_steps``."""
    def factor(step: int) -> float:
        return ratio + (1.0 - ratio) * 0.5 * (1.0 + math.cos(math.pi * min(step, num_steps) / num_steps))
    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def train_student(student: Any, h_train: np.ndarray, lmbda: float, schedule: MimicSchedule,
                  y_teacher: torch.Tensor | None = None, seed: int = 0) -> dict[str, Any]:
    """Train a student on the RD loss, with codeword mimic when ``schedule.mimic_fraction > 0``.

    Args:
        student: from :func:`student_from_teacher`.
        h_train: [N, A, S] complex64 training channels.
        lmbda: the RD weight (the teacher's).
        schedule: the recipe; ``mimic_fraction = 0`` is plain training.
        y_teacher: [N, *latent_shape] the teacher's codewords of ``h_train`` (needed when mimicking).
        seed: batch order and quantization noise (same seed: same batches and noise for every recipe).

    Returns:
        {"steps", "mimic_steps", "wall_s", "history": [{"step", "alpha", "loss", "mse", "bpd", "mse_cm"}]
        every ``len(h_train) // batch_size`` steps}.
    """
    h_tr = torch.as_tensor(h_train)
    batches_per_epoch = math.ceil(len(h_tr) / schedule.batch_size)
    num_steps = schedule.epochs * batches_per_epoch
    num_mimic = int(round(schedule.mimic_fraction * num_steps))
    if num_mimic and y_teacher is None:
        raise ConfigError("codeword mimic needs the teacher's codewords (y_teacher)")
    decoder = [p for n, p in student.named_parameters() if n.split(".")[0] in student.decoder_modules]
    encoder = [p for n, p in student.named_parameters() if n.split(".")[0] not in student.decoder_modules]
    opt = torch.optim.Adam([{"params": encoder}, {"params": decoder}], lr=schedule.lr)
    sched = _cosine(opt, num_mimic if num_mimic else num_steps, 1 / 50)
    gen = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    student.train()
    step = 0
    for _ in range(schedule.epochs):
        order = torch.randperm(len(h_tr), generator=gen)
        for i in range(0, len(order), schedule.batch_size):
            if num_mimic and step == num_mimic:  # explore: fresh Adam, the paper's two learning rates
                opt = torch.optim.Adam([{"params": encoder, "lr": schedule.explore_encoder_lr},
                                        {"params": decoder, "lr": schedule.explore_decoder_lr}])
                sched = _cosine(opt, num_steps - num_mimic, 1 / 100)
            idx = order[i : i + schedule.batch_size]
            out, y = _forward(student, h_tr[idx].to(torch.complex64), gen)
            terms = rd_loss(out, lmbda)
            alpha = distillation_weight(step, num_mimic, schedule.alpha0, schedule.alpha_schedule)
            loss = terms["loss"]
            mse_cm = torch.zeros(())
            if y_teacher is not None:
                mse_cm = (y - y_teacher[idx]).square().mean()
            if alpha > 0.0:
                loss = loss + alpha * mse_cm
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if step % batches_per_epoch == 0 or step == num_steps - 1:
                history.append({"step": step, "alpha": alpha, "loss": float(terms["loss"].detach()),
                                "mse": float(terms["mse"].detach()), "bpd": float(terms["bpd"].detach()),
                                "mse_cm": float(mse_cm.detach())})
            step += 1
    student.eval()
    student.update_entropy_tables()
    return {"steps": num_steps, "mimic_steps": num_mimic, "wall_s": time.perf_counter() - start,
            "history": history}
