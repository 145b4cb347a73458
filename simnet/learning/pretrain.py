"""Pretraining of the rate-distortion codecs on a source environment (``simnet pretrain``)."""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from simnet.codecs import CODECS, data_hash, rd_loss, save_codec
from simnet.codecs.checkpoint import CHECKPOINT_DIR
from simnet.errors import ConfigError

DEFAULT_LAMBDAS = (1.0, 4.0, 16.0, 64.0)
NUM_TRACKS = 40  # UE rows of the source; every 10th track is validation, every 10th + 1 is test
SPLITS = {"train": range(2, 10), "val": range(0, 1), "test": range(1, 2)}


def sample_channels(
    preset: str, num_samples: int, seed: int, split: str = "train", source_seed: int = 0
) -> np.ndarray:
    """Channels at random positions along the source's default UE tracks.

    Tracks are split by index (``track % 10``: 0 validation, 1 test, the rest training), so the held-out
    sets are positions no training sample came from, in the same scene (``source_seed``).

    Args:
        preset: geometric channel preset (``o1_like``, ``quadriga_track``, ``o2_dynamic_like``).
        num_samples: number of channels.
        seed: seed of the position draw.
        split: ``"train"``, ``"val"`` or ``"test"``.
        source_seed: scene seed of the channel source.

    Returns:
        h: [num_samples, num_bs_ant, num_subcarriers], complex64.
    """
    from simnet.channels import make_source  # channels are independent of codecs; only this tool joins them

    if split not in SPLITS:
        raise ConfigError(f"split {split!r} is not one of {sorted(SPLITS)}")
    source = make_source("geometric", preset=preset, seed=source_seed)
    tracks = [t for k, t in enumerate(source.tracks(NUM_TRACKS)) if k % 10 in SPLITS[split]]
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(tracks), num_samples)
    segments = []
    for track in tracks:
        lengths = np.linalg.norm(np.diff(track, axis=0), axis=1)
        segments.append((track, np.concatenate([[0.0], np.cumsum(lengths)])))
    arc = rng.uniform(0.0, 1.0, num_samples)
    pos = np.empty((num_samples, 3))
    for k, (track, cum) in enumerate(segments):
        sel = which == k
        s = arc[sel] * cum[-1]
        for axis in range(3):
            pos[sel, axis] = np.interp(s, cum, track[:, axis])
    t_s = rng.uniform(0.0, 60.0, num_samples)  # dynamic presets: spread samples over a minute of scenes
    return np.asarray(source.channels(pos, t_s), dtype=np.complex64)


