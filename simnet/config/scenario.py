"""Scenario files: YAML parsed once into frozen, validated dataclasses.

Every mistake becomes one ``ConfigError`` line naming the file, the key path, the value and what is
allowed. Swappable parts (``channel``, ``codec``, each policy) are ``type:`` plus keyword arguments, checked
against their registries (with a did-you-mean); ``channel`` and ``codec`` become typed
:class:`~simnet.config.parts.PartConfig` s, and the facts that join sections (the preset's grid, the codec's
checkpoint and lambda, the report spacing) are settled in :mod:`simnet.config.cross_section`, all before any
output is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass

from simnet.config.cross_section import resolve_codec, resolve_system
from simnet.config.fields import Ctx, parse_section
from simnet.config.file import (
    SCENARIO_TOP_KEYS,
    parse_overrides,
    parse_seed_and_name,
    read_mapping,
    resolve_file,
)
from simnet.config.parts import PartConfig, parse_part
from simnet.config.policy_specs import Block, PolicySpec, parse_policy_specs
from simnet.config.run_budget import check_at_load, note_cost
from simnet.config.strict_yaml import quote
from simnet.config.ue_timing import check_ue_timing
from simnet.errors import ConfigError

__all__ = ["Block", "Ctx", "DownlinkConfig", "OutputConfig", "PartConfig", "PolicySpec", "Scenario", "SystemConfig",
           "UEConfig", "UplinkConfig", "is_experiment_file", "load_scenario", "parse_overrides", "parse_section",
           "note_cost", "parse_seed_and_name", "read_mapping", "registries", "resolve_file", "to_dict"]

_STRICT = ConfigDict(extra="forbid")


@dataclass(frozen=True, config=_STRICT)
class SystemConfig:
    """OFDM and array parameters shared by the channel source and the codec."""

    carrier_hz: float = field(default=3.5e9, metadata={"ge": 0.4e9, "le": 100e9, "note": "0.4 to 100 GHz"})
    bandwidth_hz: float = field(default=50e6, metadata={"ge": 100e3, "le": 2e9, "note": "100 kHz to 2 GHz"})
    num_subcarriers: int = field(default=64, metadata={"ge": 1, "le": 4096})
    bs_array: tuple[int, int] = (8, 8)
    snr_db: float = field(default=10.0, metadata={"ge": -50, "le": 80})

    @property
    def num_bs_ant(self) -> int:
        return self.bs_array[0] * self.bs_array[1]


@dataclass(frozen=True, config=_STRICT)
class UEConfig:
    """The users: how many, how they move, how often they measure and report CSI."""

    count: int = field(default=1, metadata={"ge": 1, "le": 1024})
    speed_mps: float = field(default=1.4, metadata={"ge": 0.01, "le": 100, "note": "1 cm/s to 360 km/h"})
    sample_spacing_m: float = field(default=0.1, metadata={"ge": 1e-3, "le": 100, "note": "1 mm to 100 m"})
    report_spacing_m: float | None = field(default=None, metadata={"ge": 1e-3, "le": 1000, "note": "1 mm to 1 km"})
    track_length_m: float | None = field(default=None, metadata={"gt": 0, "le": 100e3, "note": "up to 100 km, and "
                                                                 "at most the channel's track"})
    window_max: int = field(default=256, metadata={"ge": 1, "le": 100000})
    seconds_per_step: float = field(default=0.01, metadata={"ge": 0, "le": 3600, "note": "up to an hour"})
    stagger: bool = True
    # fine-tunes that overlap in time computed as one batch (simnet.sim.finetune_batch); results as one by one
    batch_finetunes: bool = False
    # NR-like timing (instead of sample_spacing_m / report_spacing_m): a CSI-RS occasion every csi_rs_period_ms,
    # a report at every report_period_ms / csi_rs_period_ms-th occasion (simnet.config.ue_timing)
    csi_rs_period_ms: float | None = field(default=None, metadata={"ge": 0.0625, "le": 10000,
                                                                    "note": "one slot at 240 kHz to 10 s"})
    report_period_ms: float | None = field(default=None, metadata={"ge": 0.0625, "le": 10000,
                                                                    "note": "one slot at 240 kHz to 10 s"})
    # per-UE speeds, UE u moving at speeds_mps[u % len(speeds_mps)] (instead of speed_mps)
    speeds_mps: tuple[float, ...] | None = None
    track_duration_s: float | None = field(default=None, metadata={"gt": 0, "le": 86400, "note": "up to a day"})
    # LS channel estimation at the UE: per-element SNR of the CSI-RS estimate over the UE's mean channel power
    estimation_snr_db: float | None = field(default=None, metadata={"ge": -30, "le": 100})

    def speed_of(self, u: int) -> float:
        """Speed of UE ``u`` [m/s]."""
        return float(self.speeds_mps[u % len(self.speeds_mps)]) if self.speeds_mps else self.speed_mps


@dataclass(frozen=True, config=_STRICT)
class UplinkConfig:
    """The shared uplink."""

    rate_bps: float = field(default=1e6, metadata={"ge": 1e3, "le": 1e12, "note": "1 kbit/s to 1 Tbit/s"})
    discipline: Literal["fifo", "csi-first"] = "fifo"
    latency_s: float = field(default=0.0, metadata={"ge": 0, "le": 60, "note": "up to a minute"})
    # CRC per CSI report (simnet.coding.crc): none, the NR UCI rule (CRC11 for the usual >= 20 payload bits), or fixed
    report_crc: Literal["none", "nr", "crc6", "crc11", "crc16", "crc24c"] = "none"
    # each transmission lost with this probability (simnet.sim.lossy_uplink); 0 = a lossless uplink
    loss_probability: float = field(default=0.0, metadata={"ge": 0, "lt": 1, "note": "0 <= p < 1"})
    retransmit: bool = False
    max_retransmissions: int = field(default=3, metadata={"ge": 0, "le": 32})
    retransmit_delay_s: float = field(default=0.004, metadata={"ge": 0, "le": 10, "note": "up to 10 s"})


@dataclass(frozen=True, config=_STRICT)
class DownlinkConfig:
    """When the BS beamforms (and is scored) with what it decoded."""

    slot_period_s: float = field(default=0.1, metadata={"ge": 1e-6, "le": 10, "note": "1 us to 10 s"})
    # at most this many UEs share a slot (multi-user MIMO layers), round-robin over the UEs holding CSI
    # (simnet.sim.bs.BaseStation); null = every UE with CSI, every slot
    max_served_per_slot: int | None = field(default=None, metadata={"ge": 1, "le": 1024})


@dataclass(frozen=True, config=_STRICT)
class OutputConfig:
    """Where results go."""

    dir: str = field(default="results", metadata={"nonblank": True, "note": "a folder, e.g. results"})
    plots: bool = True
    # summary.csv also holds the 5th percentile over users of each user's mean SE (MRT, ZF) and SGCS at use
    user_percentiles: bool = False


@dataclass(frozen=True)
class Scenario:
    """A whole scenario, resolved and validated.

    ``system`` holds the grid the run uses (the channel preset's where the file leaves a key out, see
    :func:`simnet.config.cross_section.resolve_system`); ``codec.resolved`` its checkpoint and lambda.
    """

    name: str
    path: str
    seed: int
    system: SystemConfig
    channel: PartConfig
    ues: UEConfig
    codec: PartConfig
    uplink: UplinkConfig
    downlink: DownlinkConfig
    policies: tuple[PolicySpec, ...]
    output: OutputConfig


_SECTIONS: dict[str, Any] = {
    "system": SystemConfig,
    "ues": UEConfig,
    "uplink": UplinkConfig,
    "downlink": DownlinkConfig,
    "output": OutputConfig,
}

def registries() -> tuple[Any, Any, Any]:
    """The channel, codec and policy registries, with every built-in part registered."""
    import policies
    import simnet.channels
    import simnet.codecs

    return simnet.channels.CHANNEL_SOURCES, simnet.codecs.CODECS, policies.POLICIES


def load_scenario(path: str | Path, seed: int | None = None, quick: bool = False,
                  overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Read and validate a scenario file.

    Args:
        path: the YAML file.
        seed: overrides the file's ``seed``.
        quick: merge the file's ``quick:`` block over it (a shorter run for a first look).
        overrides: a partial scenario merged over the file last (``--set`` on the command line).

    Raises:
        ConfigError: one line naming the file, key path, value and what is allowed.
    """
    return scenario_from_mapping(read_mapping(path), path, seed=seed, quick=quick, overrides=overrides)


