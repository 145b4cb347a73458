"""Codec checkpoints: weights + constructor config + training metadata, verified, then loaded with weights_only=True.

Every checkpoint is a zip archive (``torch.save``'s format) whose members carry CRC-32s that ``torch.load``
never checks; :func:`verify_checkpoint` checks them all, and for the shipped checkpoints also the SHA-256
listed in ``checkpoints/SHA256SUMS`` (``sha256sum`` format), before any byte is unpickled.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simnet.codecs.base import CODECS
from simnet.errors import ConfigError, DataError, SimnetError

CHECKPOINT_FORMAT = "simnet-codec/1"
CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
DEFAULT_CHECKPOINT = "learned-transform_lambda1.pt"  # the low-rate point, as the core paper fine-tunes
SHA256_LIST = CHECKPOINT_DIR / "SHA256SUMS"
DEFAULT_LMBDA = 1.0
"""lambda of a codec whose checkpoint and ``codec:`` block give none: the shipped default checkpoint's."""


def default_checkpoint() -> Path:
    """Path of the shipped default ``learned-transform`` checkpoint (the low-rate point of the shipped RD curve)."""
    return CHECKPOINT_DIR / DEFAULT_CHECKPOINT


def shipped_checkpoints() -> list[Path]:
    """All shipped checkpoints, sorted by name."""
    return sorted(CHECKPOINT_DIR.glob("*.pt"))


def shipped_sha256() -> dict[str, str]:
    """The shipped checkpoints' SHA-256 list: file name -> hex digest (empty if the list is missing)."""
    if not SHA256_LIST.is_file():
        return {}
    digests: dict[str, str] = {}
    for line in SHA256_LIST.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            digests[name.lstrip("*")] = digest
    return digests


def _record_shipped_sha256(path: Path) -> None:
    """Enter (or replace) ``path``'s digest in the shipped list, so a regenerated shipped checkpoint verifies."""
    digests = shipped_sha256()
    digests[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    text = "".join(f"{digests[name]}  {name}\n" for name in sorted(digests))
    tmp = SHA256_LIST.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, SHA256_LIST)


def verify_checkpoint(path: str | Path) -> tuple[bytes, str]:
    """Read a checkpoint file and check it before anything is unpickled.

    Checks: it is a regular file; it is a zip archive whose every member matches its CRC-32; and, for a file
    in the shipped folder that ``SHA256SUMS`` lists, that its SHA-256 is the listed one.

    Returns:
        (the file's bytes, their SHA-256 in hex).

    Raises:
        DataError: one line naming the file, what is wrong and the fix.
    """
    path = Path(path)
    name = repr(str(path))
    if path.is_dir():
        raise DataError(f"codec checkpoint {name} is a directory; give the path of a .pt file inside it")
    if not path.is_file():
        raise DataError(f"codec checkpoint {name} not found; run `simnet pretrain` or fix the path")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"codec checkpoint {name} cannot be read ({err.strerror}); fix its permissions") from None
    digest = hashlib.sha256(data).hexdigest()
    fix = "restore it (reinstall simnet or `git checkout` it) or run `simnet pretrain` again"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            bad_member = archive.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as err:
        if not data.startswith(b"PK"):
            raise DataError(f"codec checkpoint {name} is not a checkpoint (not the zip archive torch.save writes); "
                            f"give a file written by `simnet pretrain`") from None
        raise DataError(f"codec checkpoint {name} is corrupt ({err}); {fix}") from None
    except Exception as err:  # zlib.error and friends from a damaged member's compressed data
        raise DataError(f"codec checkpoint {name} is corrupt ({type(err).__name__}: {err}); {fix}") from None
    if bad_member is not None:
        raise DataError(f"codec checkpoint {name} is corrupt (member {bad_member!r} fails its CRC-32); {fix}")
    if path.resolve().parent == CHECKPOINT_DIR.resolve():
        expected = shipped_sha256().get(path.name)
        if expected is not None and expected != digest:
            raise DataError(f"shipped codec checkpoint {name} has SHA-256 {digest[:16]}..., not the "
                            f"{expected[:16]}... listed in {SHA256_LIST.name}; {fix}")
    return data, digest


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
    if path.resolve().parent == CHECKPOINT_DIR.resolve():
        _record_shipped_sha256(path)
    return path


