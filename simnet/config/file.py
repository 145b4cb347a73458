"""Reading a scenario or experiment file: strict YAML, ``--set`` overrides, the ``quick:`` block, seed, name.

    file bytes --strict_yaml--> mapping --+ overrides (--set) --> top-level keys checked --+ quick --> raw dict
                                                                                            (to config.py)

Overrides are merged before the top-level keys are checked, so ``--set uplnk.rate_bps=1`` fails exactly
like a misspelled section in the file (with a did-you-mean) instead of being ignored.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simnet.config.fields import Ctx, did_you_mean
from simnet.config.strict_yaml import MAX_FILE_BYTES, StrictYAMLError, load_bytes, load_text, quote
from simnet.errors import ConfigError

SCENARIO_TOP_KEYS = ["name", "seed", "system", "channel", "ues", "codec", "uplink", "downlink", "policies",
                     "output", "quick", "description"]
"""The top-level keys of a scenario file."""
_OVERRIDE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_NAME = re.compile(r"^[\w][\w .,+=@()\[\]-]*$")
"""A run name: letters, digits and ``_ .,+=@()[]-`` (it becomes a folder name under ``output.dir``)."""
MAX_SEED = 2**63 - 1


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["ues.count=8", "uplink.discipline=fifo"]`` -> nested mapping (values parsed as strict YAML).

    Raises:
        ConfigError: a malformed ``KEY.PATH=VALUE``, a value that is not valid YAML, or two overrides that
            disagree on what a key is (``ues=3`` and ``ues.count=2``).
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not _OVERRIDE_KEY.fullmatch(key):
            raise ConfigError(f"--set {quote(item)}: expected KEY.PATH=VALUE with names of letters, digits and _ "
                              "joined by dots, e.g. --set ues.count=8")
        try:
            parsed = load_text(value)
        except StrictYAMLError as err:
            raise ConfigError(f"--set {quote(item)}: the value is not valid YAML ({err.problem})") from None
        node = out
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {quote(item)}: {'.'.join(parts[:depth + 1])} was set to a value by an "
                                  "earlier --set; set either the section or its keys")
        if isinstance(node.get(parts[-1]), dict):
            raise ConfigError(f"--set {quote(item)}: {key} already has keys set by an earlier --set; set either "
                              "the section or its keys")
        node[parts[-1]] = parsed
    return out


def read_mapping(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a YAML scenario or experiment file (strict ``yaml.safe_load``, see strict_yaml).

    Raises:
        ConfigError: missing, unreadable, binary or too large file, invalid YAML (with line and column),
            duplicate keys, alias bombs, or a top level that is not a mapping.
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{path}: is a folder, not a scenario file (give the path of a .yaml file, e.g. "
                          "scenarios/smoke.yaml)")
    if p.exists() and not p.is_file():
        raise ConfigError(f"{path}: is not a regular file (give the path of a .yaml file)")
    if not p.is_file():
        raise ConfigError(f"{path}: scenario file not found (give the path of a .yaml file, e.g. "
                          f"scenarios/smoke.yaml)")
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror or err})") from None
    try:
        raw = load_bytes(data)
    except StrictYAMLError as err:
        raise ConfigError(f"{path}: {err.problem}") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: the top level must be a mapping of sections ({', '.join(SCENARIO_TOP_KEYS)})")
    return dict(raw)


def _check_top_keys(ctx: Ctx, raw: Mapping[str, Any], top_keys: list[str], where: str,
                    overrides: Mapping[str, Any]) -> None:
    for key in raw:
        if key not in top_keys:
            origin = " (from --set)" if key in overrides else ""
            raise ctx.error(f"{where}{str(key)[:60]}", f"unknown section{origin}{did_you_mean(key, top_keys)} "
                                                       f"(allowed: {', '.join(top_keys)})")


def resolve_file(raw: dict[str, Any], ctx: Ctx, top_keys: list[str], quick: bool,
                 overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge the overrides, check the top-level keys (and the ``quick:`` block's), drop ``description``,
    merge the ``quick:`` block (if asked) and then the overrides again (they win over ``quick:``)."""
    overrides = overrides or {}
    raw = deep_merge(raw, overrides)  # merged first so that --set keys are checked exactly like the file's
    _check_top_keys(ctx, raw, top_keys, "", overrides)
    quick_block = raw.pop("quick", None) or {}
    raw.pop("description", None)
    if not isinstance(quick_block, Mapping):
        raise ctx.error("quick", f"must be a mapping of sections to override, got {quote(quick_block)}")
    _check_top_keys(ctx, quick_block, [k for k in top_keys if k not in ("quick", "description")], "quick.", {})
    if quick:
        raw = deep_merge(deep_merge(raw, quick_block), overrides)
    return raw


def parse_seed_and_name(raw: Mapping[str, Any], ctx: Ctx, seed: int | None, default_name: str) -> tuple[int, str]:
    """The run's seed (``seed`` argument over the file's, default 0) and name (default: the file stem).

    Raises:
        ConfigError: a seed that is not an integer in [0, 2^63), or a name that cannot be a folder name
            (path separators, ``..``, control characters, a leading dot or dash, over 100 characters).
    """
    seed_value = raw.get("seed", 0) if seed is None else seed
    if isinstance(seed_value, bool) or not isinstance(seed_value, int) or not 0 <= seed_value <= MAX_SEED:
        raise ctx.error("seed", f"value {quote(seed_value)} is invalid (allowed: an integer >= 0 and < 2^63)")
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise ctx.error("name", f"value {quote(name)} is invalid (allowed: a non-empty string)")
    if len(name) > 100 or ".." in name or not _NAME.fullmatch(name) or name.endswith((" ", ".")):
        raise ctx.error("name", f"value {quote(name)} cannot be a folder name under output.dir (allowed: up to "
                                "100 letters, digits and _ .,+=@()[]-, no '/', no '..', not starting with a dot "
                                "or a dash)")
    return int(seed_value), name


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def positive_int_arg(text: str) -> int:
    """argparse type of ``--workers``: an integer >= 1 (``--workers 0`` is not "the default")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer (give a whole number >= 1)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1 (leave the option out for the default)")
    return value


def seed_arg(text: str) -> int:
    """argparse type of ``--seed``: an integer in [0, 2^63), like a file's ``seed``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer (give a whole number >= 0)") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{value} is out of range (allowed: 0 to 2^63 - 1)")
    return value
