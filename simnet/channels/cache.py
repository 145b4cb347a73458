"""On-disk channel cache: raw .npy files keyed by the source parameters and the samples, verified by CRC-32."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from simnet.channels.base import ChannelSource
from simnet.files import new_file_mode

CACHE_FORMAT_VERSION = 2
_CHUNK_BYTES = 32 * 2**20  # read and checksum in 32 MiB pieces, so each piece is summed while still in cache


def _source_params(source: ChannelSource) -> Any:
    params = getattr(source, "params", None)
    if callable(params):
        return params()
    return {"class": type(source).__qualname__, "meta": source.meta.__dict__, "repr": repr(vars(source))}


def channel_cache_key(source: ChannelSource, pos_m: np.ndarray, t_s: np.ndarray) -> str:
    """SHA-256 over the source parameters (seed included) and the exact sample arrays: 64 hex chars."""
    digest = hashlib.sha256()
    digest.update(
        json.dumps({"v": CACHE_FORMAT_VERSION, "params": _source_params(source)}, sort_keys=True, default=str).encode()
    )
    for arr in (np.ascontiguousarray(pos_m, dtype=np.float64), np.ascontiguousarray(t_s, dtype=np.float64)):
        digest.update(str(arr.shape).encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def _crc32(h: np.ndarray) -> int:
    view = np.ascontiguousarray(h).reshape(-1).view(np.uint8).data
    crc = 0
    for start in range(0, len(view), _CHUNK_BYTES):
        crc = zlib.crc32(view[start : start + _CHUNK_BYTES], crc)
    return crc


def _read_npy_checked(path: Path, meta: dict[str, Any]) -> np.ndarray | None:
    """Read a C-ordered .npy straight into a fresh array, CRC-32 on the fly; None if anything disagrees."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            return None
        if fortran or list(shape) != meta["shape"] or dtype.str != meta["dtype"]:
            return None
        h = np.empty(shape, dtype=dtype)
        view = h.reshape(-1).view(np.uint8).data
        crc = 0
        for start in range(0, len(view), _CHUNK_BYTES):
            piece = view[start : start + _CHUNK_BYTES]
            if fh.readinto(piece) != len(piece):
                return None  # truncated
            crc = zlib.crc32(piece, crc)
        if fh.read(1):
            return None  # trailing bytes: not the file we wrote
    return h if crc == meta["crc32"] else None


def _sidecar_ok(meta: Any) -> bool:
    """A sidecar of the shape we write: {"format": int, "key": str, "shape": [int...], "dtype": str, "crc32": int}."""
    return (
        isinstance(meta, dict)
        and isinstance(meta.get("key"), str)
        and isinstance(meta.get("dtype"), str)
        and type(meta.get("crc32")) is int
        and isinstance(meta.get("shape"), list)
        and all(type(n) is int and n >= 0 for n in meta["shape"])
    )


def _load(npy: Path, sidecar: Path, key: str) -> np.ndarray | None:
    """The cached H if both files are complete and the key and CRC-32 match, else None."""
    try:
        meta = json.loads(sidecar.read_text())
        if not _sidecar_ok(meta) or meta["key"] != key or meta.get("format") != CACHE_FORMAT_VERSION:
            return None
        return _read_npy_checked(npy, meta)
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None


def _atomic_write(folder: Path, target: Path, suffix: str, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=suffix + ".tmp")
    try:
        os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _usable_folder(cache_dir: str | os.PathLike[str]) -> Path | None:
    """The cache folder, created if missing; None (after one warning) if it cannot be one."""
    folder = Path(cache_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = "it is a file" if folder.exists() and not folder.is_dir() else err.strerror or type(err).__name__
        warnings.warn(f"channel cache folder {folder} cannot be used ({reason}); running without the channel "
                      f"cache (give --cache-dir a writable folder or --no-cache)", RuntimeWarning, stacklevel=3)
        return None
    return folder


def cached_channels(
    source: ChannelSource, pos_m: np.ndarray, t_s: np.ndarray, cache_dir: str | os.PathLike[str] | None
) -> np.ndarray:
    """``source.channels(pos_m, t_s)``, stored in and served from ``cache_dir``.

    Two files per entry: ``<key>.npy`` (H as a plain NumPy array, no compression, so a hit is one sequential
    read) and ``<key>.json`` (format version, key, shape, dtype and the CRC-32 of H's bytes), written after the
    array. A hit re-reads H and recomputes its CRC-32 before use (~0.3 s for the 324 MiB quadriga_track on
    this machine); a missing, truncated, mismatching or corrupt entry is regenerated with a warning, never
    used. CRC-32 catches accidental corruption (any burst up to 32 bits, else all but 2^-32 of random
    damage); it is not a defence against deliberate tampering. Writes are atomic (temp file + rename) and
    the files get the user's umask like any other file. A cache folder that cannot be created or written
    (a file, read-only) or an entry that is a directory costs a warning, never the run: the channels are
    then computed and used without being stored.

    Args:
        source: any channel source (its ``params()`` enter the key when it has one).
        pos_m: [N, 3], float64, positions [m]; t_s: [N], float64, times [s].
        cache_dir: folder for the cache (created if missing); None disables caching.

    Returns:
        h: [N, num_bs_ant, num_subcarriers], complex64.
    """
    folder = None if cache_dir is None else _usable_folder(cache_dir)
    if folder is None:
        return source.channels(pos_m, t_s)
    key = channel_cache_key(source, pos_m, t_s)
    npy, sidecar = folder / f"{key}.npy", folder / f"{key}.json"
    if npy.is_dir() or sidecar.is_dir():
        warnings.warn(f"channel cache entry {npy} (or its .json) is a directory, not a file; these channels are "
                      f"computed without caching (remove it to cache them again)", RuntimeWarning, stacklevel=2)
        return source.channels(pos_m, t_s)
    if npy.exists() or sidecar.exists():
        h = _load(npy, sidecar, key)
        if h is not None:
            return h
        warnings.warn(
            f"channel cache entry {npy} is corrupt or incomplete; regenerating it", RuntimeWarning, stacklevel=2
        )
    h = np.ascontiguousarray(source.channels(pos_m, t_s), dtype=np.complex64)
    meta = {
        "format": CACHE_FORMAT_VERSION,
        "key": key,
        "shape": list(h.shape),
        "dtype": h.dtype.str,
        "crc32": _crc32(h),
    }
    try:
        _atomic_write(folder, npy, ".npy", lambda fh: np.lib.format.write_array(fh, h, allow_pickle=False))
        _atomic_write(folder, sidecar, ".json", lambda fh: fh.write(json.dumps(meta).encode()))
    except OSError as err:  # read-only folder, full disk: the run goes on without storing this entry
        warnings.warn(f"channel cache folder {folder} cannot be written ({err.strerror or err}); running without "
                      f"storing channels there (give --cache-dir a writable folder or --no-cache)",
                      RuntimeWarning, stacklevel=2)
    return h
