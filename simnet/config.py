"""Scenario files: YAML parsed once into frozen, validated dataclasses.

Every mistake becomes one ``ConfigError`` line naming the file, the key path, the value and what is
allowed. Swappable parts (``channel``, ``codec``, each policy) are ``type:`` plus keyword arguments,
checked against their registries (with a did-you-mean) and built once at load time so bad kwargs fail
here, before any output is written.
"""

from __future__ import annotations

import copy
import difflib
import itertools
from collections.abc import Mapping
from dataclasses import field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ConfigDict, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from simnet.errors import ConfigError, SimnetError

_STRICT = ConfigDict(extra="forbid")


@dataclass(frozen=True, config=_STRICT)
class SystemConfig:
    """OFDM and array parameters shared by the channel source and the codec."""

    carrier_hz: float = field(default=3.5e9, metadata={"gt": 0})
    bandwidth_hz: float = field(default=50e6, metadata={"gt": 0})
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
    speed_mps: float = field(default=1.4, metadata={"gt": 0, "le": 100})
    sample_spacing_m: float = field(default=0.1, metadata={"gt": 0, "le": 100})
    report_spacing_m: float | None = field(default=None, metadata={"gt": 0, "le": 1000})
    track_length_m: float | None = field(default=None, metadata={"gt": 0})
    window_max: int = field(default=256, metadata={"ge": 1, "le": 100000})
    seconds_per_step: float = field(default=0.01, metadata={"ge": 0})
    stagger: bool = True


@dataclass(frozen=True, config=_STRICT)
class UplinkConfig:
    """The shared uplink."""

    rate_bps: float = field(default=1e6, metadata={"gt": 0})
    discipline: Literal["fifo", "csi-first"] = "fifo"
    latency_s: float = field(default=0.0, metadata={"ge": 0})
    # CRC per CSI report (simnet.crc): none, the NR UCI rule (CRC11 for the usual >= 20 payload bits), or fixed
    report_crc: Literal["none", "nr", "crc6", "crc11", "crc16", "crc24c"] = "none"


@dataclass(frozen=True, config=_STRICT)
class DownlinkConfig:
    """When the BS beamforms (and is scored) with what it decoded."""

    slot_period_s: float = field(default=0.1, metadata={"gt": 0})


@dataclass(frozen=True, config=_STRICT)
class OutputConfig:
    """Where results go."""

    dir: str = "results"
    plots: bool = True


@dataclass(frozen=True)
class Block:
    """A swappable part: registry ``type`` plus its keyword arguments (a frozen sorted tuple of items)."""

    type: str
    kwargs: tuple[tuple[str, Any], ...] = ()

    def kw(self) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in self.kwargs}


@dataclass(frozen=True)
class PolicySpec:
    """One policy variant of the scenario (a sweep expands to several)."""

    label: str
    type: str
    kwargs: tuple[tuple[str, Any], ...] = ()

    def kw(self) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in self.kwargs}


@dataclass(frozen=True)
class Scenario:
    """A whole scenario, resolved and validated."""

    name: str
    path: str
    seed: int
    system: SystemConfig
    channel: Block
    ues: UEConfig
    codec: Block
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
_TOP_KEYS = ["name", "seed", "system", "channel", "ues", "codec", "uplink", "downlink", "policies", "output",
             "quick", "description"]


