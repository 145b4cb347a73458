"""Rate-distortion evaluation of a codec checkpoint on held-out channels (``simnet evaluate``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simnet.codecs import load_codec
from simnet.codecs.checkpoint import codec_type


def evaluate(
    checkpoint: str | Path,
    preset: str = "o1_like",
    num_samples: int = 1000,
    seed: int = 12345,
    h: np.ndarray | None = None,
) -> dict[str, Any]:
    """Real and estimated rate and the NMSE of a checkpoint on held-out channels.

    Held-out: the ``test`` tracks of :func:`simnet.learning.pretrain.sample_channels` (positions no training sample
    came from) in the training scene; other presets are new environments altogether.

    Args:
        checkpoint: codec checkpoint path.
        preset: geometric channel preset to draw the test channels from.
        num_samples: number of test reports.
        seed: seed of the test position draw.
        h: [N, A, S] complex64 test channels to use instead of drawing them.

    Returns:
        {"bits_per_dim_real": mean 8*len(stream) / (2*A*S), "bits_per_dim_est": likelihood estimate (incl.
        the 16 norm bits), "bits_per_report_real", "bits_per_report_est", "bits_per_dim_packed" (all reports
        in one stream), "nmse_db": 10 log10 of the mean per-report NMSE, "nmse_db_median", ...}.
    """
    from simnet.learning.pretrain import sample_channels

    codec = load_codec(checkpoint)
    if h is None:
        h = sample_channels(preset, num_samples, seed=seed, split="test")
    h_hat, bits = codec.reconstruct(h)
    estimate = codec.estimate_bits(h)
    packed_bits = 8 * len(codec.compress_packed(h))
    err = np.sum(np.abs(h_hat - h) ** 2, axis=(1, 2))
    power = np.sum(np.abs(h) ** 2, axis=(1, 2))
    nmse = err / np.maximum(power, np.finfo(np.float64).tiny)
    dims = codec.num_real_dims
    return {
        "checkpoint": str(checkpoint),
        "codec": codec_type(codec),
        "lmbda": codec.checkpoint_meta.get("lmbda"),
        "preset": preset,
        "num_samples": int(len(h)),
        "seed": seed,
        "num_real_dims": dims,
        "bits_per_report_real": float(bits.mean()),
        "bits_per_report_est": float(estimate.mean()),
        "bits_per_dim_real": float(bits.mean() / dims),
        "bits_per_dim_est": float(estimate.mean() / dims),
        "bits_per_dim_packed": float(packed_bits / len(h) / dims),
        "overhead_bits_per_stream": float(bits.mean() - estimate.mean()),
        "nmse_db": float(10 * np.log10(nmse.mean())),
        "nmse_db_median": float(10 * np.log10(np.median(nmse))),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``simnet evaluate CHECKPOINT [--preset P]``: print (and optionally write) the RD point as JSON."""
    parser = argparse.ArgumentParser(prog="simnet evaluate", description=main.__doc__)
    parser.add_argument("checkpoint", help="codec checkpoint (.pt)")
    parser.add_argument("--preset", default="o1_like", help="geometric channel preset of the test data")
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--out", default=None, help="write the result JSON here too")
    args = parser.parse_args(argv)
    result = evaluate(args.checkpoint, args.preset, args.num_samples, args.seed)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
