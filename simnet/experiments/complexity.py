"""Parameters and inference FLOPs per fine-tuning scheme and codec (core paper Table V).

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on one report through the encoder and
decoder networks (multiply and add counted separately; range coding not included); the translation
scheme adds its translation (UE) and retranslation (BS) modules around the backbone. Wall-clock
throughput is not part of the table (it is not deterministic): ``benchmarks/bench_codecs.py`` measures it.
"""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import torch
from pydantic.dataclasses import dataclass
from torch.utils.flop_counter import FlopCounterMode

from simnet.analysis.report import markdown_table
from simnet.experiments.base import EXPERIMENT_STRICT, RunContext, choice, register_experiment
from simnet.experiments.data import paper_numbers

SCHEMES = ("encoder_only", "full_model", "translation")


def count_flops(codec: Any, translation: Any = None) -> int:
    """FLOPs of one report through ``codec.analysis`` and ``codec.synthesis``, a hyperprior's
    ``side_information`` path when the codec has one, and a translation wrapper's ``translate`` /
    ``retranslate`` around them when given."""
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(1, codec.num_bs_ant, codec.num_subcarriers, dtype=torch.complex64, generator=gen)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        x = translation.translate(h) if translation is not None else h
        y = codec.analysis(x)
        h_hat = codec.synthesis(torch.round(y))
        side = getattr(codec, "side_information", None)  # a hyperprior's h_a (UE) and h_s (UE and BS)
        if side is not None:
            side(y)
        if translation is not None:
            translation.retranslate(h_hat)
    return int(counter.get_total_flops())


def scheme_counts(codec: Any, translation_channels: int = 16) -> dict[str, dict[str, int]]:
    """Per scheme: trainable parameters, parameters a model update carries, inference FLOPs per report."""
    from simnet.learning.translation_module import wrap_translation

    dec = set(codec.decoder_parameter_names())
    sizes = {n: p.numel() for n, p in codec.named_parameters()}
    wrapped = wrap_translation(codec, translation_channels)
    num_t = sum(p.numel() for p in wrapped.translate.parameters())
    num_r = sum(p.numel() for p in wrapped.retranslate.parameters())
    flops = count_flops(codec)
    return {
        "encoder_only": {"trainable_params": sum(v for n, v in sizes.items() if n not in dec), "update_params": 0,
                         "flops_per_report": flops},
        "full_model": {"trainable_params": sum(sizes.values()),
                       "update_params": sum(v for n, v in sizes.items() if n in dec), "flops_per_report": flops},
        "translation": {"trainable_params": num_t + num_r, "update_params": num_r,
                        "flops_per_report": count_flops(codec, wrapped)},
    }


@register_experiment("complexity")
@dataclass(frozen=True, config=EXPERIMENT_STRICT)
class Complexity:
    """Parameters and FLOPs of each fine-tuning scheme for each codec architecture (Table V).

    Attributes:
        codecs: registered codec types, built with their defaults for 64 x 64 CSI (counts do not depend on
            the weights).
        translation_channels: hidden channels of each translation module.
    """

    title: ClassVar[str] = "Complexity per fine-tuning scheme (core paper Table V)"
    codecs: tuple[str, ...] = ("learned-transform", "rd-cnn-paper")
    translation_channels: int = field(default=16, metadata={"ge": 1, "le": 1024})

    def __post_init__(self) -> None:
        from simnet.codecs import CODECS
        from simnet.experiments.base import nonempty_unique

        nonempty_unique("codecs", self.codecs)
        for i, name in enumerate(self.codecs):
            choice(f"codecs[{i}]", name, CODECS.names())

    def run(self, ctx: RunContext) -> pd.DataFrame:
        from simnet.codecs import CODECS

        paper = paper_numbers()["table_v"]
        rows = []
        for name in self.codecs:
            for scheme, counts in scheme_counts(CODECS.make(name).eval(), self.translation_channels).items():
                rows.append({"codec": name, "scheme": scheme, **counts,
                             "paper_params": paper[scheme]["params"], "paper_flops": paper[scheme]["flops"]})
            ctx.log(f"{name}: {rows[-2]['trainable_params']} parameters, {rows[-2]['flops_per_report']} FLOPs")
        return pd.DataFrame(rows)

    def markdown(self, table: pd.DataFrame) -> list[str]:
        lines = ["Paper (Table V, its Fig. 1 backbone, 64 x 64): EO 109 K parameters / 475 M FLOPs, FM 218 K / "
                 "475 M, TM 8 K / 521 M. simnet counts multiply and add as two FLOPs.", "",
                 "| codec | scheme | trainable params (paper) | params in an update | FLOPs / report (paper) |",
                 "|---|---|---|---|---|"]
        for r in table.itertuples(index=False):
            lines.append(f"| {r.codec} | {r.scheme} | {r.trainable_params:,} ({r.paper_params / 1e3:.0f} K) | "
                         f"{r.update_params:,} | {r.flops_per_report / 1e6:.2f} M ({r.paper_flops / 1e6:.0f} M) |")
        return lines + ["", *markdown_table(table)]

    def plot(self, table: pd.DataFrame, path: Path) -> None:
        from simnet.experiments.figures import bars

        labelled = table.assign(label=table.codec + " " + table.scheme)
        bars(labelled, "label", [("trainable_params", "trainable parameters"),
                                 ("flops_per_report", "FLOPs per report")], path, self.title)
