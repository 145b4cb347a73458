"""csi-inr's encoding cost beside rd-crnet (and learned-transform), and first- vs second-order meta-learning
-> results/csi_inr.json.

- ``codecs``: per codec (shipped checkpoints), on held-out o1_like reports: encode time per report batched
  (``compress`` of ``--batch`` reports) and single (one report per call, the simulator's pattern), decode time,
  FLOPs per report of the encoder (csi-inr: K inner steps, forward and backward, torch's FLOP counter) and of the
  decoder, parameters (all, and those a model update carries), and a 30-step full-model fine-tune on 64 reports
  with the codec's own defaults; ``ratio_vs_rd_crnet`` divides csi-inr's numbers by rd-crnet's from this run.
- ``maml``: a small case (8 x 16 grid cut from o1_like, d = 32, L = 3, n = 16, 3 inner steps), the same outer
  steps, batches and seed with first-order and with second-order MAML: held-out NMSE after training (float
  modulations, 3 inner steps) and seconds per outer step.

    python benchmarks/bench_csi_inr.py [--threads 1] [--batch 64] [--maml-steps 300]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from simnet.codecs import CODECS, load_codec
from simnet.codecs.checkpoint import CHECKPOINT_DIR
from simnet.codecs.normalization import norm_code, normalize
from simnet.files import write_json
from simnet.learning.finetune import FinetuneConfig
from simnet.learning.pretrain import sample_channels
from simnet.learning.procedures import full_model

OUT = Path(__file__).parent / "results" / "csi_inr.json"
CHECKPOINTS = ("csi-inr_lambda1", "rd-crnet_lambda1", "learned-transform_lambda1")


def _median_s(fn: Any, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _flops(fn: Any) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def codec_costs(name: str, h: np.ndarray, window: np.ndarray, repeats: int) -> dict[str, Any]:
    codec = load_codec(CHECKPOINT_DIR / f"{name}.pt")
    one = h[:1]
    h_n = normalize(torch.from_numpy(one), norm_code(torch.from_numpy(one)))
    y = codec.analysis(h_n).detach()
    streams = codec.compress(h)
    dec = set(codec.decoder_parameter_names())
    cfg = FinetuneConfig(steps=30, batch_size=32)
    start = time.perf_counter()
    result = full_model(codec, window, np.random.default_rng(0), cfg)
    finetune_s = time.perf_counter() - start
    return {
        "checkpoint": name,
        "encode_ms_per_report_batched": 1e3 * _median_s(lambda: codec.compress(h), repeats) / len(h),
        "encode_ms_per_report_single": 1e3 * _median_s(lambda: codec.compress(one), repeats),
        "decode_ms_per_report_batched": 1e3 * _median_s(lambda: codec.decompress(streams), repeats) / len(h),
        "encoder_flops_per_report": _flops(lambda: codec.analysis(h_n)),
        "decoder_flops_per_report": _flops(lambda: codec.synthesis(torch.round(y))),
        "num_params": sum(p.numel() for p in codec.parameters()),
        "num_decoder_params": sum(p.numel() for n, p in codec.named_parameters() if n in dec),
        "bits_per_report": float(np.mean([8 * len(s) for s in streams])),
        "finetune_30_steps_s": finetune_s,
        "finetune_update_bits": result.bits,
    }


def maml_case(second_order: bool, h_train: np.ndarray, h_val: np.ndarray, steps: int) -> dict[str, float]:
    """Meta-train a small csi-inr on an 8 x 16 grid; NMSE [dB] of held-out reports after 3 inner steps."""
    codec = CODECS.make("csi-inr", num_bs_ant=8, num_subcarriers=16, bs_array=[1, 8], num_latent=16, hidden=32,
                        num_layers=3, train_points=0, second_order=second_order, seed=0)
    opt = torch.optim.Adam(codec.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    h_tr = torch.from_numpy(h_train)
    start = time.perf_counter()
    for _ in range(steps):
        codec.train()
        out = codec(h_tr[torch.randint(0, len(h_tr), (32,), generator=gen)], gen)
        loss = codec.rd_loss(out, 1.0)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    wall = time.perf_counter() - start
    codec.eval()
    out = codec(h_val)  # entropy model not fitted: float modulations
    return {"second_order": second_order, "outer_steps": steps, "val_nmse_db": float(10 * np.log10(
        float(codec.distortion(torch.from_numpy(h_val), out)))), "s_per_outer_step": wall / steps,
        "final_mean_inner_lr": float(codec.inner_lr.mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--maml-steps", type=int, default=300)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    h = sample_channels("o1_like", args.batch, seed=0, split="test")
    window = sample_channels("o1_like", 64, seed=3, split="val")
    codecs = {name.split("_lambda")[0]: codec_costs(name, h, window, args.repeats) for name in CHECKPOINTS}
    inr, crnet = codecs["csi-inr"], codecs["rd-crnet"]
    ratios = {k: inr[k] / crnet[k] for k in inr if isinstance(inr[k], int | float) and crnet.get(k)}
    small_train = sample_channels("o1_like", 1024, seed=1, split="train")[:, :8, :16]
    small_val = sample_channels("o1_like", 128, seed=2, split="val")[:, :8, :16]
    maml = [maml_case(so, small_train, small_val, args.maml_steps) for so in (False, True)]
    write_json(args.out, {
        "benchmark": "csi_inr", "torch": torch.__version__, "threads": args.threads, "batch": args.batch,
        "codecs": codecs, "ratio_vs_rd_crnet": ratios, "maml": maml,
        "maml_difference_db": maml[0]["val_nmse_db"] - maml[1]["val_nmse_db"],
        "maml_step_time_ratio_second_over_first": maml[1]["s_per_outer_step"] / maml[0]["s_per_outer_step"],
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
