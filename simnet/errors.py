"""User-facing errors: one readable line naming the problem and the fix."""

from __future__ import annotations


class SimnetError(Exception):
    """An error the user can fix (bad scenario, missing data, corrupt file).

    The CLI prints ``str(err)`` as one line and exits non-zero; it never shows a traceback for these.
    """


class ConfigError(SimnetError):
    """A scenario file is wrong: the message names the file, the key path, the value and what is allowed."""


class DataError(SimnetError):
    """A dataset, cache, checkpoint or bitstream is missing or corrupt."""
