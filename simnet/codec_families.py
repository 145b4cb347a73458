"""The codec-family study: does the answer to "how often should I fine-tune?" hold for every codec family?

``simnet study codec-families SCENARIO --checkpoints learned-transform_lambda1 rd-crnet_lambda1 ...`` runs, for
every checkpoint (one codec family each, at the same lambda) and every channel preset:

* **static**: the codec's real-stream RD point on held-out source channels (o1_like, the pretraining
  environment's test tracks) and on the preset's test tracks (``simnet.learning.pretrain.sample_channels``);
  the difference in NMSE is the loss under shift;
* **in the simulator**: the scenario (its users, uplink and policies) with the codec and the preset swapped in;
  every variant's summary row, and from it the RD cost ``J = lambda * NMSE_report + total bits/dim`` (model
  update bits included).

Each (preset, checkpoint) is a run in its own sub-folder. ``study.csv`` collects every summary row with
``preset``, ``codec`` and ``checkpoint`` added; ``families.csv`` is one row per (preset, codec): the static
RD, J of never, of the best fixed interval (and that interval), of drift-shadow (when the scenario runs it) and
of the genie, and the gain of the best policy over never. ``families.png`` draws J against the update
interval per codec, one panel per preset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SOURCE_PRESET = "o1_like"
"""The environment every shipped checkpoint was pretrained on."""


def static_rd(codec: Any, held_out: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Real-stream RD on each preset's held-out samples (``held_out``: preset -> [N, A, S] complex64):
    preset -> {nmse_db, bpd}."""
    from simnet.experiments import stream_rd

    out = {}
    for preset, h in held_out.items():
        point = stream_rd(codec, h)
        out[preset] = {"nmse_db": point["nmse_db"], "bpd": point["latent_bpd"]}
    return out


def run_codec_families(scenario_path: str, checkpoints: list[str], presets: list[str], out: Path,
                       cache_dir: Path | None, workers: int, seed: int | None = None, quick: bool = False,
                       num_static: int = 300) -> pd.DataFrame:
    """Run the study; returns ``families.csv``'s table (also written, with ``study.csv`` and the figure)."""
    from simnet.analysis.results import SIMULATION_FILES, prepare_run_dir
    from simnet.codecs import checkpoint_header, codec_lmbda, resolve_checkpoint
    from simnet.config import load_scenario
    from simnet.learning.pretrain import sample_channels
    from simnet.sim.world import build_world

    out.mkdir(parents=True, exist_ok=True)
    headers = {name: checkpoint_header(resolve_checkpoint(name, "--checkpoints", "")) for name in checkpoints}
    held_out = {preset: sample_channels(preset, num_static, seed=2, split="test")
                for preset in dict.fromkeys([SOURCE_PRESET, *presets])}  # fmt: skip
    rows: list[dict[str, Any]] = []
    statics: dict[str, dict[str, dict[str, float]]] = {}
    for preset in presets:
        for name, header in headers.items():
            codec_block = {"type": header["type"], "checkpoint": name}
            sc = load_scenario(scenario_path, seed=seed, quick=quick,
                               overrides={"codec": codec_block, "channel": {"preset": preset}})  # fmt: skip
            world = build_world(sc, cache_dir=cache_dir)
            if name not in statics:
                statics[name] = static_rd(world.codec, held_out)
            sub = prepare_run_dir(str(out / f"{preset}_{name}"), "", "", True, SIMULATION_FILES)
            part = _variant_rows(world, sub, sc.policies, workers)
            lmbda = codec_lmbda(world.codec)
            for row in part:
                rows.append({"preset": preset, "codec": header["type"], "checkpoint": name, "lmbda": lmbda, **row})
            print(f"{preset} {name}: {len(part)} variants", flush=True)
    study = pd.DataFrame(rows)
    study["rd_cost"] = study.lmbda * 10 ** (study.nmse_report_db / 10) + study.total_bits_per_dim
    study.to_csv(out / "study.csv", index=False, float_format="%.6g")
    table = family_table(study, statics)
    table.to_csv(out / "families.csv", index=False, float_format="%.6g")
    plot_families(study, out / "families.png")
    return table


def _variant_rows(world: Any, run_dir: Path, specs: Any, workers: int) -> list[dict[str, Any]]:
    """Run every policy variant on ``world`` into ``run_dir``; their summary rows in variant order."""
    from simnet.recording import record_variants

    rows: list[dict[str, Any]] = []
    record_variants(world, run_dir, specs, workers=workers, on_variant=lambda spec, row, rec, tables: rows.append(row))
    return rows


def family_table(study: pd.DataFrame, statics: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    """One row per (preset, codec): static RD, J per policy class, the best fixed interval and the gain."""
    rows = []
    for (preset, name), g in study.groupby(["preset", "checkpoint"], sort=False):
        never = g[g.policy == "never"].rd_cost
        periodic = g[g.policy == "periodic"].sort_values("rd_cost")
        labels = g.variant.astype(str)
        shadow = g[labels.str.startswith("drift-shadow")].rd_cost
        genie = g[g.policy == "genie"].rd_cost
        j_never = float(never.iloc[0]) if len(never) else np.nan
        candidates = g[g.policy != "genie"].rd_cost
        source, shifted = statics[name][SOURCE_PRESET], statics[name][preset]
        rows.append({
            "preset": preset, "codec": g.codec.iloc[0], "checkpoint": name,
            "nmse_source_db": source["nmse_db"], "bpd_source": source["bpd"],
            "nmse_shifted_db": shifted["nmse_db"], "shift_loss_db": shifted["nmse_db"] - source["nmse_db"],
            "j_never": j_never,
            "best_interval_m": float(periodic.interval_m.iloc[0]) if len(periodic) else np.nan,
            "j_best_periodic": float(periodic.rd_cost.iloc[0]) if len(periodic) else np.nan,
            "update_bits_per_report_best_periodic": (float(periodic.update_bits_per_report.iloc[0])
                                                     if len(periodic) else np.nan),
            "j_drift_shadow": float(shadow.iloc[0]) if len(shadow) else np.nan,
            "j_genie": float(genie.iloc[0]) if len(genie) else np.nan,
            "best_policy": str(g.loc[candidates.idxmin(), "variant"]) if len(candidates) else "",
            "gain_vs_never": 1.0 - float(candidates.min()) / j_never if len(candidates) else np.nan,
        })  # fmt: skip
    return pd.DataFrame(rows)


def plot_families(study: pd.DataFrame, path: Path) -> Path:
    """J relative to never against the update interval, one line per codec, one panel per preset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    presets = list(dict.fromkeys(study.preset))
    fig, axes = plt.subplots(1, len(presets), figsize=(5 * len(presets), 4), squeeze=False, sharey=True)
    for ax, preset in zip(axes[0], presets):
        for name, g in study[study.preset == preset].groupby("checkpoint", sort=False):
            j_never = float(g[g.policy == "never"].rd_cost.iloc[0])
            per = g[g.policy == "periodic"].sort_values("interval_m")
            line = ax.plot(per.interval_m, per.rd_cost / j_never, "o-", label=name)[0]
            shadow = g[g.variant.astype(str).str.startswith("drift-shadow")]
            if len(shadow):
                ax.axhline(float(shadow.rd_cost.iloc[0]) / j_never, color=line.get_color(), ls="--", lw=1)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_title(preset)
        ax.set_xlabel("fine-tune interval [m] (dashed: drift-shadow)")
    axes[0][0].set_ylabel("RD cost J / J(never)  (update bits counted)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
