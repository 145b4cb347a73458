"""Codeword mimic against plain training of a lightweight encoder (paper 004 Table I, on simnet's channels).

    teacher checkpoint (rd-crnet) ──student_from_teacher──> student (binary encoder, teacher's BS side)
    o1_like train tracks ──> h_train ──train_student: plain | mimic-explore (alpha schedule)──> students
    o1_like test tracks ──> h_test ──stream_rd (real streams)──> one row per codec, beside paper 004's Table I
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from pydantic.dataclasses import dataclass
from torch.utils.flop_counter import FlopCounterMode

from simnet.analysis.report import markdown_table
from simnet.errors import ConfigError
from simnet.experiments.base import EXPERIMENT_STRICT, RunContext, choice, nonempty_unique, register_experiment
from simnet.experiments.data import check_presets, paper_numbers, resolve_checkpoints, stream_rd

PAPER_ETA = "1/4"  # the compression ratio whose rows sit beside ours (paper 004's ablations use it too)
COLUMNS = ["method", "codec", "bits_per_dim", "nmse_db", "rd_objective", "codeword_mse", "ue_params",
           "ue_binary_params", "ue_size_bits", "ue_mults", "ue_flops", "bs_params", "bs_flops", "paper_method",
           "paper_mul", "paper_params", "paper_nmse_indoor_db", "paper_nmse_outdoor_db"]


def bs_cost(codec: Any) -> dict[str, int]:
    """BS-side parameters (decoder and prior) and decoder FLOPs per report (``FlopCounterMode``)."""
    names = set(codec.decoder_parameter_names())
    params = sum(p.numel() for n, p in codec.named_parameters() if n in names)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        codec.synthesis(torch.zeros(1, *codec.latent_shape))
    return {"bs_params": params, "bs_flops": int(counter.get_total_flops())}


@register_experiment("codeword_mimic")
@dataclass(frozen=True, config=EXPERIMENT_STRICT)
class CodewordMimic:
    """A teacher, its binary-encoder student trained plainly, and the student trained by codeword mimic.

    Attributes:
        teacher: rd-crnet checkpoint (shipped name or path); its lambda is the students' RD weight.
        preset: geometric preset of the training (``train`` tracks) and test (``test`` tracks) channels.
        num_train: training reports (drawn with seed + 1); num_test: held-out reports (drawn with seed).
        epochs: training epochs of every student (the same for every recipe).
        mimic_fraction: share of the steps in the mimic stage (paper's best: 200 of 1000 epochs).
        alpha0: alpha(0) of the distillation scheduler (scales the codeword MSE to the RD loss).
        cm_schedules: distillation schedulers to train a CM student with (``cosine``: paper eq. 5;
            ``linear``, ``const``: its Table III ablation).
        batch_size: reports per step; lr: peak lr of plain training and of the mimic stage.
        num_head_filters, binary_kernel: the student encoder (see ``rd-crnet-binary-encoder``).
        scene_seed: scene seed of the preset's channel source.
        save_student: a .pt path: write the CM student of the first ``cm_schedules`` entry there as a
            checkpoint (teacher, recipe and held-out RD in its metadata); a path in the shipped folder is entered
            in ``SHA256SUMS``. The shipped ``rd-crnet-binary-encoder_lambda1.pt`` is this experiment's cosine
            student (docs/codeword_mimic.md).
    """

    title: ClassVar[str] = "Codeword mimic vs plain training of a binary-weight encoder (paper 004 Table I)"
    teacher: str = "rd-crnet_lambda1"
    preset: str = "o1_like"
    num_train: int = field(default=960, metadata={"ge": 8, "le": 100_000})
    num_test: int = field(default=300, metadata={"ge": 2, "le": 100_000})
    epochs: int = field(default=5, metadata={"ge": 1, "le": 10_000})
    mimic_fraction: float = field(default=0.2, metadata={"gt": 0.0, "lt": 1.0})
    alpha0: float = field(default=1.0, metadata={"gt": 0.0, "le": 1e6})
    cm_schedules: tuple[str, ...] = ("cosine",)
    batch_size: int = field(default=64, metadata={"ge": 1, "le": 4096})
    lr: float = field(default=2e-3, metadata={"gt": 0.0, "le": 1.0})
    num_head_filters: int = field(default=8, metadata={"ge": 1, "le": 256})
    binary_kernel: int = field(default=5, metadata={"ge": 1, "le": 9})
    scene_seed: int = field(default=0, metadata={"ge": 0})
    save_student: str | None = None

    def __post_init__(self) -> None:
        from simnet.codecs import checkpoint_header
        from simnet.learning.codeword_mimic import SCHEDULES

        (path,) = resolve_checkpoints("teacher", [self.teacher])
        kind = checkpoint_header(path)["type"]
        if kind != "rd-crnet":
            raise ConfigError(f"teacher: {self.teacher!r} is a {kind} checkpoint; the student shares rd-crnet's "
                              f"decoder, so give an rd-crnet checkpoint (simnet pretrain --codec rd-crnet)")
        check_presets("preset", [self.preset])
        nonempty_unique("cm_schedules", self.cm_schedules)
        for i, name in enumerate(self.cm_schedules):
            choice(f"cm_schedules[{i}]", name, SCHEDULES)
        if self.binary_kernel % 2 == 0:
            raise ConfigError(f"binary_kernel: {self.binary_kernel} is even; give 1, 3, 5, 7 or 9")
        if self.save_student is not None and Path(self.save_student).suffix != ".pt":
            raise ConfigError(f"save_student: {self.save_student!r} is not a .pt path; give e.g. "
                              f"simnet/codecs/checkpoints/rd-crnet-binary-encoder_lambda1.pt")

    def run(self, ctx: RunContext) -> pd.DataFrame:
        from simnet.codecs import codec_lmbda, load_codec
        from simnet.learning.codeword_mimic import MimicSchedule, codewords, student_from_teacher, train_student
        from simnet.learning.pretrain import sample_channels

        (path,) = resolve_checkpoints("teacher", [self.teacher])
        teacher = load_codec(path)
        lmbda = codec_lmbda(teacher)
        h_train = sample_channels(self.preset, self.num_train, seed=ctx.seed + 1, split="train",
                                  source_seed=self.scene_seed)
        h_test = sample_channels(self.preset, self.num_test, seed=ctx.seed, split="test", source_seed=self.scene_seed)
        y_train, y_test = codewords(teacher, h_train), codewords(teacher, h_test)
        paper = paper_numbers("004")["table_i"][PAPER_ETA]
        recipes = [("student plain", 0.0, "cosine", "bcrnet")]
        recipes += [(f"student CM ({name} alpha)", self.mimic_fraction, name, "bcrnet_cm" if name == "cosine"
                     else "") for name in self.cm_schedules]
        rows = [self._row("teacher", teacher, h_test, y_test, lmbda, paper["crnet_teacher"], "crnet_teacher")]
        ctx.log(f"teacher {path.name}: {rows[0]['bits_per_dim']:.4f} bits/dim, {rows[0]['nmse_db']:.2f} dB")
        for method, fraction, alpha_schedule, paper_key in recipes:
            student = student_from_teacher(teacher, num_head_filters=self.num_head_filters,
                                           binary_kernel=self.binary_kernel, seed=ctx.seed)
            schedule = MimicSchedule(epochs=self.epochs, mimic_fraction=fraction, alpha0=self.alpha0,
                                     alpha_schedule=alpha_schedule, lr=self.lr, batch_size=self.batch_size)
            result = train_student(student, h_train, lmbda, schedule, y_teacher=y_train, seed=ctx.seed)
            rows.append(self._row(method, student, h_test, y_test, lmbda, paper.get(paper_key, {}), paper_key))
            ctx.log(f"{method}: {rows[-1]['bits_per_dim']:.4f} bits/dim, {rows[-1]['nmse_db']:.2f} dB "
                    f"({result['steps']} steps, {result['mimic_steps']} mimicking, {result['wall_s']:.0f} s)")
            if self.save_student is not None and alpha_schedule == self.cm_schedules[0] and fraction > 0.0:
                saved = self._save(student, teacher, path, h_train, schedule, result, rows[-1], ctx.seed)
                ctx.log(f"{method}: written to {saved}")
        return pd.DataFrame(rows, columns=COLUMNS)

    def _save(self, student: Any, teacher: Any, teacher_path: Path, h_train: np.ndarray, schedule: Any,
              result: dict[str, Any], row: dict[str, Any], seed: int) -> Path:
        """Write the trained student to ``save_student`` with what reproduces and identifies it."""
        from simnet.codecs import codec_lmbda, data_hash, save_codec

        assert self.save_student is not None
        meta = {
            "lmbda": codec_lmbda(teacher), "data_hash": data_hash(h_train), "source": "geometric",
            "source_preset": self.preset, "source_seed": self.scene_seed, "num_train": self.num_train,
            "seed": seed, "epochs": self.epochs, "wall_s": result["wall_s"],
            "teacher": teacher_path.name, "teacher_sha256": teacher.checkpoint_sha256,
            "recipe": {"method": "codeword mimic", **dataclasses.asdict(schedule)},
            "held_out": {"num_test": self.num_test, "bits_per_dim": row["bits_per_dim"], "nmse_db": row["nmse_db"]},
        }  # fmt: skip
        return save_codec(student, self.save_student, **meta)

    @staticmethod
    def _row(method: str, codec: Any, h_test: np.ndarray, y_teacher: torch.Tensor, lmbda: float,
             paper: dict[str, float], paper_key: str) -> dict[str, Any]:
        from simnet.codecs import encoder_cost
        from simnet.codecs.checkpoint import codec_type
        from simnet.learning.codeword_mimic import codewords

        rd = stream_rd(codec, h_test)
        ue = encoder_cost(codec)
        nan = float("nan")
        return {"method": method, "codec": codec_type(codec), "bits_per_dim": rd["latent_bpd"],
                "nmse_db": rd["nmse_db"], "rd_objective": lmbda * 10 ** (rd["nmse_db"] / 10) + rd["latent_bpd"],
                "codeword_mse": float((codewords(codec, h_test) - y_teacher).square().mean()),
                **{f"ue_{k}": v for k, v in ue.items()}, **bs_cost(codec), "paper_method": paper_key or "-",
                "paper_mul": paper.get("mul", nan), "paper_params": paper.get("params", nan),
                "paper_nmse_indoor_db": paper.get("nmse_indoor_db", nan),
                "paper_nmse_outdoor_db": paper.get("nmse_outdoor_db", nan)}

    def markdown(self, table: pd.DataFrame) -> list[str]:
        teacher = table.iloc[0]
        plain = table[table.method == "student plain"].iloc[0]
        lines = ["Paper 004 (Table I, eta = 1/4, COST2100): BCRNet -17.39 / -8.90 dB (indoor / outdoor), "
                 "BCRNet-CM -19.25 / -10.00 dB, teacher CRNet -24.40 / -11.89 dB; the CM student has the plain "
                 "student's encoder, so the gain costs nothing at inference.", "",
                 f"Here: real range-coded streams on held-out channels; J = lambda x NMSE + bits/dim. Teacher "
                 f"{teacher.nmse_db:.2f} dB at {teacher.bits_per_dim:.4f} bits/dim; the student's UE encoder "
                 f"is {teacher.ue_size_bits / plain.ue_size_bits:.1f}x smaller ({plain.ue_size_bits:,} vs "
                 f"{teacher.ue_size_bits:,} bits) with {teacher.ue_mults / plain.ue_mults:.1f}x fewer multiplies.",
                 ""]
        for r in table[table.method.str.startswith("student CM")].itertuples(index=False):
            beats = r.rd_objective < plain.rd_objective
            lines.append(f"- Verdict, {r.method}: {'beats' if beats else 'does not beat'} plain training at equal "
                         f"inference cost (J {r.rd_objective:.4f} vs {plain.rd_objective:.4f}; NMSE "
                         f"{r.nmse_db - plain.nmse_db:+.2f} dB at {r.bits_per_dim / plain.bits_per_dim:.3f}x "
                         f"the rate; codeword MSE {r.codeword_mse:.3f} vs {plain.codeword_mse:.3f}).")
        return lines + ["", *markdown_table(table)]

    def plot(self, table: pd.DataFrame, path: Path) -> None:
        from simnet.experiments.figures import rd_curves

        rd_curves(table, "method", "bits_per_dim", "nmse_db", path, self.title)
