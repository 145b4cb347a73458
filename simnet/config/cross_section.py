"""Facts that join two sections, settled once at load time: the grid (``system`` vs the channel preset), the
codec (its checkpoint vs ``system``, its lambda) and the report spacing (``ues``).

The rule for ``system`` and a channel preset (a geometric preset brings its own carrier, bandwidth, subcarriers
and array): a key that ``system`` sets wins, except ``carrier_hz``, which must agree with the preset's (its
scene and 38.901 parameters are for that carrier, so a disagreement is one error naming both keys); a key that
``system`` leaves out is the preset's. Sources without a preset take ``system`` as it is (defaults included).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from pathlib import Path
from typing import Any

from simnet.config.fields import Ctx
from simnet.config.parts import CODEC_BLOCK_OPTIONS, PartConfig
from simnet.errors import SimnetError

STRICT_GRID_KEYS = ("carrier_hz",)
"""Keys of the preset's grid that ``system`` may not change (it may change the others)."""


@dataclasses.dataclass(frozen=True)
class CodecResolved:
    """What the loader worked out about the scenario's codec.

    Attributes:
        checkpoint_path: the checkpoint file to load, or None (the codec is built from its options).
        lmbda: the RD weight (J = lmbda * NMSE + bits/dim) of the tables, the ranking and fine-tuning.
    """

    checkpoint_path: Path | None
    lmbda: float


def resolve_system(ctx: Ctx, system: Any, given: dict[str, Any], channel: PartConfig, registry: Any) -> Any:
    """``system`` with the channel preset's grid filled in where ``given`` (the file's keys) leaves it out.

    Raises:
        ConfigError: unknown preset, or ``system.carrier_hz`` disagreeing with the preset's carrier.
    """
    grid_of = getattr(registry.get(channel.type), "preset_grid", None)
    if grid_of is None:
        return system
    try:
        grid = grid_of(channel.options)
    except SimnetError as err:
        raise ctx.error("channel.preset", str(err)) from None
    preset = channel.get("preset")
    fill: dict[str, Any] = {}
    for key, preset_value in grid.items():
        if key not in given:
            fill[key] = preset_value
        elif key in STRICT_GRID_KEYS and not math.isclose(float(given[key]), float(preset_value), rel_tol=1e-9):
            raise ctx.error(f"system.{key}", f"{float(given[key]):g} disagrees with channel.preset {preset!r}, "
                                             f"which is made for {key} = {preset_value:g}; set "
                                             f"system.{key}={preset_value:g} or leave it out to take the preset's")
    return dataclasses.replace(system, **fill) if fill else system


def resolve_codec(ctx: Ctx, codec: PartConfig, system: Any, registry: Any) -> PartConfig:
    """Check the codec block against ``system`` and its checkpoint (read, not built) and settle its lambda.

    Returns:
        ``codec`` with ``resolved`` set to a :class:`CodecResolved`.

    A codebook (``trainable = False``: no weights, built in about a millisecond) is built once here, so that its
    constructor's checks against ``system`` (ports for L beams, subband size) fail at load time too.

    Raises:
        ConfigError: missing or corrupt checkpoint, a checkpoint of another codec type or grid, constructor
            options beside a checkpoint other than the codec class's ``load_options`` (those its loaded codec
            applies with ``with_settings``, no retraining), a ``lmbda`` that disagrees with the checkpoint's,
            or a codebook that does not fit ``system``.
    """
    from simnet.codecs.checkpoint import checkpoint_header, resolve_checkpoint, resolve_lmbda

    name, lmbda = codec.get("checkpoint"), codec.get("lmbda")
    if name is None:
        factory = registry.get(codec.type)
        if not getattr(factory, "trainable", True):  # a codebook has no weights: its constructor is its check
            options = {k: v for k, v in codec.kw().items() if k not in CODEC_BLOCK_OPTIONS}
            options.setdefault("bs_array", tuple(system.bs_array))
            try:
                factory(num_bs_ant=system.num_bs_ant, num_subcarriers=system.num_subcarriers, **options)
            except SimnetError as err:
                raise ctx.error("codec", str(err)) from None
        return dataclasses.replace(codec, resolved=CodecResolved(None, resolve_lmbda(None, lmbda)))
    load_options = tuple(getattr(registry.get(codec.type), "load_options", ()))
    fixed = [k for k in codec.given if k not in CODEC_BLOCK_OPTIONS and k not in load_options]
    if fixed:
        allowed = ", ".join((*CODEC_BLOCK_OPTIONS, *load_options))
        raise ctx.error(f"codec.{fixed[0]}", f"is fixed by codec.checkpoint (the checkpoint holds the codec's "
                                             f"options; beside it {codec.type} takes only {allowed}); remove it "
                                             f"or drop the checkpoint")
    path = resolve_checkpoint(str(name), ctx.path)
    try:
        header = checkpoint_header(path)
    except SimnetError as err:
        raise ctx.error("codec.checkpoint", str(err)) from None
    if header["type"] != codec.type:
        raise ctx.error("codec.type", f"{codec.type!r} but codec.checkpoint {str(name)!r} holds a "
                                      f"{header['type']!r} codec; set codec.type: {header['type']}")
    params = inspect.signature(registry.get(codec.type).__init__).parameters
    dims = tuple(int(header["config"].get(k, params[k].default)) for k in ("num_bs_ant", "num_subcarriers"))
    if dims != (system.num_bs_ant, system.num_subcarriers):
        raise ctx.error("codec", f"the codec works on {dims[0]} antennas x {dims[1]} subcarriers but system has "
                                 f"{system.num_bs_ant} x {system.num_subcarriers}; pick a matching checkpoint "
                                 f"or system")
    resolved = resolve_lmbda(header["meta"], lmbda)
    if lmbda is not None and not math.isclose(lmbda, resolved, rel_tol=1e-9):
        raise ctx.error("codec.lmbda", f"{lmbda:g} disagrees with the lambda {resolved:g} that checkpoint "
                                       f"{str(name)!r} was trained for; remove codec.lmbda")
    return dataclasses.replace(codec, resolved=CodecResolved(path, resolved))


def check_report_spacing(ctx: Ctx, ues: Any) -> int:
    """Measurements per report (distance or time settings): :func:`simnet.config.ue_timing.report_every`.

    Raises:
        ConfigError: the report spacing (period) is not a whole multiple of the sample spacing (CSI-RS period).
    """
    from simnet.config.ue_timing import report_every

    return report_every(ctx, ues)


__all__ = ["CodecResolved", "STRICT_GRID_KEYS", "check_report_spacing", "resolve_codec",
           "resolve_system"]