def load_codec(path: str | Path, **overrides: Any) -> Any:
    """Build a codec from a checkpoint.

    Args:
        path: a file written by :func:`save_codec`.
        **overrides: constructor kwargs that must agree with the checkpoint's (e.g. ``num_bs_ant`` from the
            scenario); a disagreement is a DataError naming the key.

    Returns:
        The codec in eval mode, with ``checkpoint_meta`` (the saved metadata) and ``checkpoint_sha256`` (the
        file's SHA-256, hex) attached.

    Raises:
        DataError: missing, corrupt (see :func:`verify_checkpoint`) or mismatched file.
    """
    path = Path(path)
    blob, digest = _read_blob(path)
    config = dict(blob.get("config", {}))
    for key, value in overrides.items():
        if key in config and config[key] != value:
            raise DataError(
                f"codec checkpoint {str(path)!r} was trained with {key}={config[key]!r}, not {value!r}; "
                f"use a checkpoint made for this setting or pretrain one"
            )
    try:
        codec = CODECS.make(checkpoint_codec_type(blob), **config)
        codec.load_state_dict(blob["state_dict"], strict=True)
    except SimnetError as err:
        raise DataError(f"codec checkpoint {str(path)!r} does not describe a valid codec: {err}") from None
    except (RuntimeError, KeyError, TypeError, ValueError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"codec checkpoint {str(path)!r} does not match its codec type: {first}") from None
    codec.eval()
    codec.checkpoint_meta = dict(blob.get("meta", {}))
    codec.checkpoint_sha256 = digest
    return codec


def _read_blob(path: Path) -> tuple[dict[str, Any], str]:
    data, digest = verify_checkpoint(path)
    try:
        blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:
        raise DataError(f"codec checkpoint {str(path)!r} is corrupt or not a checkpoint ({err})") from None
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise DataError(f"codec checkpoint {str(path)!r} is not a {CHECKPOINT_FORMAT} file")
    return blob, digest


def checkpoint_codec_type(blob: dict[str, Any]) -> str:
    """The registry name of a checkpoint's codec; a file saved under a since-renamed name loads as its new name."""
    name = str(blob.get("type"))
    return CODECS.renamed(name) or name


def checkpoint_header(path: str | Path) -> dict[str, Any]:
    """What a checkpoint describes, without building its codec: ``type``, ``config`` (constructor kwargs),
    ``meta`` (training metadata, e.g. ``lmbda``) and ``sha256`` (hex).

    Raises:
        DataError: missing, corrupt or not a checkpoint (see :func:`verify_checkpoint`).
    """
    blob, digest = _read_blob(Path(path))
    return {"type": checkpoint_codec_type(blob), "config": dict(blob.get("config", {})),
            "meta": dict(blob.get("meta", {})), "sha256": digest}


def resolve_lmbda(meta: dict[str, Any] | None, given: float | None) -> float:
    """The one rule for a codec's lambda (J = lambda * NMSE + bits/dim), used by the tables and fine-tuning.

    Args:
        meta: the checkpoint's metadata, or None for a codec built without one.
        given: the ``codec:`` block's ``lmbda``, or None.

    Returns:
        the checkpoint's ``lmbda`` (the lambda it was trained for), else ``given``, else ``DEFAULT_LMBDA``.
    """
    if meta and meta.get("lmbda") is not None:
        return float(meta["lmbda"])
    return float(given) if given is not None else DEFAULT_LMBDA


def codec_lmbda(codec: Any) -> float:
    """:func:`resolve_lmbda` of a built codec (its ``checkpoint_meta`` and the ``lmbda`` attribute, if any)."""
    return resolve_lmbda(getattr(codec, "checkpoint_meta", None), getattr(codec, "lmbda", None))


def resolve_checkpoint(name: str, where: str = "scenario", key: str = "codec.checkpoint") -> Path:
    """``default``, a file name among the shipped checkpoints, or a path to a checkpoint file.

    Raises:
        ConfigError: ``"{where}: {key}: ..."`` (empty parts left out) with the shipped names when nothing
            matches.
    """
    if name == "default":
        return default_checkpoint()
    for cand in (Path(name), CHECKPOINT_DIR / name, CHECKPOINT_DIR / f"{name}.pt"):
        if cand.exists():  # a directory or unreadable file is named by load_codec, not reported as missing
            return cand
    prefix = ": ".join(part for part in (where, key) if part)
    for old, new in CODECS.renames().items():  # a checkpoint shipped under a codec's retired name
        if Path(name).name.startswith(f"{old}_"):
            new_name = Path(name).name.replace(f"{old}_", f"{new}_", 1)
            raise ConfigError(f"{prefix}: {name!r}: the shipped checkpoints were renamed with their codec; "
                              f"write {new_name!r}")
    known = ", ".join(sorted(p.stem for p in CHECKPOINT_DIR.glob("*.pt")))
    raise ConfigError(f"{prefix}: {name!r} not found (give 'default', a shipped checkpoint: {known}, "
                      f"or the path of a .pt file)")
