"""Shared pieces of the offline experiments: track channels, real-stream RD points, the paper's numbers.

    preset track --track_channels--> h [window + num_eval, A, S] --fine-tune on the window-->
    codec --stream_rd(h_eval, update_bits)--> {nmse_db, latent_bpd, update_bpd, total_bpd}
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from simnet.errors import ConfigError

PAPER_FILE = Path(__file__).with_name("paper_000.yaml")


def track_channels(preset: str, num: int, start_m: float, seed: int = 0, cache_dir: Path | None = None) -> np.ndarray:
    """``num`` consecutive samples along the preset's first track from ``start_m`` at its ``samples_per_m``.

    Args:
        preset: geometric channel preset (``quadriga_track``, ``o2_dynamic_like``, ...).
        num: number of samples.
        start_m: distance along the track of the first sample [m].
        seed: scene seed of the channel source.
        cache_dir: channel cache folder (None: compute).

    Returns:
        h: [num, num_bs_ant, num_subcarriers] complex64.
    """
    from simnet.channels import cached_channels, make_source

    src = make_source("geometric", preset=preset, seed=seed)
    cfg = getattr(src, "cfg")  # noqa: B009  (geometric sources only)
    spm, speed = float(cfg["samples_per_m"]), float(cfg["speed_mps"])
    way = src.tracks(1)[0]
    seg = np.linalg.norm(np.diff(way, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    s_m = start_m + np.arange(num) / spm
    k = np.clip(np.searchsorted(cum, s_m, side="right") - 1, 0, len(seg) - 1)
    pos = way[k] + ((s_m - cum[k]) / seg[k])[:, None] * (way[k + 1] - way[k])
    return np.asarray(cached_channels(src, pos, s_m / speed, cache_dir), dtype=np.complex64)


def stream_rd(codec: Any, h: np.ndarray, update_bits: float = 0.0) -> dict[str, float]:
    """RD point of a codec on ``h`` from its real bitstreams.

    Args:
        codec: any codec (``compress`` / ``decompress``).
        h: [N, A, S] complex64 evaluation reports.
        update_bits: bits of the model update spread over the N reports.

    Returns:
        {"nmse_db": 10 log10 of the mean per-report NMSE of the decoded streams, "latent_bpd": mean
        ``8 * len(stream)`` per real dimension (2 A S), "update_bpd", "total_bpd"}.
    """
    streams = codec.compress(h)
    h_hat = codec.decompress(streams)
    err = np.sum(np.abs(h_hat - h) ** 2, axis=(1, 2)) / np.sum(np.abs(h) ** 2, axis=(1, 2))
    dims = len(h) * 2 * h.shape[1] * h.shape[2]
    latent = float(sum(8 * len(s) for s in streams) / dims)
    return {"nmse_db": float(10 * np.log10(np.mean(err))), "latent_bpd": latent,
            "update_bpd": update_bits / dims, "total_bpd": latent + update_bits / dims}


def interp_db(rate: float, ref_rates: np.ndarray, ref_db: np.ndarray) -> float:
    """NMSE [dB] of a reference RD curve at ``rate`` (linear in log-rate, linearly extrapolated).

    Args:
        rate: total bits per dimension to read the curve at.
        ref_rates, ref_db: [K] the curve's points (K >= 2; NaN otherwise).
    """
    if len(ref_rates) < 2:
        return float("nan")
    order = np.argsort(ref_rates)
    x, y = np.log(np.asarray(ref_rates, dtype=float)[order]), np.asarray(ref_db, dtype=float)[order]
    lx = np.log(rate)
    i = int(np.clip(np.searchsorted(x, lx) - 1, 0, len(x) - 2))
    return float(y[i] + (y[i + 1] - y[i]) * (lx - x[i]) / (x[i + 1] - x[i]))


@cache
def paper_numbers(paper: str = "000") -> dict[str, Any]:
    """The numbers a paper prints, from ``paper_{paper}.yaml`` (``000``: the core paper's Tables IV and V;
    ``004``: codeword mimic, Tables I-III)."""
    return dict(yaml.safe_load(PAPER_FILE.with_name(f"paper_{paper}.yaml").read_text()))


def check_presets(key: str, presets: list[str] | tuple[str, ...]) -> None:
    """Raise ``ConfigError`` unless every entry is a geometric preset (with a did-you-mean)."""
    from simnet.channels import preset_names
    from simnet.experiments.base import choice, nonempty_unique

    nonempty_unique(key, presets)
    for i, preset in enumerate(presets):
        choice(f"{key}[{i}]", preset, preset_names())


def resolve_checkpoints(key: str, names: list[str] | tuple[str, ...]) -> list[Path]:
    """Checkpoint paths of ``names`` (``default``, shipped names, paths); ``ConfigError`` naming the entry."""
    from simnet.codecs.checkpoint import resolve_checkpoint
    from simnet.experiments.base import nonempty_unique

    nonempty_unique(key, names)
    return [resolve_checkpoint(str(n), f"{key}[{i}]", "") for i, n in enumerate(names)]


def finetune_config(key: str, kwargs: dict[str, Any], **defaults: Any) -> Any:
    """``FinetuneConfig.from_kwargs`` with errors naming ``key``."""
    from simnet.learning.finetune import FinetuneConfig

    try:
        return FinetuneConfig.from_kwargs(kwargs, **defaults)
    except ConfigError as err:
        raise ConfigError(f"{key}: {err}") from None
    except TypeError as err:
        raise ConfigError(f"{key}: {err}") from None
