"""Named policy presets (``presets.yaml``): a scenario's ``- {preset: NAME, ...}`` entry expanded to a block."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simnet.config.file import read_mapping
from simnet.errors import ConfigError

PRESETS_FILE = Path(__file__).with_name("presets.yaml")
PRESETS: dict[str, dict[str, Any]] = read_mapping(PRESETS_FILE)
"""Preset name -> policy block (``type`` plus keywords)."""


def expand_preset(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A scenario's policy entry with its ``preset`` replaced by the preset's block.

    The result has the preset's ``type``, ``label`` (the preset's name unless the entry gives one) and
    keywords, then the entry's own keys over them. An entry without ``preset`` is returned as it is (a copy).

    Raises:
        ConfigError: an unknown preset (with the known names and a did-you-mean), or an entry that gives
            ``type`` as well (one of the two, not both).
    """
    entry = dict(entry)
    if "preset" not in entry:
        return entry
    name = entry.pop("preset")
    if not isinstance(name, str) or name not in PRESETS:
        close = difflib.get_close_matches(str(name), list(PRESETS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown preset {str(name)[:60]!r} (known: {', '.join(sorted(PRESETS))}){hint}")
    if "type" in entry:
        raise ConfigError(f"gives both preset {name!r} and type {entry['type']!r}: give one of them")
    return {**PRESETS[name], "label": name, **entry}
