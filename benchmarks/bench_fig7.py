"""Fig. 7 analogue of paper 000: no FT / encoder-only / full-model / genie / translation on moving-UE tracks.

    python benchmarks/bench_fig7.py [--quick] [--presets quadriga_track o2_dynamic_like]

For each preset, one UE walks its preset track (channels at the preset's ``samples_per_m``): the first
``--window`` samples are the fine-tune window (all the UE has), the next ``--num-eval`` samples are the
evaluation reports (never seen in training). Every shipped rd-cnn checkpoint (lambda 1, 4, 16, 64) gives one
RD point per method: total rate = real latent bits (``8 * len(stream)``) + the update payload's bits spread
over the evaluation reports, per real CSI dimension; NMSE in dB of the real decoded streams (translation: the
decoded streams through the BS's retranslation). Methods use the default ``FinetuneConfig``.

Margins: each method's NMSE minus the NMSE of the reference curve (never / encoder-only) interpolated at
the same total rate (linear in log-rate between the reference's points, extrapolated from the two nearest
points outside their range): negative = better. Written to ``benchmarks/results/fig7.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simnet.channels import make_source
from simnet.codecs import load_codec, shipped_checkpoints
from simnet.finetune import TRANSLATION_DEFAULTS, FinetuneConfig, encoder_only, full_model, genie, translation

METHODS = ("never", "encoder_only", "full_model", "genie", "translation")


def track_channels(preset: str, num: int, start_m: float, seed: int = 0) -> np.ndarray:
    """``num`` consecutive samples along the preset's first track from ``start_m``: [num, A, S] complex64."""
    src = make_source("geometric", preset=preset, seed=seed)
    cfg = getattr(src, "cfg")  # noqa: B009  (geometric sources only)
    spm, speed = float(cfg["samples_per_m"]), float(cfg["speed_mps"])
    way = src.tracks(1)[0]
    seg = np.linalg.norm(np.diff(way, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    s_m = start_m + np.arange(num) / spm
    k = np.clip(np.searchsorted(cum, s_m, side="right") - 1, 0, len(seg) - 1)
    pos = way[k] + ((s_m - cum[k]) / seg[k])[:, None] * (way[k + 1] - way[k])
    return np.asarray(src.channels(pos, s_m / speed), dtype=np.complex64)


def rd_point(codec: Any, h: np.ndarray, update_bits: int) -> dict[str, float]:
    """NMSE [dB] of the real streams and latent / update / total bits per real dimension over ``h``."""
    streams = codec.compress(h)
    h_hat = codec.decompress(streams)
    err = np.sum(np.abs(h_hat - h) ** 2, axis=(1, 2)) / np.sum(np.abs(h) ** 2, axis=(1, 2))
    dims = len(h) * 2 * h.shape[1] * h.shape[2]
    latent = float(sum(8 * len(s) for s in streams) / dims)
    return {"nmse_db": float(10 * np.log10(np.mean(err))), "latent_bpd": latent,
            "update_bpd": update_bits / dims, "total_bpd": latent + update_bits / dims}


def interp_db(rate: float, ref: list[dict[str, float]]) -> float:
    """NMSE [dB] of a reference RD curve at ``rate`` (linear in log-rate, linear extrapolation)."""
    pts = sorted((np.log(p["total_bpd"]), p["nmse_db"]) for p in ref)
    x, y = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    lx = np.log(rate)
    i = int(np.clip(np.searchsorted(x, lx) - 1, 0, len(x) - 2))
    return float(y[i] + (y[i + 1] - y[i]) * (lx - x[i]) / (x[i + 1] - x[i]))


def run_preset(preset: str, args: argparse.Namespace, cfg: FinetuneConfig,
               tcfg: FinetuneConfig) -> dict[str, Any]:
    t0 = time.perf_counter()
    h = track_channels(preset, args.window + args.num_eval, args.start_m)
    h_win, h_eval = h[:args.window], h[args.window:]
    out: dict[str, Any] = {"channel_time_s": time.perf_counter() - t0, "curves": {m: [] for m in METHODS}}
    fns = {"encoder_only": encoder_only, "full_model": full_model, "genie": genie, "translation": translation}
    for ckpt in shipped_checkpoints():
        codec = load_codec(ckpt)
        lmbda = float(codec.checkpoint_meta.get("lmbda", 0.0))
        for method in METHODS:
            t0 = time.perf_counter()
            if method == "never":
                new, bits, nonzero = codec, 0, 0
            else:
                mcfg = tcfg if method == "translation" else cfg
                res = fns[method](codec, h_win, np.random.default_rng(args.seed), mcfg)
                new, bits, nonzero = res.codec, res.bits, res.num_nonzero
            wall = time.perf_counter() - t0
            point = {"checkpoint": ckpt.name, "lmbda": lmbda, "update_bits": int(bits), "num_nonzero": nonzero,
                     "finetune_s": wall, **rd_point(new, h_eval, bits)}
            out["curves"][method].append(point)
            print(preset, method, {k: round(v, 4) if isinstance(v, float) else v for k, v in point.items()},
                  flush=True)
    margins: dict[str, Any] = {}
    for method in METHODS[1:]:
        for ref in ("never", "encoder_only"):
            if ref == method:
                continue
            per = [p["nmse_db"] - interp_db(p["total_bpd"], out["curves"][ref]) for p in out["curves"][method]]
            margins[f"{method}_vs_{ref}_db"] = {"per_lambda": [round(v, 3) for v in per],
                                               "mean": round(float(np.mean(per)), 3)}
    out["margins_db_at_equal_total_rate"] = margins
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["quadriga_track", "o2_dynamic_like"])
    parser.add_argument("--window", type=int, default=250, help="fine-tune window [samples]")
    parser.add_argument("--num-eval", type=int, default=350, help="evaluation reports after the window")
    parser.add_argument("--start-m", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="10 steps (smoke run)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fig7.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps = {"steps": 10} if args.quick else {}
    cfg = FinetuneConfig.from_kwargs(steps)
    tcfg = FinetuneConfig.from_kwargs(steps, **TRANSLATION_DEFAULTS)
    report: dict[str, Any] = {
        "setup": {"window": args.window, "num_eval": args.num_eval, "start_m": args.start_m, "seed": args.seed,
                  "rate": "total_bpd = (latent stream bits + update payload bits) / (num_eval * 2 * A * S)",
                  "margin": "method NMSE minus reference NMSE at equal total rate (dB, negative = better)"},
        "config": {k: v for k, v in vars(cfg).items() if k != "coding"} | {"coding": vars(cfg.coding)},
        "translation_config": TRANSLATION_DEFAULTS,
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": 1,
                    "load_average_start": os.getloadavg()},
    }
    for preset in args.presets:
        report[preset] = run_preset(preset, args, cfg, tcfg)
        print(preset, json.dumps(report[preset]["margins_db_at_equal_total_rate"]), flush=True)
    report["machine"]["load_average_end"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
