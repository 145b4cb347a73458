"""Scenario files: YAML parsed once into frozen, validated dataclasses (see :mod:`simnet.config.scenario`)."""

from __future__ import annotations

from simnet.config.fields import Ctx, parse_section
from simnet.config.file import parse_overrides, parse_seed_and_name, read_mapping, resolve_file
from simnet.config.run_budget import note_cost
from simnet.config.scenario import (
    Block,
    DownlinkConfig,
    OutputConfig,
    PartConfig,
    PolicySpec,
    Scenario,
    SystemConfig,
    UEConfig,
    UplinkConfig,
    is_experiment_file,
    load_scenario,
    registries,
    to_dict,
)

__all__ = [
    "Block",
    "Ctx",
    "DownlinkConfig",
    "OutputConfig",
    "PartConfig",
    "PolicySpec",
    "Scenario",
    "SystemConfig",
    "UEConfig",
    "UplinkConfig",
    "is_experiment_file",
    "load_scenario",
    "note_cost",
    "parse_overrides",
    "parse_section",
    "parse_seed_and_name",
    "read_mapping",
    "registries",
    "resolve_file",
    "to_dict",
]