def train_codec(
    codec: Any,
    h_train: np.ndarray,
    h_val: np.ndarray,
    lmbda: float,
    *,
    max_epochs: int = 200,
    batch_size: int = 64,
    lr: float = 1e-3,
    patience: int = 10,
    time_budget_s: float | None = None,
    lr_schedule: str = "constant",
    device: str = "cpu",
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Minimise the codec's RD loss (:func:`loss_terms`) with Adam, early stopping on the validation loss.

    The validation loss uses rounding (eval mode) and the likelihood rate; the best state is restored.
    ``lr_schedule``: ``"constant"``, or ``"cosine"`` (annealed per epoch from ``lr`` to ``lr / 50`` over
    ``max_epochs``; a fixed epoch count then makes the result independent of the machine's speed).
    Training runs on ``device`` (e.g. ``"cuda"``); validation and the entropy tables on a CPU copy, and the
    codec is returned on the CPU. The CPU is the tested path; another device draws other noise and batches.

    Returns:
        {"epochs", "best_val": {"loss", ...the loss terms}, "wall_s", "history": [...]}.
    """
    check_device(device)
    codec.to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    if lr_schedule not in ("constant", "cosine"):
        raise ConfigError(f"lr_schedule {lr_schedule!r} is not 'constant' or 'cosine'")
    opt = torch.optim.Adam(codec.parameters(), lr=lr)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max_epochs, eta_min=lr / 50)
             if lr_schedule == "cosine" else None)  # fmt: skip
    h_tr = torch.as_tensor(h_train, device=device)
    begin, end_epoch = getattr(codec, "begin_training", None), getattr(codec, "end_epoch", None)
    if begin is not None:  # e.g. bit-alloc: K-means codebooks and a bit allocation before the first step
        begin(h_train)
    best: dict[str, float] | None = None
    best_state = copy.deepcopy(codec.state_dict())
    history: list[dict[str, float]] = []
    bad_epochs = 0
    start = time.perf_counter()
    bar = tqdm(range(max_epochs), desc=f"lambda={lmbda:g}", disable=not progress, leave=False)
    for epoch in bar:
        codec.train()
        order = torch.randperm(len(h_tr), generator=gen, device=device)
        for i in range(0, len(order), batch_size):
            out = codec(h_tr[order[i : i + batch_size]], gen)
            loss = loss_terms(codec, out, lmbda)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
        if sched is not None:
            sched.step()
        if end_epoch is not None:  # e.g. bit-alloc: re-allocate bits between epochs (alternating training)
            end_epoch(h_train)
        on_cpu = codec if device == "cpu" else copy.deepcopy(codec).cpu()
        val = evaluate_loss(on_cpu, h_val, lmbda)
        history.append({"epoch": epoch, **val})
        bar.set_postfix({k: f"{v:.4f}" for k, v in val.items()})
        if best is None or val["loss"] < best["loss"] - 1e-5:
            best, bad_epochs = val, 0
            best_state = copy.deepcopy(on_cpu.state_dict())
        else:
            bad_epochs += 1
        out_of_time = time_budget_s is not None and time.perf_counter() - start > time_budget_s
        if bad_epochs >= patience or out_of_time:
            break
    codec.cpu()
    codec.load_state_dict(best_state)
    codec.eval()
    codec.update_entropy_tables()
    wall_s = time.perf_counter() - start
    return {"epochs": len(history), "best_val": best, "wall_s": wall_s, "history": history}


def check_device(device: str) -> None:
    """Raise one line unless ``device`` names a torch device this machine has (``cpu``, ``cuda``, ``cuda:1``)."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        raise ConfigError(f"device {device!r} is not a torch device name; use 'cpu' or 'cuda'") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: torch sees no CUDA device here (torch {torch.__version__}); "
                          f"use --device cpu or install a CUDA build of torch on a GPU machine")
    if kind not in ("cpu", "cuda"):
        raise ConfigError(f"device {device!r}: only 'cpu' and 'cuda' are supported")


def loss_terms(codec: Any, out: dict[str, Any], lmbda: float) -> dict[str, torch.Tensor]:
    """The RD loss the codec is trained on: its own ``rd_loss`` if it has one (``eigen-sgcs``:
    ``lambda * (1 - SGCS) + bits/dim``), else :func:`simnet.codecs.rd_loss` (``lambda * MSE + bits/dim``)."""
    own = getattr(codec, "rd_loss", None)
    return own(out, lmbda) if own is not None else rd_loss(out, lmbda)


@torch.no_grad()
def evaluate_loss(codec: Any, h: np.ndarray, lmbda: float, batch_size: int = 512) -> dict[str, float]:
    """Eval-mode RD loss terms on a data set (rounded latents, likelihood rate)."""
    codec.eval()
    sums: dict[str, float] = {}
    for i in range(0, len(h), batch_size):
        part = h[i : i + batch_size]
        terms = loss_terms(codec, codec(part), lmbda)
        for k, value in terms.items():
            sums[k] = sums.get(k, 0.0) + float(value) * len(part)
    return {k: v / len(h) for k, v in sums.items()}


def checkpoint_name(codec_type: str, lmbda: float, rate: float | None = None) -> str:
    """``learned-transform_lambda16.pt`` style file name; a codec whose rate is a constructor option
    (its class's ``rate_option``, e.g. bit-alloc's ``total_bits``) is named by that: ``bit-alloc_total_bits256.pt``."""
    if rate is not None:
        return f"{codec_type}_{getattr(CODECS.get(codec_type), 'rate_option', 'rate')}{rate:g}.pt"
    return f"{codec_type}_lambda{lmbda:g}.pt"


def pretrain(
    source_preset: str = "o1_like",
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
    codec_type: str = "learned-transform",
    codec_kwargs: dict[str, Any] | None = None,
    num_train: int = 3000,
    num_val: int = 400,
    seed: int = 0,
    out_dir: str | Path = CHECKPOINT_DIR,
    progress: bool = True,
    rates: Sequence[float] | None = None,
    **train_kwargs: Any,
) -> list[Path]:
    """Train one codec per lambda on a source environment and write the checkpoints.

    Args:
        source_preset: geometric preset to train on.
        lambdas: RD weights (larger: more rate, lower distortion).
        codec_type: registered codec name.
        codec_kwargs: extra constructor kwargs (num_bs_ant/num_subcarriers come from the data).
        num_train, num_val: sample counts of the training and validation splits.
        seed: seeds the data draw, the initialisation and the training noise.
        out_dir: destination folder.
        rates: for a codec with a ``rate_option`` (bit-alloc: ``total_bits``), one checkpoint per value of that
            option, all at the single lambda of ``lambdas``; None: one checkpoint per lambda.
        **train_kwargs: passed to :func:`train_codec` (max_epochs, batch_size, lr, patience, time_budget_s).

    Returns:
        Paths of the written checkpoints, in ``lambdas`` order.
    """
    check_device(train_kwargs.get("device", "cpu"))  # before the data draw, so a bad device costs nothing
    runs: list[tuple[float, float | None]] = [(float(lmbda), None) for lmbda in lambdas]
    option = getattr(CODECS.get(codec_type), "rate_option", None)
    if rates is not None:
        if option is None:
            raise ConfigError(f"--rates: codec {codec_type!r} has no rate option; give --lambdas alone")
        if len(lambdas) != 1:
            raise ConfigError(f"--rates: give one --lambdas value with it (got {len(lambdas)}); {codec_type}'s "
                              f"rate is its {option}")
        runs = [(float(lambdas[0]), float(rate)) for rate in rates]
    h_train = sample_channels(source_preset, num_train, seed=seed, split="train")
    h_val = sample_channels(source_preset, num_val, seed=seed + 1, split="val")
    digest = data_hash(h_train)
    paths = []
    for lmbda, rate in runs:
        kwargs = {"num_bs_ant": h_train.shape[1], "num_subcarriers": h_train.shape[2], "seed": seed}
        kwargs.update(codec_kwargs or {})
        if rate is not None:
            kwargs[str(option)] = int(rate) if rate.is_integer() else rate
        codec = CODECS.make(codec_type, **kwargs)
        result = train_codec(
            codec, h_train, h_val, float(lmbda), seed=seed, progress=progress, **train_kwargs
        )
        fit = getattr(codec, "fit_entropy_model", None)  # csi-inr: bin frequencies of the trained modulations
        entropy_fit = fit(h_train) if callable(fit) else None
        meta = {
            "lmbda": float(lmbda), "data_hash": digest, "source": "geometric",
            "source_preset": source_preset, "source_seed": 0, "num_train": num_train, "num_val": num_val,
            "seed": seed, "epochs": result["epochs"], "wall_s": result["wall_s"],
            "best_val": result["best_val"], "train": dict(train_kwargs),
        }  # fmt: skip
        if entropy_fit is not None:
            meta["entropy_fit"] = entropy_fit
        assert meta["data_hash"] == digest
        if rate is not None:
            meta["rate"] = {str(option): kwargs[str(option)]}
        paths.append(save_codec(codec, Path(out_dir) / checkpoint_name(codec_type, float(lmbda), rate), **meta))
        if progress:
            tqdm.write(f"{paths[-1]}: {result['epochs']} epochs, val {result['best_val']}")
    return paths


def codec_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``["num_latent=16", ...]`` -> ``{"num_latent": 16}`` (values read as YAML scalars or lists)."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ConfigError(f"--codec-option {pair!r}: must be KEY=VALUE, e.g. num_latent=16")
        out[key] = yaml.safe_load(value)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``simnet pretrain``: train the RD curve's checkpoints (defaults reproduce the shipped ones)."""
    parser = argparse.ArgumentParser(prog="simnet pretrain", description=main.__doc__)
    parser.add_argument("--preset", default="o1_like", help="geometric channel preset to train on")
    parser.add_argument("--codec", default="learned-transform", help="registered codec type")
    parser.add_argument("--lambdas", type=float, nargs="+", default=list(DEFAULT_LAMBDAS))
    parser.add_argument("--rates", type=float, nargs="+", default=None,
                        help="values of the codec's rate option (bit-alloc: total_bits), one checkpoint each")
    parser.add_argument("--codec-option", action="append", default=[], metavar="KEY=VALUE",
                        help="codec constructor option, e.g. num_latent=16 (repeatable; VALUE is YAML)")
    parser.add_argument("--num-train", type=int, default=3000)
    parser.add_argument("--num-val", type=int, default=400)
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant")
    parser.add_argument("--device", default="cpu", help="torch device for training: cpu (default, tested) or cuda")
    parser.add_argument("--time-budget-s", type=float, default=200.0, help="wall-clock cap per lambda")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(CHECKPOINT_DIR), help="output folder")
    args = parser.parse_args(argv)
    pretrain(
        args.preset, args.lambdas, args.codec, codec_options(args.codec_option), num_train=args.num_train,
        num_val=args.num_val, seed=args.seed, rates=args.rates,
        out_dir=args.out, max_epochs=args.max_epochs, batch_size=args.batch_size, lr=args.lr,
        patience=args.patience, time_budget_s=args.time_budget_s, lr_schedule=args.lr_schedule,
        device=args.device,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
