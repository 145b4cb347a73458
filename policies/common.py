"""Pieces the fine-tuning policies share: keyword validation (the one place policy keywords are parsed), the
window cut."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from simnet.config.fields import check_kind
from simnet.config.strict_yaml import kind_name, quote
from simnet.errors import ConfigError
from simnet.learning.finetune import FinetuneConfig

OPTIM_KEYS = ("steps", "batch_size", "lr", "lambda", "augment_delay_taps", "augment_angle_bins")
"""Optimisation keywords every fine-tuning policy accepts."""
UPDATE_KEYS = ("beta", "regularize", "prior", "num_bins", "t", "alpha", "sigma_slab")
"""Update-coding keywords (and the ablations) of policies that send a decoder update."""
FINETUNE_KINDS = {"steps": "int", "batch_size": "int", "lr": "float", "lambda": "float | None", "beta": "float",
                  "regularize": "bool", "augment_delay_taps": "float", "augment_angle_bins": "float", "prior": "str",
                  "num_bins": "int", "t": "float", "alpha": "float", "sigma_slab": "float"}
"""The type of each fine-tuning keyword (``FinetuneConfig`` and ``UpdateCoding`` check the ranges)."""


def split_kwargs(policy: str, kwargs: Mapping[str, Any], own: tuple[str, ...],
                 finetune_keys: tuple[str, ...],
                 defaults: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], FinetuneConfig]:
    """Split a policy's scenario keywords into its own and a validated ``FinetuneConfig``.

    Raises:
        ConfigError: an unknown keyword (listing the allowed ones) or a value out of range.
    """
    allowed = set(own) | set(finetune_keys)
    for key in kwargs:
        if key not in allowed:
            names = ", ".join(sorted(allowed))
            raise ConfigError(f"policy {policy!r}: unknown keyword {key!r} (allowed: {names})")
    for key, value in kwargs.items():
        problem = check_kind(FINETUNE_KINDS.get(key, "any"), value)
        if problem:  # "4" and true are told as such, not as "out of range"
            raise ConfigError(f"policy {policy!r}: {key}: {problem}")
    try:
        cfg = FinetuneConfig.from_kwargs({k: v for k, v in kwargs.items() if k in finetune_keys},
                                         **(defaults or {}))
    except ConfigError as err:
        raise ConfigError(f"policy {policy!r}: {err}") from None
    return {k: v for k, v in kwargs.items() if k in own}, cfg


def check_number(policy: str, key: str, value: Any, lo: float, hi: float = math.inf, *,
                 integer: bool = False, lo_open: bool = False) -> None:
    """Raise ``ConfigError`` unless ``value`` is a (integer) number in ``[lo, hi]`` (``(lo, hi]`` if open).

    A value of the wrong type (``"4"``, ``true``, ``.inf``) is told so, not reported as out of range.
    """
    what = "an integer" if integer else "a number"
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"policy {policy!r}: {key}: must be {what}, got {kind_name(value)} {quote(value)}")
    if not math.isfinite(value):
        raise ConfigError(f"policy {policy!r}: {key}: must be a finite number, got {value!r}")
    if not ((value > lo if lo_open else value >= lo) and value <= hi):
        left = "(" if lo_open else "["
        raise ConfigError(f"policy {policy!r}: {key}: {value!r} is out of range "
                          f"(allowed: {what.split()[1]} in {left}{lo:g}, {hi:g}])")


def check_flag(policy: str, key: str, value: Any) -> None:
    """Raise ``ConfigError`` unless ``value`` is ``true`` or ``false`` (``"no"`` or ``0`` are not taken)."""
    if not isinstance(value, bool):
        raise ConfigError(f"policy {policy!r}: {key}: must be true or false, got {quote(value)}")


def cut_window(h_window: np.ndarray, window_size: int | None) -> np.ndarray:
    """The last ``window_size`` samples of ``h_window`` ([N, A, S] complex64), or all of them."""
    return h_window if window_size is None else h_window[-window_size:]