def scenario_from_mapping(mapping: Mapping[str, Any], path: str | Path, seed: int | None = None, quick: bool = False,
                          overrides: Mapping[str, Any] | None = None) -> Scenario:
    """:func:`load_scenario` of a file whose top-level mapping is already read (``read_mapping(path)``)."""
    p = Path(path)
    ctx = Ctx(str(path))
    raw = resolve_file(dict(mapping), ctx, SCENARIO_TOP_KEYS, quick, overrides)
    for key in ("channel", "codec", "policies"):
        if key not in raw:
            raise ctx.error(key, "missing section (see scenarios/smoke.yaml for an example)")
    seed_value, name = parse_seed_and_name(raw, ctx, seed, p.stem)
    sections = {k: parse_section(ctx, k, cls, raw.get(k)) for k, cls in _SECTIONS.items()}
    bs = (raw.get("system") or {}).get("bs_array", sections["system"].bs_array)
    if (not isinstance(bs, list | tuple) or len(bs) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 256 for n in bs)):
        raise ctx.error("system.bs_array", f"value {quote(bs)} is invalid (allowed: two integers from 1 to 256, "
                                           "e.g. [8, 8])")
    chan_reg, codec_reg, policy_reg = registries()
    channel = parse_part(ctx, "channel", raw["channel"], chan_reg)
    system = resolve_system(ctx, sections["system"], dict(raw.get("system") or {}), channel, chan_reg)
    codec = resolve_codec(ctx, parse_part(ctx, "codec", raw["codec"], codec_reg), system, codec_reg)
    check_ue_timing(ctx, sections["ues"], dict(raw.get("ues") or {}))
    policy_specs = parse_policy_specs(ctx, raw["policies"], policy_reg)
    moving = [s.label for s in policy_specs if s.type != "never"]
    if moving and not getattr(codec_reg.get(codec.type), "trainable", True):
        raise ctx.error("policies", f"codec {codec.type!r} is a fixed codebook with no model to update; "
                                    f"only the 'never' policy can run it (remove {', '.join(moving)})")
    if moving and not getattr(codec_reg.get(codec.type), "finetunable", True):
        raise ctx.error("policies", f"codec {codec.type!r} has no learned weights to fine-tune; "
                                    f"only the 'never' policy can run it (remove {', '.join(moving)})")
    scenario = Scenario(
        name=name,
        path=str(path),
        seed=seed_value,
        system=system,
        channel=channel,
        ues=sections["ues"],
        codec=codec,
        uplink=sections["uplink"],
        downlink=sections["downlink"],
        policies=policy_specs,
        output=sections["output"],
    )
    check_at_load(scenario)  # refuse a run that cannot fit before anything is computed
    return scenario


def to_dict(obj: Any) -> Any:
    """A plain-JSON view of a scenario (for the manifest)."""
    if isinstance(obj, PartConfig):  # the file's keywords only, as the manifest always had them
        return {"type": obj.type, "kwargs": {k: to_dict(v) for k, v in obj.kwargs}}
    if is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: to_dict(getattr(obj, f.name)) for f in fields(obj)}
        if isinstance(obj, (Block, PolicySpec)):
            out["kwargs"] = {k: to_dict(v) for k, v in obj.kwargs}
        return out
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def is_experiment_file(path: str | Path) -> bool:
    """True if ``path`` reads as a mapping with a top-level ``experiment`` key (else let the loaders speak)."""
    try:
        return "experiment" in read_mapping(path)
    except ConfigError:
        return False
