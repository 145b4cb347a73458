"""Configuration of the ``geometric`` source: the shipped presets and their validated overrides."""

from __future__ import annotations

import copy
import difflib
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from simnet.channels.base import NORMALIZATIONS
from simnet.errors import ConfigError

PRESET_DIR = Path(__file__).with_name("presets")
PRESET_KEYS = {
    "description",
    "scenario",
    "carrier_hz",
    "bandwidth_hz",
    "num_subcarriers",
    "bs_array",
    "bs_pos_m",
    "bs_heading_deg",
    "bs_tilt_deg",
    "ue_height_m",
    "area_m",
    "site_spacing_m",
    "transition_m",
    "num_rays_per_cluster",
    "speed_mps",
    "samples_per_m",
    "scene_period_s",
    "tracks",
    "track_repeat_offset_m",
    "vehicles",
}
ENGINES = ("fast", "full")
PRESET_OPTION_TYPES: dict[str, Any] = {
    "description": str, "scenario": str, "bs_pos_m": list[float], "bs_heading_deg": float, "bs_tilt_deg": float,
    "ue_height_m": float, "area_m": list[list[float]], "site_spacing_m": float, "transition_m": float,
    "num_rays_per_cluster": int, "speed_mps": float, "samples_per_m": float, "scene_period_s": float,
    "tracks": list[list[list[float]]], "track_repeat_offset_m": list[float], "vehicles": Any,
}
"""The types of the preset keys a ``channel:`` block may override (every key of ``PRESET_KEYS`` but the grid's)."""
GRID_KEYS = ("carrier_hz", "bandwidth_hz", "num_subcarriers", "bs_array")
"""Preset keys that the scenario's ``system`` section sets (the block may not); the preset fills those it leaves out."""


def preset_names() -> list[str]:
    """Names of the presets shipped in ``simnet/channels/presets`` (the 38.901 table file excluded)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml") if p.stem != "tr38901")


def load_preset(name: str) -> dict[str, Any]:
    """The preset ``name`` as a new dict (raises ConfigError with the known names if it does not exist)."""
    if name not in preset_names():  # before a file name is made of it (a 10 KB name is an OSError)
        close = difflib.get_close_matches(name, preset_names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown geometric preset {name[:60]!r}{hint} (known: {', '.join(preset_names())})")
    return copy.deepcopy(_parsed_preset(PRESET_DIR / f"{name}.yaml"))


def preset_grid(name: str) -> dict[str, Any]:
    """The preset's own carrier [Hz], bandwidth [Hz], subcarrier count and BS array (rows, cols)."""
    preset = load_preset(name)
    return {"carrier_hz": float(preset["carrier_hz"]), "bandwidth_hz": float(preset["bandwidth_hz"]),
            "num_subcarriers": int(preset["num_subcarriers"]), "bs_array": tuple(int(n) for n in preset["bs_array"])}


@cache
def _parsed_preset(path: Path) -> dict[str, Any]:
    # Parsing the YAML costs more than building a scene's source: parse each file once per process.
    with path.open() as fh:
        return dict(yaml.safe_load(fh))


def build_config(
    preset: str,
    preset_overrides: dict[str, Any],
    *,
    num_subcarriers: int | None,
    bs_array: tuple[int, int] | None,
    carrier_hz: float | None,
    bandwidth_hz: float | None,
    normalization: str,
    engine: str,
    num_workers: int,
) -> dict[str, Any]:
    """The preset's dict with the overrides applied, after checking every value (see ``GeometricSource``).

    Raises:
        ConfigError: unknown preset or option (with the allowed names), or a value out of range.
    """
    cfg = load_preset(preset)
    unknown = set(preset_overrides) - PRESET_KEYS
    if unknown:
        allowed = [
            "preset",
            "seed",
            "num_subcarriers",
            "bs_array",
            "carrier_hz",
            "bandwidth_hz",
            "normalization",
            "engine",
            "num_workers",
            *sorted(PRESET_KEYS),
        ]
        raise ConfigError(
            f"unknown geometric channel option(s) {sorted(unknown)}; allowed: {', '.join(allowed)}"
        )
    cfg.update(preset_overrides)
    for key, val in (
        ("num_subcarriers", num_subcarriers),
        ("bs_array", bs_array),
        ("carrier_hz", carrier_hz),
        ("bandwidth_hz", bandwidth_hz),
    ):
        if val is not None:
            cfg[key] = val
    if normalization not in NORMALIZATIONS:
        raise ConfigError(f"geometric normalization {normalization!r} is not one of {NORMALIZATIONS}")
    if engine not in ENGINES:
        raise ConfigError(f"geometric engine {engine!r} is not one of {ENGINES}")
    if int(num_workers) < 1:
        raise ConfigError(f"geometric num_workers must be >= 1, got {num_workers}")
    rows, cols = (int(v) for v in cfg["bs_array"])
    if rows < 1 or cols < 1 or int(cfg["num_subcarriers"]) < 1:
        raise ConfigError(
            f"bs_array {cfg['bs_array']} and num_subcarriers {cfg['num_subcarriers']} must be >= 1"
        )
    if float(cfg["carrier_hz"]) <= 0 or float(cfg["bandwidth_hz"]) <= 0:
        raise ConfigError("carrier_hz and bandwidth_hz must be positive (Hz)")
    return cfg