def _did_you_mean(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(str(key), allowed, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


class Ctx:
    """The file being read: builds ``ConfigError``s that start with its path and the key path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, key_path: str, msg: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key_path}: {msg}")


def _range_text(meta: Mapping[str, Any]) -> str:
    ops = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    return " and ".join(f"{ops[k]} {v}" for k, v in meta.items() if k in ops)


def parse_section(ctx: Ctx, name: str, cls: Any, raw: Any) -> Any:
    """Validate mapping ``raw`` into dataclass ``cls``: unknown keys (did-you-mean), types, ``metadata`` ranges."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ctx.error(name, f"must be a mapping of keys, got {type(raw).__name__} {raw!r}")
    allowed = [f.name for f in fields(cls)]
    for key in raw:
        if key not in allowed:
            raise ctx.error(f"{name}.{key}", f"unknown key{_did_you_mean(key, allowed)} "
                                              f"(allowed: {', '.join(allowed)})")
    try:
        obj = TypeAdapter(cls).validate_python(dict(raw))
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        key = loc.split(".")[0]
        value = raw.get(key, first.get("input"))
        raise ctx.error(f"{name}.{loc}", f"value {value!r} is invalid: {first['msg']}") from None
    for f in fields(cls):
        value = getattr(obj, f.name)
        if value is None or not f.metadata:
            continue
        m = f.metadata
        bad = (("gt" in m and not value > m["gt"]) or ("ge" in m and not value >= m["ge"])
               or ("lt" in m and not value < m["lt"]) or ("le" in m and not value <= m["le"]))
        if bad:
            raise ctx.error(f"{name}.{f.name}", f"value {value!r} is out of range (allowed: {_range_text(m)})")
    return obj


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _parse_block(ctx: Ctx, name: str, raw: Any, registry: Any) -> Block:
    if not isinstance(raw, Mapping):
        raise ctx.error(name, f"must be a mapping with a 'type' key, got {raw!r}")
    if "type" not in raw:
        raise ctx.error(f"{name}.type", f"missing (known: {', '.join(registry.names())})")
    typ = raw["type"]
    if typ not in registry:
        raise ctx.error(f"{name}.type", registry.unknown_message(typ))
    kwargs = {k: v for k, v in raw.items() if k != "type"}
    return Block(type=str(typ), kwargs=tuple(sorted(kwargs.items())))


def _policy_specs(ctx: Ctx, raw: Any, registry: Any) -> tuple[PolicySpec, ...]:
    if not isinstance(raw, list) or not raw:
        raise ctx.error("policies", f"must be a non-empty list of {{type: ..., ...}} blocks, got {raw!r}")
    specs: list[PolicySpec] = []
    for i, item in enumerate(raw):
        key = f"policies[{i}]"
        if not isinstance(item, Mapping):
            raise ctx.error(key, f"must be a mapping with a 'type' key, got {item!r}")
        item = dict(item)
        sweep = item.pop("sweep", None) or {}
        label = item.pop("label", None)
        block = _parse_block(ctx, key, item, registry)
        if not isinstance(sweep, Mapping) or not all(isinstance(v, list) and v for v in sweep.values()):
            raise ctx.error(f"{key}.sweep", f"must map keyword names to non-empty lists, got {sweep!r}")
        names = sorted(sweep)
        for combo in itertools.product(*(sweep[n] for n in names)):
            kwargs = block.kw()
            kwargs.update(dict(zip(names, combo)))
            suffix = ",".join(f"{n}={v}" for n, v in zip(names, combo))
            lab = str(label or block.type) + (f"[{suffix}]" if suffix else "")
            try:
                registry.get(block.type)(**kwargs)
            except SimnetError as err:
                raise ctx.error(key, str(err)) from None
            except (TypeError, ValueError) as err:
                raise ctx.error(key, f"bad arguments for policy {block.type!r}: {err}") from None
            specs.append(PolicySpec(label=lab, type=block.type, kwargs=tuple(sorted(kwargs.items()))))
    labels = [s.label for s in specs]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ctx.error("policies", f"duplicate policy labels {dup}: give each a distinct 'label:'")
    return tuple(specs)


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def registries() -> tuple[Any, Any, Any]:
    """The channel, codec and policy registries, with every built-in part registered."""
    import policies
    import simnet.channels
    import simnet.codecs

    return simnet.channels.CHANNEL_SOURCES, simnet.codecs.CODECS, policies.POLICIES


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["ues.count=8", "uplink.discipline=fifo"]`` -> nested mapping (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE, e.g. --set ues.count=8")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML") from None
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = parsed
    return out


def read_mapping(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a YAML scenario or experiment file (``yaml.safe_load``).

    Raises:
        ConfigError: missing file, invalid YAML (with line and column) or a top level that is not a mapping.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{path}: scenario file not found (give the path of a .yaml file, e.g. "
                          f"scenarios/smoke.yaml)")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: the top level must be a mapping of sections ({', '.join(_TOP_KEYS)})")
    return dict(raw)


def resolve_file(raw: dict[str, Any], ctx: Ctx, top_keys: list[str], quick: bool,
                 overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check the top-level keys, drop ``description``, merge the ``quick:`` block (if asked) and overrides."""
    for key in raw:
        if key not in top_keys:
            raise ctx.error(str(key), f"unknown section{_did_you_mean(key, top_keys)} "
                                      f"(allowed: {', '.join(top_keys)})")
    raw = dict(raw)
    quick_block = raw.pop("quick", None) or {}
    raw.pop("description", None)
    if quick:
        if not isinstance(quick_block, Mapping):
            raise ctx.error("quick", f"must be a mapping of sections to override, got {quick_block!r}")
        raw = _deep_merge(raw, quick_block)
    if overrides:
        raw = _deep_merge(raw, overrides)
    return raw


def parse_seed_and_name(raw: Mapping[str, Any], ctx: Ctx, seed: int | None, default_name: str) -> tuple[int, str]:
    """The run's seed (``seed`` argument over the file's, default 0) and name (default: the file stem)."""
    seed_value = raw.get("seed", 0) if seed is None else seed
    if isinstance(seed_value, bool) or not isinstance(seed_value, int) or seed_value < 0:
        raise ctx.error("seed", f"value {seed_value!r} is invalid (allowed: an integer >= 0)")
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise ctx.error("name", f"value {name!r} is invalid (allowed: a non-empty string)")
    return int(seed_value), name


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
    p = Path(path)
    ctx = Ctx(str(path))
    raw = resolve_file(read_mapping(path), ctx, _TOP_KEYS, quick, overrides)
    for key in ("channel", "codec", "policies"):
        if key not in raw:
            raise ctx.error(key, "missing section (see scenarios/smoke.yaml for an example)")
    seed_value, name = parse_seed_and_name(raw, ctx, seed, p.stem)
    sections = {k: parse_section(ctx, k, cls, raw.get(k)) for k, cls in _SECTIONS.items()}
    bs = sections["system"].bs_array
    if min(bs) < 1:
        raise ctx.error("system.bs_array", f"value {list(bs)!r} is invalid (allowed: two integers >= 1)")
    chan_reg, codec_reg, policy_reg = registries()
    codec_block = _parse_block(ctx, "codec", raw["codec"], codec_reg)
    policy_specs = _policy_specs(ctx, raw["policies"], policy_reg)
    if not getattr(codec_reg.get(codec_block.type), "trainable", True):
        moving = [s.label for s in policy_specs if s.type != "never"]
        if moving:
            raise ctx.error("policies", f"codec {codec_block.type!r} is a fixed codebook with no model to update; "
                                        f"only the 'never' policy can run it (remove {', '.join(moving)})")
    return Scenario(
        name=name,
        path=str(path),
        seed=seed_value,
        system=sections["system"],
        channel=_parse_block(ctx, "channel", raw["channel"], chan_reg),
        ues=sections["ues"],
        codec=codec_block,
        uplink=sections["uplink"],
        downlink=sections["downlink"],
        policies=policy_specs,
        output=sections["output"],
    )


def to_dict(obj: Any) -> Any:
    """A plain-JSON view of a scenario (for the manifest)."""
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
