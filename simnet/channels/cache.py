"""On-disk channel cache: npz files keyed by the source parameters and the samples, verified by checksum."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from simnet.channels.base import ChannelSource

CACHE_FORMAT_VERSION = 1


def _source_params(source: ChannelSource) -> Any:
    params = getattr(source, "params", None)
    if callable(params):
        return params()
    return {"class": type(source).__qualname__, "meta": source.meta.__dict__, "repr": repr(vars(source))}


def channel_cache_key(source: ChannelSource, pos_m: np.ndarray, t_s: np.ndarray) -> str:
    """SHA-256 over the source parameters (seed included) and the exact sample arrays: 64 hex chars."""
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {"v": CACHE_FORMAT_VERSION, "params": _source_params(source)}, sort_keys=True, default=str
        ).encode()
    )
    for arr in (np.ascontiguousarray(pos_m, dtype=np.float64), np.ascontiguousarray(t_s, dtype=np.float64)):
        digest.update(str(arr.shape).encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def _checksum(h: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(h).tobytes()).hexdigest()


def _load(path: Path, key: str) -> np.ndarray | None:
    """The cached H if the file is complete and its checksum and key match, else None."""
    try:
        with np.load(path, allow_pickle=False) as f:
            h = f["h"]
            ok = str(f["key"]) == key and str(f["sha256"]) == _checksum(h)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None
    return h if ok else None


def cached_channels(
    source: ChannelSource, pos_m: np.ndarray, t_s: np.ndarray, cache_dir: str | os.PathLike[str] | None
) -> np.ndarray:
    """``source.channels(pos_m, t_s)``, stored in and served from ``cache_dir``.

    The file ``<cache_dir>/<key>.npz`` holds H, the key and a SHA-256 of H. A hit is verified before use; a
    corrupt or mismatching file is regenerated with a warning, never used. Writes are atomic (temp file +
    rename), so concurrent runs do not see half-written files.

    Args:
        source: any channel source (its ``params()`` enter the key when it has one).
        pos_m: [N, 3], float64, positions [m]; t_s: [N], float64, times [s].
        cache_dir: folder for the cache (created if missing); None disables caching.

    Returns:
        h: [N, num_bs_ant, num_subcarriers], complex64.
    """
    if cache_dir is None:
        return source.channels(pos_m, t_s)
    folder = Path(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    key = channel_cache_key(source, pos_m, t_s)
    path = folder / f"{key}.npz"
    if path.exists():
        h = _load(path, key)
        if h is not None:
            return h
        warnings.warn(f"channel cache file {path} is corrupt; regenerating it", RuntimeWarning, stacklevel=2)
    h = np.ascontiguousarray(source.channels(pos_m, t_s), dtype=np.complex64)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, h=h, key=np.array(key), sha256=np.array(_checksum(h)))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return h
