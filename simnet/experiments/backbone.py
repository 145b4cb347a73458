"""Backbone RD on the source environment (core paper Fig. 2) and under distribution shift (Fig. 5).

    checkpoints x presets --sample_channels(split="test")--> h --simnet.analysis.evaluate--> one row each
"""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import ClassVar

import pandas as pd
from pydantic.dataclasses import dataclass

from simnet.analysis.report import markdown_table
from simnet.experiments.base import EXPERIMENT_STRICT, RunContext, register_experiment
from simnet.experiments.data import check_presets, resolve_checkpoints

SHIPPED = tuple(f"learned-transform_lambda{lmbda}" for lmbda in (1, 4, 16, 64))
COLUMNS = ["preset", "checkpoint", "lmbda", "num_samples", "bits_per_dim_real", "bits_per_dim_est",
           "bits_per_report_real", "nmse_db", "nmse_db_median"]


@register_experiment("backbone_rd")
@dataclass(frozen=True, config=EXPERIMENT_STRICT)
class BackboneRD:
    """RD points of backbone checkpoints on held-out channels of one or more presets.

    Attributes:
        checkpoints: ``default``, shipped checkpoint names or paths (one RD point each).
        presets: geometric presets to test on (the ``test`` tracks of ``simnet.learning.pretrain.sample_channels``).
        num_samples: test reports per preset (drawn with the run's seed).
        scene_seed: scene seed of each preset's channel source (the one the checkpoints were trained in).
    """

    title: ClassVar[str] = "Backbone RD on the source environment (core paper Fig. 2)"
    checkpoints: tuple[str, ...] = SHIPPED
    presets: tuple[str, ...] = ("o1_like",)
    num_samples: int = field(default=300, metadata={"ge": 2, "le": 100_000})
    scene_seed: int = field(default=0, metadata={"ge": 0})

    def __post_init__(self) -> None:
        resolve_checkpoints("checkpoints", self.checkpoints)
        check_presets("presets", self.presets)

    def run(self, ctx: RunContext) -> pd.DataFrame:
        from simnet.analysis.evaluate import evaluate
        from simnet.learning.pretrain import sample_channels

        rows = []
        paths = resolve_checkpoints("checkpoints", self.checkpoints)
        for preset in self.presets:
            h = sample_channels(preset, self.num_samples, seed=ctx.seed, split="test", source_seed=self.scene_seed)
            for path in paths:
                res = evaluate(path, preset=preset, seed=ctx.seed, h=h)
                rows.append({"preset": preset, "checkpoint": path.stem, **{k: res[k] for k in COLUMNS[2:]}})
                ctx.log(f"{preset} {path.stem}: {res['bits_per_dim_real']:.4f} bits/dim, {res['nmse_db']:.2f} dB")
        return pd.DataFrame(rows, columns=COLUMNS)

    def markdown(self, table: pd.DataFrame) -> list[str]:
        lines = ["Paper (Fig. 2, values not printed): the trained backbone 'performs well when tested with (unseen) "
                 "CSI realizations sampled from the same environment', one point per lambda.", ""]
        for preset, grp in table.groupby("preset", sort=False):
            grp = grp.sort_values("bits_per_dim_real")
            monotone = bool((grp.nmse_db.diff().dropna() < 0).all())
            lines.append(f"- `{preset}`: {grp.bits_per_dim_real.min():.4f}-{grp.bits_per_dim_real.max():.4f} "
                         f"bits/dim, {grp.nmse_db.max():.2f} to {grp.nmse_db.min():.2f} dB; NMSE falls with "
                         f"every step up in rate: {'yes' if monotone else 'no'}.")
        return lines + ["", *markdown_table(table)]

    def plot(self, table: pd.DataFrame, path: Path) -> None:
        from simnet.experiments.figures import rd_curves

        rd_curves(table, "preset", "bits_per_dim_real", "nmse_db", path, self.title, "checkpoint")


@register_experiment("distribution_shift")
@dataclass(frozen=True, config=EXPERIMENT_STRICT)
class DistributionShift(BackboneRD):
    """The backbone on the source preset (first in ``presets``) and on new environments (core paper Fig. 5).

    Adds, per row, the NMSE and rate change against the same checkpoint on the source preset.
    """

    title: ClassVar[str] = "Backbone under distribution shift (core paper Fig. 5)"
    presets: tuple[str, ...] = ("o1_like", "quadriga_track", "o2_dynamic_like")

    def run(self, ctx: RunContext) -> pd.DataFrame:
        table = super().run(ctx)
        source = table[table.preset == self.presets[0]].set_index("checkpoint")
        table["nmse_shift_db"] = table.nmse_db - source.nmse_db.reindex(table.checkpoint).to_numpy()
        table["rate_ratio"] = table.bits_per_dim_real / source.bits_per_dim_real.reindex(table.checkpoint).to_numpy()
        return table

    def markdown(self, table: pd.DataFrame) -> list[str]:
        source = table.preset.iloc[0]
        lines = ["Paper (Fig. 5, values not printed): tested on QuaDRiGa and DeepMIMO 'O2 dynamic', the backbone "
                 "trained on O1 'struggles with the new channel statistics and performs catastrophically'.", ""]
        for preset, grp in table[table.preset != source].groupby("preset", sort=False):
            lines.append(f"- `{preset}` against `{source}`, same checkpoints: NMSE {grp.nmse_shift_db.min():+.2f} "
                         f"to {grp.nmse_shift_db.max():+.2f} dB at {grp.rate_ratio.min():.2f}-"
                         f"{grp.rate_ratio.max():.2f}x the rate.")
        return lines + ["", *markdown_table(table)]
