"""Static comparison: SGCS versus report bits of eType II (paramCombination 1-8), Type I and the neural codecs.

Every codec encodes the same held-out channels of each preset (``simnet.learning.pretrain.sample_channels``, test
split, the default 8x8 array and 64 subcarriers); a row is one codec setting on one preset: the mean real
report size ``8 * len(stream)`` and the mean SGCS of what the BS decodes against the channel the report
measured (``simnet.sim.beamforming.sgcs``, 4-subcarrier subbands). No mobility, no model updates: the codec's
own SGCS at the report. The neural codecs are every shipped checkpoint of the grid: the H-domain ones
(``learned-transform``, ``rd-crnet`` and its family, ``bit-alloc``, ``csi-inr``; trained on NMSE) and
``eigen-sgcs`` and ``eigen-crnet`` (per-subband directions, trained on SGCS). Rows fall into the payload buckets
of :data:`BUCKETS` by their real bits per report; the bucket table sets the best eType II setting of each bucket
beside the best direction-domain and the best H-domain neural one.

    python -m simnet.analysis.codebook_study [--num-samples 200] [--out docs/codebooks_sgcs]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simnet.codecs import CODECS, DirectionCodec, load_codec, shipped_checkpoints
from simnet.codecs.checkpoint import codec_type
from simnet.files import atomic_write
from simnet.sim.beamforming import nmse, sgcs, to_db

PRESETS = ("o1_like", "quadriga_track", "o2_dynamic_like")

BUCKETS: tuple[tuple[str, float, float], ...] = (("small", 0.0, 64.0), ("medium", 64.0, 128.0),
                                                 ("large", 128.0, 256.0))
"""Payload buckets (name, lower, upper] in real bits per report: eType II pc1-2, pc3-5 and pc6-8 at 8x8 / N3 = 16."""


def bucket_of(bits: float) -> str:
    """The payload bucket of a mean report size [bits]; ``over`` above the largest."""
    return next((name for name, lo, hi in BUCKETS if lo < bits <= hi), "over")


def checkpoint_label(codec: Any) -> str:
    """A loaded neural codec's row label: its type and rate point. A codec whose rate is a constructor option
    (its class's ``rate_option``: bit-alloc's ``total_bits``) is labelled by that option's value
    (``bit-alloc total_bits=256``), every other one by the lambda it was trained for (``rd-crnet lambda=0.1``)."""
    option = getattr(type(codec), "rate_option", None)
    if option is not None:
        return f"{codec_type(codec)} {option}={getattr(codec, option):g}"
    return f"{codec_type(codec)} lambda={codec.checkpoint_meta.get('lmbda'):g}"


def codec_settings(num_bs_ant: int, num_subcarriers: int, bs_array: tuple[int, int]) -> list[tuple[str, Any]]:
    """(label, codec) for eType II paramCombination 1-8, Type I and every shipped neural checkpoint of the grid."""
    dims = {"num_bs_ant": num_bs_ant, "num_subcarriers": num_subcarriers, "bs_array": bs_array}
    out: list[tuple[str, Any]] = [(f"etype2 pc{pc}", CODECS.make("etype2", param_combination=pc, **dims))
                                  for pc in range(1, 9)]
    out.append(("type1", CODECS.make("type1", **dims)))
    for path in shipped_checkpoints():
        codec = load_codec(path).eval()
        if (codec.num_bs_ant, codec.num_subcarriers) == (num_bs_ant, num_subcarriers):
            out.append((checkpoint_label(codec), codec))
    return out


def compare(presets: Sequence[str] = PRESETS, num_samples: int = 200, seed: int = 12345,
            bs_array: tuple[int, int] = (8, 8)) -> pd.DataFrame:
    """One row per (preset, codec setting): bits, SGCS (mean and 10th percentile), NMSE."""
    from simnet.learning.pretrain import sample_channels

    rows = []
    for preset in presets:
        h = sample_channels(preset, num_samples, seed=seed, split="test")
        for label, codec in codec_settings(h.shape[1], h.shape[2], bs_array):
            h_hat, bits = codec.reconstruct(h)
            score = sgcs(h, h_hat)
            rows.append({
                "preset": preset, "codec": label, "family": label.split(" ")[0], "num_reports": len(h),
                "bits_per_report": float(bits.mean()), "bucket": bucket_of(float(bits.mean())),
                "spec_payload_bits": float(codec.payload_bits()) if hasattr(codec, "payload_bits") else np.nan,
                "sgcs": float(score.mean()), "sgcs_p10": float(np.quantile(score, 0.1)),
                "nmse_db": float(to_db(nmse(h, h_hat).mean())),
            })
    return pd.DataFrame(rows)


def to_markdown(df: pd.DataFrame) -> str:
    """The table grouped by preset, sorted by bits (what docs/ ships)."""
    lines = []
    for preset, part in df.groupby("preset", sort=False):
        lines += [f"### {preset}", "", "| codec | bits/report | spec bits (K0) | SGCS | SGCS p10 | NMSE dB |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in part.sort_values("bits_per_report").itertuples():
            spec = "" if np.isnan(r.spec_payload_bits) else f"{r.spec_payload_bits:.0f}"
            lines.append(f"| {r.codec} | {r.bits_per_report:.1f} | {spec} | {r.sgcs:.4f} | {r.sgcs_p10:.4f} | "
                         f"{r.nmse_db:.2f} |")
        lines.append("")
    lines += ["### Best per payload bucket", "",
              "| preset | bucket | eType II (bits, SGCS) | best direction-domain neural (bits, SGCS) | gain | "
              "best H-domain neural (bits, SGCS) | gain |", "|---|---|---|---|---:|---|---:|"]
    for r in bucket_table(df).itertuples():
        lines.append(f"| {r.preset} | {r.bucket} | {r.etype2} | {r.neural} | {r.gain_neural} | {r.h_domain} | "
                     f"{r.gain_h_domain} |")
    lines.append("")
    return "\n".join(lines)


CODEBOOK_FAMILIES = ("etype2", "type1")
DIRECTION_FAMILIES = tuple(name for name in CODECS.names()
                           if isinstance(CODECS.get(name), type) and issubclass(CODECS.get(name), DirectionCodec))
"""Neural families that report per-subband directions (trained on SGCS: ``eigen-sgcs``, ``eigen-crnet``); every
other neural family codes H."""


def bucket_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per (preset, bucket): the best-SGCS eType II row, the best direction-domain neural row (SGCS-trained) and the
    best H-domain neural row (any other shipped codec, trained on NMSE), as text, and each neural row's SGCS
    minus eType II's."""
    kinds = {"etype2": df.family == "etype2", "neural": df.family.isin(DIRECTION_FAMILIES),
             "h_domain": ~df.family.isin(CODEBOOK_FAMILIES + DIRECTION_FAMILIES + ("raw",))}
    rows = []
    for (preset, bucket), part in df.groupby(["preset", "bucket"], sort=False):
        if bucket == "over":
            continue
        best = {k: part[mask.loc[part.index]].sort_values("sgcs").tail(1) for k, mask in kinds.items()}
        row = {"preset": preset, "bucket": bucket}
        for k, b in best.items():
            row[k] = f"{b.codec.iloc[0]} ({b.bits_per_report.iloc[0]:.0f}, {b.sgcs.iloc[0]:.3f})" if len(b) else "-"
        for k in ("neural", "h_domain"):
            both = len(best[k]) and len(best["etype2"])
            row[f"gain_{k}"] = f"{best[k].sgcs.iloc[0] - best['etype2'].sgcs.iloc[0]:+.3f}" if both else "-"
        rows.append(row)
    order = {name: i for i, (name, _, _) in enumerate(BUCKETS)}
    return pd.DataFrame(rows).sort_values(["preset", "bucket"], key=lambda c: c.map(order) if c.name == "bucket"
                                          else c.map({p: i for i, p in enumerate(PRESETS)}))


def main(argv: Sequence[str] | None = None) -> int:
    """Write ``<out>.csv`` and ``<out>.md`` (the comparison table)."""
    parser = argparse.ArgumentParser(prog="python -m simnet.analysis.codebook_study",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--num-samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--out", default="docs/codebooks_sgcs")
    args = parser.parse_args(argv)
    df = compare(args.presets, args.num_samples, args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out.with_suffix(".csv"), lambda p: df.to_csv(p, index=False, float_format="%.6g"))
    atomic_write(out.with_suffix(".md"), lambda p: p.write_text(to_markdown(df)))
    print(to_markdown(df))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
