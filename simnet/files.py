"""Files written the way a user expects: atomically (a reader never sees half a file) and with the umask's mode."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def new_file_mode() -> int:
    """The permission bits a newly created file gets under this process's umask (``0o666 & ~umask``)."""
    try:  # Linux: read it without changing it (os.umask both sets and gets, which races with other threads)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def chmod_like_new_file(path: Path | str) -> None:
    """Give ``path`` the mode an ordinary new file gets (``tempfile.mkstemp`` makes 0o600 files)."""
    os.chmod(path, new_file_mode())


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over ``path``.

    The file ends with the mode the user's umask gives any new file, not ``mkstemp``'s 0o600.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        chmod_like_new_file(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path | str, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically (parent folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2) + "\n"))
    return path
