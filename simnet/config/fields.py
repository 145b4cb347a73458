"""Validating one scenario section: unknown keys (did-you-mean), honest types, finite values, ranges.

A section is a frozen dataclass whose fields carry their allowed range as ``metadata``
(``gt``/``ge``/``lt``/``le``, and ``note``: a human reading of the range such as "0.4 to 100 GHz").
Types are checked before pydantic sees a value, so that ``true`` is not taken as 1, ``"4"`` is not taken
as 4 and ``.inf`` is not taken as a number: each gets a message that says what the key needs.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from pydantic import TypeAdapter, ValidationError

from simnet.config.strict_yaml import clip, kind_name, quote
from simnet.errors import ConfigError


class Ctx:
    """The file being read: builds ``ConfigError``s that start with its path and the key path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, key_path: str, msg: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key_path}: {msg}")


def did_you_mean(key: Any, allowed: list[str]) -> str:
    """``"; did you mean 'count'?"`` for the allowed name closest to ``key``, or ``""``."""
    close = difflib.get_close_matches(str(key), allowed, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def range_text(meta: Mapping[str, Any]) -> str:
    """``">= 1000 and <= 1e+12 (1 kbit/s to 1 Tbit/s)"`` from a field's metadata."""
    ops = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    text = " and ".join(f"{ops[k]} {v:g}" for k, v in meta.items() if k in ops)
    return f"{text} ({meta['note']})" if "note" in meta else text


def check_kind(annotation: str, value: Any) -> str | None:
    """What is wrong with ``value`` for a field annotated ``annotation`` (a string), or None.

    Only plain ``int``, ``float``, ``bool``, ``str`` (optionally ``| None``) are checked here; anything else
    (tuples, literals, mappings) is left to pydantic.
    """
    base, _, rest = annotation.partition(" | ")
    if rest not in ("", "None") or base not in ("int", "float", "bool", "str"):
        return None
    if value is None:
        return None if rest == "None" else "must be given (null is not allowed)"
    if base == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        return f"must be an integer, got {kind_name(value)} {quote(value)}"
    if base == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, got {kind_name(value)} {quote(value)}"
        if not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
    if base == "bool" and not isinstance(value, bool):
        return f"must be true or false, got {kind_name(value)} {quote(value)}"
    if base == "str" and not isinstance(value, str):
        return f"must be a string, got {kind_name(value)} {quote(value)}"
    return None


def annotation_text(annotation: Any) -> str:
    """A field's annotation as source text: ``"float | None"`` for a string or a type (``int`` -> ``"int"``)."""
    if isinstance(annotation, str):
        return annotation
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)


def out_of_range(value: Any, meta: Mapping[str, Any]) -> bool:
    """True if number ``value`` violates the ``gt``/``ge``/``lt``/``le`` bounds in ``meta``."""
    return (("gt" in meta and not value > meta["gt"]) or ("ge" in meta and not value >= meta["ge"])
            or ("lt" in meta and not value < meta["lt"]) or ("le" in meta and not value <= meta["le"]))


def parse_section(ctx: Ctx, name: str, cls: Any, raw: Any) -> Any:
    """Validate mapping ``raw`` into dataclass ``cls``: unknown keys (did-you-mean), types, ``metadata`` ranges.

    Raises:
        ConfigError: ``"{file}: {name}.{key}: ..."`` naming the value (quoted at most 200 characters) and
            what is allowed.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ctx.error(name, f"must be a mapping of keys, got {type(raw).__name__} {quote(raw)}")
    allowed = [f.name for f in fields(cls)]
    for key in raw:
        if key not in allowed:
            raise ctx.error(f"{name}.{str(key)[:60]}",
                            f"unknown key{did_you_mean(key, allowed)} (allowed: {', '.join(allowed)})")
    for f in fields(cls):  # before pydantic, which would take true as 1 and "4" as 4, and word ranges its own way
        if f.name not in raw:
            continue
        value = raw[f.name]
        problem = check_kind(annotation_text(f.type), value)
        if problem:
            raise ctx.error(f"{name}.{f.name}", problem)
        if isinstance(value, int | float) and not isinstance(value, bool) and out_of_range(value, f.metadata):
            raise ctx.error(f"{name}.{f.name}", f"value {value!r} is out of range (allowed: {range_text(f.metadata)})")
    try:
        obj = TypeAdapter(cls).validate_python(dict(raw))
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        key = loc.split(".")[0]
        value = raw.get(key, first.get("input"))
        raise ctx.error(f"{name}.{loc}", f"value {quote(value)} is invalid: {first['msg']}") from None
    for f in fields(cls):
        value = getattr(obj, f.name)
        if isinstance(value, str) and f.metadata.get("nonblank") and (not value.strip() or "\0" in value):
            raise ctx.error(f"{name}.{f.name}", f"value {quote(value)} is invalid (allowed: {f.metadata['note']}, "
                                                "not empty)")
        if value is None or not f.metadata or isinstance(value, str | bool):
            continue
        if out_of_range(value, f.metadata):
            raise ctx.error(f"{name}.{f.name}", f"value {value!r} is out of range "
                                                f"(allowed: {range_text(f.metadata)})")
    return obj


def typed_block(ctx: Ctx, name: str, raw: Any, registry: Any) -> tuple[str, dict[str, Any]]:
    """A ``type:`` plus keywords block checked against ``registry``: (its type, its other keywords).

    Raises:
        ConfigError: ``"{file}: {name}...: ..."`` for a block that is not a mapping, a missing, non-string or
            unknown type (with the known names and a did-you-mean), or a keyword that is not a string.
    """
    if not isinstance(raw, Mapping):
        raise ctx.error(name, f"must be a mapping with a 'type' key, got {quote(raw)}")
    if "type" not in raw:
        raise ctx.error(f"{name}.type", f"missing (known: {', '.join(registry.names())})")
    typ = raw["type"]
    if not isinstance(typ, str):
        raise ctx.error(f"{name}.type", f"must be a name, got {quote(typ)} (known: {', '.join(registry.names())})")
    if typ not in registry:
        raise ctx.error(f"{name}.type", registry.unknown_message(clip(typ, 60)))
    options = {k: v for k, v in raw.items() if k != "type"}
    for key in options:
        if not isinstance(key, str):
            raise ctx.error(name, f"keyword {quote(key, 60)} must be a name")
    return typ, options
