"""RD of learned-transform vs rd-cnn-paper at an equal wall-clock training budget -> benchmarks/results/rd_budget.json.

Both codecs are trained from scratch on the same o1_like training samples, for the same wall-clock budget
per lambda (Adam, torch on ``--threads`` threads, one training process at a time), and evaluated on the
same held-out o1_like test samples (test tracks of :func:`simnet.learning.pretrain.sample_channels`) with
:func:`simnet.analysis.evaluate.evaluate`: rate = real bits, 8 * len(stream) per report, per real dimension; NMSE in
dB (10 log10 of the mean per-report NMSE).

The budget is checked after every optimizer step (``simnet.learning.pretrain.train_codec`` checks it only once per
epoch, and one epoch of the paper codec takes minutes here). Validation on a small split runs every
``--val-every-s`` seconds and at the end, inside the budget; the best validation state is kept. Checkpoints
go to ``--ckpt-dir`` (``/tmp`` by default), never to the shipped checkpoint folder.

    python benchmarks/bench_rd_budget.py [--budget-s 240] [--lambdas 1 16] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simnet.codecs import CODECS, data_hash, rd_loss, save_codec
from simnet.experiments import count_flops
from simnet.files import write_json

OUT = Path(__file__).parent / "results" / "rd_budget.json"
CODEC_NAMES = ("learned-transform", "rd-cnn-paper")


def train_budget(
    codec: Any,
    h_train: np.ndarray,
    h_val: np.ndarray,
    lmbda: float,
    budget_s: float,
    batch_size: int,
    lr: float,
    val_every_s: float,
    seed: int,
    device: str = "cpu",
) -> dict[str, Any]:
    """Adam on ``lambda * MSE + bits/dim`` until ``budget_s`` of wall clock is spent (checked every step).

    Training runs on ``device``; validation runs on a CPU copy (the coding tables are built on the CPU), and
    the codec is returned on the CPU.
    """
    from simnet.learning.pretrain import evaluate_loss

    codec.to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    opt = torch.optim.Adam(codec.parameters(), lr=lr)
    h_tr = torch.as_tensor(h_train, device=device)
    start = time.perf_counter()
    steps, samples, next_val = 0, 0, val_every_s
    best: dict[str, float] | None = None
    best_state, best_step = copy.deepcopy(codec).cpu().state_dict(), 0
    history: list[dict[str, float]] = []

    def validate() -> None:
        nonlocal best, best_state, best_step
        on_cpu = copy.deepcopy(codec).cpu()
        val = evaluate_loss(on_cpu, h_val, lmbda)
        history.append({"step": steps, "t_s": time.perf_counter() - start, **val})
        if best is None or val["loss"] < best["loss"]:
            best, best_state, best_step = val, on_cpu.state_dict(), steps
        print(f"  step {steps:6d} t={history[-1]['t_s']:6.1f}s val {val}", flush=True)

    done = False
    while not done:
        codec.train()
        order = torch.randperm(len(h_tr), generator=gen, device=device)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            out = codec(h_tr[order[i : i + batch_size]], gen)
            loss = rd_loss(out, lmbda)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            samples += batch_size
            elapsed = time.perf_counter() - start
            if elapsed >= budget_s:
                done = True
                break
            if elapsed >= next_val:
                validate()
                codec.train()
                next_val = time.perf_counter() - start + val_every_s
    validate()  # the final state, counted in the wall clock below
    codec.cpu()
    codec.load_state_dict(best_state)
    codec.eval()
    codec.update_entropy_tables()
    return {
        "steps": steps,
        "samples_seen": samples,
        "epochs": samples / len(h_tr),
        "wall_s": time.perf_counter() - start,
        "best_val_step": best_step,
        "best_val": best,
        "val_history": history,
    }


def verdict(lmbda: float, mine: dict[str, Any], paper: dict[str, Any]) -> str:
    """Plain statement of which codec wins at one lambda (dominance in bits/dim and NMSE)."""
    r1, d1 = mine["bits_per_dim_real"], mine["nmse_db"]
    r0, d0 = paper["bits_per_dim_real"], paper["nmse_db"]
    head = (f"lambda={lmbda:g}: learned-transform {r1:.4f} bits/dim at {d1:.2f} dB, "
            f"rd-cnn-paper {r0:.4f} bits/dim at {d0:.2f} dB")
    if r1 <= r0 and d1 <= d0:
        return head + " -> learned-transform wins (fewer bits and lower NMSE)."
    if r0 <= r1 and d0 <= d1:
        return head + " -> rd-cnn-paper wins (fewer bits and lower NMSE)."
    return head + " -> neither dominates (one has fewer bits, the other lower NMSE); see curve_comparison."


def curve_comparison(points: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Each paper point against the learned-transform curve (linear in bits/dim between its points, if in range)."""
    mine = sorted(points["learned-transform"], key=lambda p: p["bits_per_dim_real"])
    rates = [p["bits_per_dim_real"] for p in mine]
    nmses = [p["nmse_db"] for p in mine]
    lines = []
    for p in points["rd-cnn-paper"]:
        r, d = p["bits_per_dim_real"], p["nmse_db"]
        if rates[0] <= r <= rates[-1]:
            at = float(np.interp(r, rates, nmses))
            who = "learned-transform" if at <= d else "rd-cnn-paper"
            lines.append(
                f"paper lambda={p['lmbda']:g} ({r:.4f} bits/dim, {d:.2f} dB): learned-transform curve at the same rate "
                f"gives {at:.2f} dB -> {who} better at that rate"
            )
        elif r < rates[0] and d >= nmses[0]:
            lines.append(
                f"paper lambda={p['lmbda']:g} ({r:.4f} bits/dim, {d:.2f} dB): below learned-transform's lowest rate "
                f"({rates[0]:.4f}) but also worse than its NMSE there ({nmses[0]:.2f} dB); not comparable"
                " on the curve without a lower-rate learned-transform point"
            )
        else:
            lines.append(
                f"paper lambda={p['lmbda']:g} ({r:.4f} bits/dim, {d:.2f} dB): outside learned-transform's rate range "
                f"[{rates[0]:.4f}, {rates[-1]:.4f}]"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-s", type=float, default=240.0, help="wall-clock training budget per codec/lambda")
    parser.add_argument("--lambdas", type=float, nargs="+", default=[1.0, 16.0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--num-train", type=int, default=3000)
    parser.add_argument("--num-val", type=int, default=200)
    parser.add_argument("--num-test", type=int, default=300)
    parser.add_argument("--val-every-s", type=float, default=60.0)
    parser.add_argument("--batch", type=int, nargs=2, default=[64, 32],
                        help="batch size: learned-transform, rd-cnn-paper")
    parser.add_argument("--lr", type=float, nargs=2, default=[1e-2, 1e-3],
                        help="Adam lr: learned-transform, rd-cnn-paper")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="torch device for training (evaluation is on the CPU)")
    parser.add_argument("--codecs", nargs="+", default=list(CODEC_NAMES), choices=CODEC_NAMES, help="codecs to train")
    parser.add_argument("--ckpt-dir", default="/tmp/simnet_rd_budget")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from simnet.analysis.evaluate import evaluate
    from simnet.learning.pretrain import sample_channels

    t0 = time.perf_counter()
    h_tr = sample_channels("o1_like", args.num_train, seed=args.seed, split="train")
    h_va = sample_channels("o1_like", args.num_val, seed=args.seed + 1, split="val")
    h_te = sample_channels("o1_like", args.num_test, seed=12345, split="test")
    print(f"data: {h_tr.shape} train, {len(h_va)} val, {len(h_te)} test ({time.perf_counter() - t0:.1f}s)")
    names = tuple(args.codecs)
    hparams = {n: {"batch_size": args.batch[CODEC_NAMES.index(n)], "lr": args.lr[CODEC_NAMES.index(n)]} for n in names}
    kwargs = {"num_bs_ant": h_tr.shape[1], "num_subcarriers": h_tr.shape[2], "seed": args.seed}
    flops = {n: count_flops(CODECS.make(n, **kwargs).eval()) for n in names}
    params = {n: sum(p.numel() for p in CODECS.make(n, **kwargs).parameters()) for n in names}
    runs: list[dict[str, Any]] = []
    points: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for lmbda in args.lambdas:
        for name in names:
            print(f"{name} lambda={lmbda:g}: training for {args.budget_s:g}s", flush=True)
            codec = CODECS.make(name, **kwargs)
            train = train_budget(
                codec, h_tr, h_va, float(lmbda), args.budget_s, val_every_s=args.val_every_s, seed=args.seed,
                device=args.device, **hparams[name],
            )  # fmt: skip
            path = Path(args.ckpt_dir) / f"{name}_lambda{lmbda:g}_budget{args.budget_s:g}s.pt"
            save_codec(codec, path, lmbda=float(lmbda), data_hash=data_hash(h_tr), source_preset="o1_like",
                       steps=train["steps"], wall_s=train["wall_s"])  # fmt: skip
            t_eval = time.perf_counter()
            ev = evaluate(path, "o1_like", h=h_te)
            ev["eval_wall_s"] = time.perf_counter() - t_eval
            print(f"  -> {ev['bits_per_dim_real']:.4f} bits/dim, {ev['nmse_db']:.2f} dB, {train['steps']} steps",
                  flush=True)  # fmt: skip
            points[name].append(ev)
            runs.append({"codec": name, "lmbda": float(lmbda), **hparams[name],
                         **{k: v for k, v in train.items()}, "test": ev})  # fmt: skip
    both = len(names) == len(CODEC_NAMES)
    by_lambda = {}
    for k, lmbda in enumerate(args.lambdas):
        if both:
            by_lambda[f"{lmbda:g}"] = verdict(lmbda, points["learned-transform"][k], points["rd-cnn-paper"][k])
    table = [
        {
            "codec": r["codec"], "lmbda": r["lmbda"], "steps": r["steps"], "epochs": round(r["epochs"], 3),
            "train_wall_s": round(r["wall_s"], 1), "bits_per_dim_real": r["test"]["bits_per_dim_real"],
            "bits_per_dim_est": r["test"]["bits_per_dim_est"], "nmse_db": r["test"]["nmse_db"],
            "flops_per_report": flops[r["codec"]],
        }
        for r in runs
    ]  # fmt: skip
    result = {
        "comparison": "equal wall-clock training budget per codec and lambda, from scratch, same data",
        "budget_s_each": args.budget_s,
        "torch_threads": torch.get_num_threads(),
        "lambdas": [float(v) for v in args.lambdas],
        "data": {
            "preset": "o1_like",
            "num_train": len(h_tr),
            "train_seed": args.seed,
            "num_val": len(h_va),
            "num_test": len(h_te),
            "test_seed": 12345,
            "test_split": "test tracks",
            "train_data_hash": data_hash(h_tr),
        },  # fmt: skip
        "hyperparameters": hparams,
        "flops_per_report": flops,
        "flops_ratio_learned_transform_vs_paper": flops["learned-transform"] / flops["rd-cnn-paper"] if both else None,
        "num_params": params,
        "table": table,
        "verdict_by_lambda": by_lambda,
        "curve_comparison": curve_comparison(points) if both else [],
        "runs": runs,
        "total_wall_s": time.perf_counter() - t0,
    }
    write_json(args.out, result)
    print(json.dumps({k: result[k] for k in ("table", "verdict_by_lambda", "curve_comparison")}, indent=2))


if __name__ == "__main__":
    main()
