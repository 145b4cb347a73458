"""Where csi-inr's error comes from: its encoder (the inner loop), its base network, or its meta-training
-> results/csi_inr_diagnosis.json.

- ``encoder``: on held-out o1_like reports (the codec-family study's draw), the shipped checkpoint's NMSE with
  M = 0 (the unmodulated base network), with the UE's K inner steps, and with M optimised to convergence
  (``--adam-steps`` Adam steps on each report's own MSE, from M_K). If the last two agree, the inner loop
  finds the best M there is, and the error is the base network's.
- ``linear_code``: the same reports coded by a linear code of as many real numbers as M has (the n/2 and n
  leading complex principal components of the checkpoint's own training channels, float coefficients, no
  quantization), the baseline a meta-learned manifold of n modulations should beat.
- ``learning_probe`` (``--probe-steps`` > 0): meta-training from scratch with the shipped recipe (second-order
  MAML, Adam 1e-3, 16 reports and 512 coordinates per outer step, seed 0) for the default architecture and the
  variants of ``PROBES``; held-out NMSE (float modulations, K steps) every 100 outer steps, and seconds per step.

    python benchmarks/diagnose_csi_inr.py [--threads 1] [--num-test 32] [--probe-steps 300]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from simnet.codecs import CODECS, load_codec
from simnet.codecs.checkpoint import CHECKPOINT_DIR
from simnet.codecs.normalization import norm_code, normalize
from simnet.files import write_json
from simnet.learning.pretrain import sample_channels
from simnet.sim.beamforming import nmse, to_db

OUT = Path(__file__).parent / "results" / "csi_inr_diagnosis.json"
PROBES: dict[str, dict[str, Any]] = {
    "default (film, d 64)": {},
    "shift modulations": {"modulation": "shift"},
    "d 128": {"hidden": 128},
    "fourier_scale 1": {"fourier_scale": 1.0},
    "omega0 10, inner_lr 0.05": {"omega0": 10.0, "inner_lr": 0.05},
    "inner_lr 1": {"inner_lr": 1.0},
}


def _nmse_db(h_hat: torch.Tensor, h_n: torch.Tensor) -> float:
    """Mean per-report NMSE [dB] of [B, A, S] complex tensors."""
    return float(to_db(nmse(h_n.detach().numpy(), h_hat.detach().numpy()).mean()))


def encoder_gap(codec: Any, h_n: torch.Tensor, adam_steps: int) -> dict[str, float]:
    """NMSE with M = 0, after the codec's K inner steps, and with M optimised to convergence."""
    codec.eval()
    n = codec.inner_lr.shape[0]
    m_k = codec.fit_modulations(h_n)
    with torch.no_grad():
        zero = _nmse_db(codec.render(torch.zeros(len(h_n), n)), h_n)
        inner = _nmse_db(codec.render(m_k), h_n)
    m = m_k.clone().requires_grad_(True)
    opt = torch.optim.Adam([m], lr=1e-2)
    for _ in range(adam_steps):
        err = (codec.render(m) - h_n).abs().square().flatten(1).mean(1).sum()
        opt.zero_grad()
        err.backward()
        opt.step()
    with torch.no_grad():
        best = _nmse_db(codec.render(m), h_n)
        moved = float((m - m_k).norm(dim=1).mean() / m_k.norm(dim=1).mean())
    return {"nmse_db_m_zero": zero, f"nmse_db_{codec.num_inner_steps}_inner_steps": inner,
            f"nmse_db_m_optimised_{adam_steps}_adam_steps": best, "relative_move_of_m": moved}


def linear_code(h_train: torch.Tensor, h_n: torch.Tensor, num_reals: int) -> dict[str, float]:
    """NMSE of the best rank-k linear code of the training channels (k complex components = 2k reals)."""
    x = h_train.reshape(len(h_train), -1)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    y = h_n.reshape(len(h_n), -1)
    out = {}
    for reals in (num_reals, 2 * num_reals):
        basis = vh[: reals // 2]
        rebuilt = (y @ basis.conj().T) @ basis
        out[f"nmse_db_{reals}_reals"] = _nmse_db(rebuilt.reshape(h_n.shape), h_n)
    return out


def learning_probe(options: dict[str, Any], h_train: torch.Tensor, h_n_val: torch.Tensor,
                   steps: int) -> dict[str, Any]:
    """Meta-train a fresh csi-inr with ``options`` for ``steps`` outer steps; held-out NMSE every 100 steps."""
    codec = CODECS.make("csi-inr", seed=0, **options)
    opt = torch.optim.Adam(codec.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    curve = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        codec.train()
        out = codec(h_train[torch.randint(0, len(h_train), (16,), generator=gen)], gen)
        loss = codec.rd_loss(out, 1.0)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps:
            codec.eval()
            with torch.no_grad():
                h_hat = codec.render(codec.fit_modulations(h_n_val))
            curve.append({"outer_step": step, "val_nmse_db": _nmse_db(h_hat, h_n_val)})
    wall = time.perf_counter() - start
    return {"options": options, "curve": curve, "s_per_outer_step": wall / steps,
            "final_mean_inner_lr": float(codec.inner_lr.detach().mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="csi-inr_lambda1")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--num-test", type=int, default=32)
    parser.add_argument("--adam-steps", type=int, default=300)
    parser.add_argument("--probe-steps", type=int, default=0, help="outer steps per probe (0: no probe)")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    codec = load_codec(CHECKPOINT_DIR / f"{args.checkpoint}.pt")
    meta = codec.checkpoint_meta
    h_test = torch.from_numpy(sample_channels("o1_like", args.num_test, seed=2, split="test"))
    h_n = normalize(h_test, norm_code(h_test))
    h_train = torch.from_numpy(sample_channels(meta["source_preset"], meta["num_train"], seed=meta["seed"]))
    h_n_train = normalize(h_train, norm_code(h_train))
    n = int(codec.inner_lr.shape[0])
    result: dict[str, Any] = {
        "benchmark": "csi_inr_diagnosis", "torch": torch.__version__, "threads": args.threads,
        "checkpoint": args.checkpoint, "num_test": args.num_test, "num_modulations": n,
        "encoder": encoder_gap(codec, h_n, args.adam_steps),
        "linear_code": linear_code(h_n_train, h_n, n),
    }
    if args.probe_steps > 0:
        val = sample_channels("o1_like", 64, seed=1, split="val")
        h_val = torch.from_numpy(val)
        result["learning_probe"] = {name: learning_probe(options, h_train, normalize(h_val, norm_code(h_val)),
                                                         args.probe_steps) for name, options in PROBES.items()}
    result["wall_s"] = time.perf_counter() - start
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
