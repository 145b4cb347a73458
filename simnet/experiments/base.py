"""Offline experiment files: a top-level ``experiment:`` block (``type:`` plus kwargs) instead of a simulation.

    fig8_update_prior.yaml --load_experiment--> ExperimentSpec(name, seed, experiment=UpdatePrior(...), output)
                                                     |  run(RunContext) -> table (pd.DataFrame)
                                                     v
                        run folder: table.csv, table.md (ours beside the paper's), figure.png, manifest.json

An experiment type is a frozen pydantic dataclass registered by name in ``EXPERIMENTS``; its fields are the
keyword arguments of the block, validated like the sections of a simulation scenario (unknown key with a
did-you-mean, type, ``metadata`` range) and in ``__post_init__`` (checkpoints, presets, fine-tuning keywords),
all before any output folder exists.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pandas as pd
from pydantic import ConfigDict

from simnet.config import (
    Ctx,
    OutputConfig,
    parse_section,
    parse_seed_and_name,
    read_mapping,
    resolve_file,
    to_dict,
)
from simnet.errors import ConfigError
from simnet.registry import Registry

EXPERIMENT_STRICT = ConfigDict(extra="forbid")
TOP_KEYS = ["name", "seed", "experiment", "output", "quick", "description"]


@dataclass(frozen=True)
class RunContext:
    """What an experiment gets besides its own keywords.

    Attributes:
        seed: the run's root seed.
        cache_dir: channel cache folder, or None.
        log: prints one progress line (a no-op with ``--quiet``).
    """

    seed: int
    cache_dir: Path | None
    log: Callable[[str], None]


class Experiment(Protocol):
    """An offline experiment: its table, the paper comparison in words, and its figure (from the table)."""

    title: ClassVar[str]

    def run(self, ctx: RunContext) -> pd.DataFrame: ...

    def markdown(self, table: pd.DataFrame) -> list[str]: ...

    def plot(self, table: pd.DataFrame, path: Path) -> None: ...


EXPERIMENTS: Registry[type] = Registry("experiment type")


def register_experiment(name: str) -> Callable[[type], type]:
    """Class decorator: ``@register_experiment("backbone_rd")``."""
    return EXPERIMENTS.register(name)


@dataclass(frozen=True)
class ExperimentSpec:
    """An experiment file, resolved and validated.

    Attributes:
        kwargs: the keywords the file set, with their validated values (plain JSON, for the manifest).
        experiment: the registered experiment type's frozen config, every keyword (defaults filled in).
    """

    name: str
    path: str
    seed: int
    type: str
    kwargs: dict[str, Any]
    experiment: Any
    output: OutputConfig


def choice(key: str, value: Any, known: Sequence[str]) -> None:
    """Raise ``ConfigError`` naming ``key`` unless ``value`` is one of ``known`` (with a did-you-mean)."""
    if value in known:
        return
    close = difflib.get_close_matches(str(value), list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"{key}: {value!r} is not allowed{hint} (allowed: {', '.join(map(str, known))})")


def nonempty_unique(key: str, values: Sequence[Any]) -> None:
    """Raise ``ConfigError`` unless ``values`` is a non-empty list without repeats."""
    if not values:
        raise ConfigError(f"{key}: must be a non-empty list")
    dup = sorted({str(v) for v in values if list(values).count(v) > 1})
    if dup:
        raise ConfigError(f"{key}: {dup[0]!r} is listed twice")


def load_experiment(path: str | Path, seed: int | None = None, quick: bool = False,
                    overrides: Mapping[str, Any] | None = None) -> ExperimentSpec:
    """Read and validate an experiment file.

    Args:
        path: the YAML file.
        seed: overrides the file's ``seed``.
        quick: merge the file's ``quick:`` block over it.
        overrides: a partial file merged over it last (``--set experiment.num_samples=50``).

    Raises:
        ConfigError: one line naming the file, key path, value and what is allowed.
    """
    return experiment_from_mapping(read_mapping(path), path, seed=seed, quick=quick, overrides=overrides)


def experiment_from_mapping(mapping: Mapping[str, Any], path: str | Path, seed: int | None = None,
                            quick: bool = False, overrides: Mapping[str, Any] | None = None) -> ExperimentSpec:
    """:func:`load_experiment` of a file whose top-level mapping is already read (``read_mapping(path)``)."""
    import simnet.experiments  # noqa: F401  (registers the built-in experiment types)

    ctx = Ctx(str(path))
    raw = resolve_file(dict(mapping), ctx, TOP_KEYS, quick, overrides)
    seed_value, name = parse_seed_and_name(raw, ctx, seed, Path(path).stem)
    block = raw.get("experiment")
    if not isinstance(block, Mapping):
        raise ctx.error("experiment", f"must be a mapping with a 'type' key, got {block!r}")
    if "type" not in block:
        raise ctx.error("experiment.type", f"missing (known: {', '.join(EXPERIMENTS.names())})")
    typ = block["type"]
    if typ not in EXPERIMENTS:
        raise ctx.error("experiment.type", EXPERIMENTS.unknown_message(typ))
    kwargs = {k: v for k, v in block.items() if k != "type"}
    try:
        experiment = parse_section(ctx, "experiment", EXPERIMENTS.get(typ), kwargs)
    except ConfigError as err:
        if str(err).startswith(ctx.path):
            raise
        raise ctx.error("experiment", str(err)) from None
    output = parse_section(ctx, "output", OutputConfig, raw.get("output"))
    given = {k: to_dict(getattr(experiment, k)) for k in kwargs}
    return ExperimentSpec(name=name, path=str(path), seed=seed_value, type=str(typ), kwargs=given,
                          experiment=experiment, output=output)
