"""Typed configs of the swappable parts (channel source, codec), validated once when the scenario is loaded.

Each registered part declares its options by its constructor's keyword arguments (names, annotations and
defaults), plus ``config_options`` (a class attribute: name -> annotation) for options it takes through
``**kwargs``. :func:`part_config_class` turns that declaration into a frozen pydantic dataclass, and
:func:`parse_part` validates a scenario block against it with :func:`simnet.config.fields.parse_section`: an
unknown keyword (with a did-you-mean), a wrong type or a non-finite number is one ``ConfigError`` line at load
time, before any folder or channel exists. Keywords that the ``system`` section sets (``SYSTEM_OWNED``) are
not options of the block.

    channel: {type: geometric, preset: o2_dynamic_like}  --parse_part-->  PartConfig("geometric", options, given)
                                                                                |  kw() -> {"preset": ...}
                                                                                v
                                                    build_source: GeometricSource(seed, system grid, **kw())
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import typing
from functools import cache
from typing import Any

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass as pydantic_dataclass

from simnet.config.fields import Ctx, parse_section, typed_block

SYSTEM_OWNED = {
    "channel": ("carrier_hz", "bandwidth_hz", "num_subcarriers", "bs_array", "seed"),
    "codec": ("num_bs_ant", "num_subcarriers"),
}
"""Constructor arguments of a part that simnet sets from ``system`` (and the scenario seed), never the block."""
SYSTEM_DEFAULTED = {"channel": (), "codec": ("bs_array",)}
"""Constructor arguments a block may give, and that ``system`` fills when it does not (a codebook's array)."""

CODEC_BLOCK_OPTIONS: dict[str, tuple[Any, Any, dict[str, Any]]] = {
    "checkpoint": (str | None, None, {"note": "'default', a shipped checkpoint's name or a .pt path"}),
    "lmbda": (float | None, None, {"gt": 0, "le": 1e9, "note": "the RD trade-off J = lmbda * NMSE + bits/dim"}),
}
"""Options of every ``codec:`` block besides the codec's constructor: (annotation, default, field metadata)."""


@dataclasses.dataclass(frozen=True)
class PartConfig:
    """A swappable part of the scenario: its registry ``type`` and its validated, frozen ``options``.

    Attributes:
        type: the registry name (``geometric``, ``learned-transform``, ...).
        options: an instance of :func:`part_config_class` for this part (every option, defaults filled in).
        given: the option names the scenario file set, sorted (``kw()`` and the manifest show only these).
        resolved: what the loader worked out from this part and other sections (for the codec a
            :class:`simnet.config.cross_section.CodecResolved`), or None.
    """

    type: str
    options: Any
    given: tuple[str, ...] = ()
    resolved: Any = None

    @property
    def kwargs(self) -> tuple[tuple[str, Any], ...]:
        """The options the file set, as sorted ``(name, value)`` pairs (the manifest's ``kwargs``)."""
        return tuple((name, getattr(self.options, name)) for name in self.given)

    def kw(self) -> dict[str, Any]:
        """The options the file set, as a new dict (validated values)."""
        return {name: copy.deepcopy(value) for name, value in self.kwargs}

    def get(self, name: str) -> Any:
        """Option ``name`` (given or its default)."""
        return getattr(self.options, name)


@cache
def part_config_class(kind: str, factory: Any) -> type:
    """The frozen pydantic dataclass of ``factory``'s options (see the module docstring).

    Args:
        kind: ``"channel"`` or ``"codec"`` (which system-owned arguments to leave out, which extra options).
        factory: the registered class.
    """
    init = factory.__init__
    hints = typing.get_type_hints(init, include_extras=False)
    required: list[tuple[str, Any, Any]] = []
    optional: list[tuple[str, Any, Any]] = []
    for name, param in inspect.signature(init).parameters.items():
        if name == "self" or name in SYSTEM_OWNED[kind] or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(name, Any)
        if param.default is param.empty and name in SYSTEM_DEFAULTED[kind]:
            optional.append((name, annotation | None, dataclasses.field(default=None)))
        elif param.default is param.empty:
            required.append((name, annotation, dataclasses.field()))
        else:
            optional.append((name, annotation, dataclasses.field(default=param.default)))
    for name, annotation in getattr(factory, "config_options", {}).items():
        optional.append((name, annotation, dataclasses.field(default=None)))
    if kind == "codec":
        for name, (annotation, default, meta) in CODEC_BLOCK_OPTIONS.items():
            optional.append((name, annotation, dataclasses.field(default=default, metadata=meta)))
    plain = dataclasses.make_dataclass(f"{factory.__name__}Config", required + optional, frozen=True)
    plain.__doc__ = f"Options of the {kind} {factory.__name__} (its constructor's keyword arguments)."
    return pydantic_dataclass(plain, frozen=True, config=ConfigDict(extra="forbid", arbitrary_types_allowed=True))


def parse_part(ctx: Ctx, kind: str, raw: Any, registry: Any) -> PartConfig:
    """Validate a ``channel:`` or ``codec:`` block into a :class:`PartConfig`.

    Raises:
        ConfigError: ``"{file}: {kind}.{key}: ..."`` for a missing or unknown type, a keyword that ``system``
            sets, an unknown keyword (did-you-mean) or a value of the wrong type.
    """
    typ, options = typed_block(ctx, kind, raw, registry)
    for key in options:
        if key in SYSTEM_OWNED[kind]:
            if key == "seed":
                raise ctx.error(f"{kind}.{key}", "is drawn from the scenario's seed; give seed: at the top instead")
            raise ctx.error(f"{kind}.{key}", f"is set by the system section; give system.{key} instead "
                                             f"(e.g. --set system.{key}=...)")
    cls = part_config_class(kind, registry.get(typ))
    return PartConfig(type=typ, options=parse_section(ctx, kind, cls, options), given=tuple(sorted(options)))
