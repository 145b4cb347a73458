"""The ``policies:`` list: presets expanded, sweeps run, each variant's policy config validated once."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from pydantic.dataclasses import dataclass

from simnet.config.fields import Ctx, typed_block
from simnet.config.strict_yaml import clip, quote
from simnet.errors import ConfigError, SimnetError


@dataclass(frozen=True)
class Block:
    """A swappable part: registry ``type`` plus its keyword arguments (a frozen sorted tuple of items)."""

    type: str
    kwargs: tuple[tuple[str, Any], ...] = ()

    def kw(self) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in self.kwargs}


@dataclass(frozen=True)
class PolicySpec:
    """One policy variant of the scenario (a sweep expands to several).

    ``kwargs`` are the keywords as the scenario gave them (for the manifest and the tables); ``config`` is
    the policy's validated config built from them once (``load_scenario`` builds it at load time); the
    policy is ``POLICIES.get(type)(config)``.
    """

    label: str
    type: str
    kwargs: tuple[tuple[str, Any], ...] = ()

    def kw(self) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in self.kwargs}

    @cached_property
    def config(self) -> Any:
        """The policy's frozen config (``policies.build_config``), built on first use, then kept."""
        from policies import build_config

        return build_config(self.type, self.kw())



MAX_VARIANTS = 1000
"""Most policy variants a scenario may expand to (each one is a full simulation run)."""


def parse_block(ctx: Ctx, name: str, raw: Any, registry: Any) -> Block:
    typ, kwargs = typed_block(ctx, name, raw, registry)
    return Block(type=typ, kwargs=tuple(sorted(kwargs.items())))


def _check_sweep(ctx: Ctx, key: str, sweep: Any) -> None:
    if not isinstance(sweep, Mapping) or not all(isinstance(v, list) and v for v in sweep.values()):
        raise ctx.error(f"{key}.sweep", f"must map keyword names to non-empty lists, got {quote(sweep)}")
    if not all(isinstance(k, str) for k in sweep):
        raise ctx.error(f"{key}.sweep", f"keyword names must be strings, got {quote(list(sweep))}")
    num = 1
    for values in sweep.values():
        num *= len(values)
    if num > MAX_VARIANTS:
        raise ctx.error(f"{key}.sweep", f"expands to {num:,} variants, more than {MAX_VARIANTS:,}: sweep fewer "
                                        "values or split the study into several scenarios")


def parse_policy_specs(ctx: Ctx, raw: Any, registry: Any) -> tuple[PolicySpec, ...]:
    """The policy variants of a scenario, each with its config validated once (presets expanded, sweeps run)."""
    from policies.presets import expand_preset

    if not isinstance(raw, list) or not raw:
        raise ctx.error("policies", f"must be a non-empty list of {{type: ..., ...}} blocks, got {quote(raw)}")
    specs: list[PolicySpec] = []
    for i, item in enumerate(raw):
        key = f"policies[{i}]"
        if not isinstance(item, Mapping):
            raise ctx.error(key, f"must be a mapping with a 'type' key, got {quote(item)}")
        try:
            item = expand_preset(item)
        except ConfigError as err:
            raise ctx.error(f"{key}.preset", str(err)) from None
        sweep = item.pop("sweep", None) or {}
        label = item.pop("label", None)
        if label is not None and (not isinstance(label, str) or not 0 < len(label) <= 100):
            raise ctx.error(f"{key}.label", f"value {quote(label)} is invalid (allowed: a string of 1 to 100 "
                                            "characters)")
        block = parse_block(ctx, key, item, registry)
        _check_sweep(ctx, key, sweep)
        names = sorted(sweep)
        for combo in itertools.product(*(sweep[n] for n in names)):
            kwargs = block.kw()
            kwargs.update(dict(zip(names, combo)))
            suffix = ",".join(f"{n}={v}" for n, v in zip(names, combo))
            lab = str(label or block.type) + (f"[{suffix}]" if suffix else "")
            spec = PolicySpec(label=lab, type=block.type, kwargs=tuple(sorted(kwargs.items())))
            try:
                spec.config  # noqa: B018  (validated here, once per variant; the spec keeps it)
            except SimnetError as err:
                raise ctx.error(key, clip(str(err), 400)) from None
            except (TypeError, ValueError) as err:
                raise ctx.error(key, f"bad arguments for policy {block.type!r}: {clip(str(err))}") from None
            if len(specs) >= MAX_VARIANTS:
                raise ctx.error("policies", f"the policies expand to more than {MAX_VARIANTS:,} variants")
            specs.append(spec)
    labels = [s.label for s in specs]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ctx.error("policies", f"duplicate policy labels {dup}: give each a distinct 'label:'")
    return tuple(specs)
