"""Codec checkpoints: weights + constructor config + training metadata, loaded with weights_only=True."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simnet.codecs.base import CODECS
from simnet.errors import DataError, SimnetError

CHECKPOINT_FORMAT = "simnet-codec/1"
CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
DEFAULT_CHECKPOINT = "rd-cnn_lambda1.pt"  # the low-rate point, as the core paper fine-tunes


def default_checkpoint() -> Path:
    """Path of the shipped default ``rd-cnn`` checkpoint (the low-rate point of the shipped RD curve)."""
    return CHECKPOINT_DIR / DEFAULT_CHECKPOINT


def shipped_checkpoints() -> list[Path]:
    """All shipped checkpoints, sorted by name."""
    return sorted(CHECKPOINT_DIR.glob("*.pt"))


def data_hash(h: np.ndarray) -> str:
    """SHA-256 (hex) of a channel array's shape, dtype and bytes: identifies the data a codec saw."""
    arr = np.ascontiguousarray(h)
    digest = hashlib.sha256(f"{arr.shape}|{arr.dtype}".encode())
    digest.update(arr.tobytes())
    return digest.hexdigest()


def codec_type(codec: torch.nn.Module) -> str:
    """Registry name of a codec instance."""
    for name in CODECS:
        if type(codec) is CODECS.get(name):
            return name
    raise DataError(f"{type(codec).__name__} is not a registered codec; register it with @register_codec")


def save_codec(codec: torch.nn.Module, path: str | Path, **meta: Any) -> Path:
    """Write a checkpoint.

    Args:
        codec: a registered codec (its ``config`` dict holds its constructor kwargs).
        path: destination file (parent folders are created).
        **meta: plain metadata (``lmbda``, ``data_hash``, ``source_preset``, metrics...): str, int, float,
            bool, None, or lists/dicts of those.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone() for k, v in codec.state_dict().items()}
    blob = {
        "format": CHECKPOINT_FORMAT,
        "type": codec_type(codec),
        "config": dict(getattr(codec, "config", {})),
        "state_dict": state,
        "meta": meta,
    }
    torch.save(blob, path)
    return path


def load_codec(path: str | Path, **overrides: Any) -> Any:
    """Build a codec from a checkpoint.

    Args:
        path: a file written by :func:`save_codec`.
        **overrides: constructor kwargs that must agree with the checkpoint's (e.g. ``num_bs_ant`` from the
            scenario); a disagreement is a DataError naming the key.

    Returns:
        The codec in eval mode, with ``checkpoint_meta`` (the saved metadata) attached.

    Raises:
        DataError: missing, corrupt or mismatched file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"codec checkpoint {str(path)!r} not found; run `simnet pretrain` or fix the path")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise DataError(f"codec checkpoint {str(path)!r} is corrupt or not a checkpoint ({err})") from None
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise DataError(f"codec checkpoint {str(path)!r} is not a {CHECKPOINT_FORMAT} file")
    config = dict(blob.get("config", {}))
    for key, value in overrides.items():
        if key in config and config[key] != value:
            raise DataError(
                f"codec checkpoint {str(path)!r} was trained with {key}={config[key]!r}, not {value!r}; "
                f"use a checkpoint made for this setting or pretrain one"
            )
    try:
        codec = CODECS.make(str(blob.get("type")), **config)
        codec.load_state_dict(blob["state_dict"], strict=True)
    except SimnetError as err:
        raise DataError(f"codec checkpoint {str(path)!r} does not describe a valid codec: {err}") from None
    except (RuntimeError, KeyError, TypeError, ValueError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"codec checkpoint {str(path)!r} does not match its codec type: {first}") from None
    codec.eval()
    codec.checkpoint_meta = dict(blob.get("meta", {}))
    return codec
