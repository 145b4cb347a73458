"""Fine-tuning schemes compared on a window of each track (core paper Fig. 7, offline).

    per preset, per checkpoint: never | encoder_only | full_model | genie | translation
        --fine-tune once on the window--> RD point on the next num_eval reports (update bits counted)
"""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic.dataclasses import dataclass

from simnet.analysis.report import markdown_table
from simnet.experiments.base import (
    EXPERIMENT_STRICT,
    RunContext,
    choice,
    nonempty_unique,
    register_experiment,
)
from simnet.experiments.data import check_presets, finetune_config, interp_db, resolve_checkpoints, stream_rd
from simnet.experiments.finetuning import TrackWindow

METHODS = ("never", "encoder_only", "full_model", "genie", "translation")


@register_experiment("finetune_schemes")
@dataclass(frozen=True, config=EXPERIMENT_STRICT)
class FinetuneSchemes(TrackWindow):
    """No FT, encoder-only, full-model, genie and translation, one RD curve per method and preset (Fig. 7).

    Attributes:
        presets: track presets.
        checkpoints: one RD point per checkpoint.
        methods: among ``never, encoder_only, full_model, genie, translation``.
        translation: ``FinetuneConfig`` keywords of the translation modules over ``TRANSLATION_DEFAULTS``
            (``steps`` and ``batch_size`` follow ``finetune`` unless given here).
    """

    title: ClassVar[str] = "Fine-tuning schemes (core paper Fig. 7, offline)"
    presets: tuple[str, ...] = ("quadriga_track", "o2_dynamic_like")
    checkpoints: tuple[str, ...] = tuple(f"learned-transform_lambda{lmbda}" for lmbda in (1, 4, 16, 64))
    methods: tuple[str, ...] = METHODS
    translation: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_presets("presets", self.presets)
        resolve_checkpoints("checkpoints", self.checkpoints)
        nonempty_unique("methods", self.methods)
        for i, method in enumerate(self.methods):
            choice(f"methods[{i}]", method, METHODS)
        self.translation_config()

    def translation_config(self) -> Any:
        from simnet.learning.finetune import TRANSLATION_DEFAULTS

        shared: dict[str, Any] = {k: self.finetune[k] for k in ("steps", "batch_size") if k in self.finetune}
        return finetune_config("translation", {**shared, **self.translation}, **TRANSLATION_DEFAULTS)

    def run(self, ctx: RunContext) -> pd.DataFrame:
        from simnet.codecs import load_codec
        from simnet.learning.procedures import encoder_only, full_model, genie, translation

        fns = {"encoder_only": encoder_only, "full_model": full_model, "genie": genie, "translation": translation}
        cfgs = {m: self.config() for m in fns} | {"translation": self.translation_config()}
        rows = []
        for preset in self.presets:
            h_win, h_eval = self.channels(preset, ctx)
            for path in resolve_checkpoints("checkpoints", self.checkpoints):
                codec = load_codec(path)
                lmbda = float(codec.checkpoint_meta.get("lmbda", float("nan")))
                for method in self.methods:
                    if method == "never":
                        new, bits, nonzero = codec, 0, 0
                    else:
                        res = fns[method](codec, h_win, np.random.default_rng(ctx.seed), cfgs[method])
                        new, bits, nonzero = res.codec, res.bits, res.num_nonzero
                    rows.append({"preset": preset, "method": method, "checkpoint": path.stem, "lmbda": lmbda,
                                 "update_bits": bits, "num_nonzero": nonzero, **stream_rd(new, h_eval, bits)})
                    ctx.log(f"{preset} {path.stem} {method}: {rows[-1]['total_bpd']:.4f} bits/dim, "
                            f"{rows[-1]['nmse_db']:.2f} dB")
        table = pd.DataFrame(rows)
        table["margin_vs_never_db"] = margins(table, "never")
        return table

    def markdown(self, table: pd.DataFrame) -> list[str]:
        lines = ["Paper (Fig. 7, values not printed): 'EO' and 'TM' give only marginal RD improvements, 'FM' a "
                 "significant boost; the genie-aided 'GA' (free updates) bounds it.", "",
                 "Margin = NMSE minus the reference curve's NMSE at the same total rate (linear in log-rate; "
                 "negative = better), mean over checkpoints:", "",
                 "| preset | method | vs never [dB] | vs encoder_only [dB] |", "|---|---|---|---|"]
        vs_eo = margins(table, "encoder_only")
        for (preset, method), grp in table.groupby(["preset", "method"], sort=False):
            if method == "never":
                continue
            eo = "-" if method == "encoder_only" else f"{np.nanmean(vs_eo[grp.index]):+.2f}"
            lines.append(f"| {preset} | {method} | {grp.margin_vs_never_db.mean():+.2f} | {eo} |")
        return lines + ["", *markdown_table(table)]

    def plot(self, table: pd.DataFrame, path: Path) -> None:
        from simnet.experiments.figures import rd_curves

        rd_curves(table, "method", "total_bpd", "nmse_db", path, "Fig. 7", panels="preset")


def margins(table: pd.DataFrame, reference: str) -> np.ndarray:
    """Per row: NMSE minus the ``reference`` method's curve (same preset) at the row's total rate [dB]."""
    out = np.full(len(table), np.nan)
    for _, grp in table.groupby("preset", sort=False):
        ref = grp[grp.method == reference]
        for i in grp.index:
            out[table.index.get_loc(i)] = table.nmse_db[i] - interp_db(
                table.total_bpd[i], ref.total_bpd.to_numpy(), ref.nmse_db.to_numpy())
    return out
