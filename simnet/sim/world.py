"""The world every policy variant shares: UE tracks, true channels, the pretrained codec.

    Scenario -> channel source (system grid) -> tracks -> sampled trajectories -> true channels (cached)
             -> codec (built or loaded from a checkpoint, checked against the grid)     [once per run]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simnet.channels import CHANNEL_SOURCES
from simnet.codecs import CODECS
from simnet.config import Block, Scenario, SystemConfig
from simnet.config.run_budget import check_tracks
from simnet.errors import ConfigError, SimnetError
from simnet.sim.mobility import TrackSamples, Trajectory

ProgressFn = Callable[[float], None]


@dataclass
class World:
    """Everything the variants share: tracks, channels and the pretrained codec.

    Attributes:
        samples: per UE, its sampled track.
        h: per UE, [num_samples, num_bs_ant, num_subcarriers] complex64 true channels.
        codec: the pretrained codec every UE starts from.
        report_every: a report every this many samples.
        ue_seeds: per UE, the seed of its own generator (the same in every variant).
        channel_info: what channel source and data were really used (for the manifest).
        codec_info: which codec and checkpoint (path and SHA-256) were used, and its ``lmbda``.
    """

    scenario: Scenario
    samples: list[TrackSamples]
    h: list[np.ndarray]
    codec: Any
    report_every: int
    ue_seeds: list[np.random.SeedSequence]
    channel_info: dict[str, Any]
    codec_info: dict[str, Any]

    @property
    def t_end_s(self) -> float:
        return max(float(s.t_s[-1]) for s in self.samples)


def build_source(block: Block, system: SystemConfig, seed: int, where: str = "scenario") -> Any:
    """Build the scenario's channel source; bad kwargs become a ConfigError naming ``channel``."""
    kwargs = {"seed": seed, **block.kw()}
    kwargs.update(carrier_hz=system.carrier_hz, bandwidth_hz=system.bandwidth_hz,
                  num_subcarriers=system.num_subcarriers, bs_array=tuple(system.bs_array))
    try:
        return CHANNEL_SOURCES.get(block.type)(**kwargs)
    except SimnetError as err:
        raise ConfigError(f"{where}: channel: {err}") from None
    except TypeError as err:
        raise ConfigError(f"{where}: channel: bad arguments for channel source {block.type!r}: {err}") from None


def build_codec(block: Block, system: SystemConfig, where: str = "scenario") -> tuple[Any, dict[str, Any]]:
    """Build (or load) the scenario's codec and check it fits the system's array and subcarriers."""
    kwargs = block.kw()
    ckpt = kwargs.pop("checkpoint", None)
    info: dict[str, Any] = {"type": block.type, "checkpoint": ckpt}
    try:
        if ckpt is not None:
            from simnet.codecs import load_codec

            path = resolve_checkpoint(str(ckpt), where)
            codec = load_codec(path)
            info["checkpoint_path"] = str(path)
            info["checkpoint_sha256"] = codec.checkpoint_sha256
        else:
            factory = CODECS.get(block.type)
            if not getattr(factory, "trainable", True):  # a codebook needs the array's shape (N1, N2)
                kwargs.setdefault("bs_array", tuple(system.bs_array))
            codec = factory(num_bs_ant=system.num_bs_ant, num_subcarriers=system.num_subcarriers, **kwargs)
    except ConfigError:
        raise
    except SimnetError as err:
        raise ConfigError(f"{where}: codec: {err}") from None
    except TypeError as err:
        raise ConfigError(f"{where}: codec: bad arguments for codec {block.type!r}: {err}") from None
    dims = (int(codec.num_bs_ant), int(codec.num_subcarriers))
    if dims != (system.num_bs_ant, system.num_subcarriers):
        raise ConfigError(f"{where}: codec: the codec works on {dims[0]} antennas x {dims[1]} subcarriers but "
                          f"system has {system.num_bs_ant} x {system.num_subcarriers}; pick a matching checkpoint "
                          f"or system")
    codec.eval()
    # the RD trade-off the codec was trained for: J = lmbda * NMSE + bits/dim in every table of the run
    info["lmbda"] = float(getattr(codec, "checkpoint_meta", {}).get("lmbda", 1.0))
    return codec, info


def resolve_checkpoint(name: str, where: str = "scenario", key: str = "codec.checkpoint") -> Path:
    """``default``, a file name among the shipped checkpoints, or a path to a checkpoint file.

    Raises:
        ConfigError: ``"{where}: {key}: ..."`` (empty parts left out) with the shipped names when nothing
            matches.
    """
    from simnet.codecs import default_checkpoint

    shipped = default_checkpoint().parent
    if name == "default":
        return default_checkpoint()
    for cand in (Path(name), shipped / name, shipped / f"{name}.pt"):
        if cand.exists():  # a directory or unreadable file is named by load_codec, not reported as missing
            return cand
    known = ", ".join(sorted(p.stem for p in shipped.glob("*.pt")))
    prefix = ": ".join(part for part in (where, key) if part)
    raise ConfigError(f"{prefix}: {name!r} not found (give 'default', a shipped checkpoint: {known}, "
                      f"or the path of a .pt file)")


def _channels(source: Any, pos_m: np.ndarray, t_s: np.ndarray, cache_dir: Path | None) -> np.ndarray:
    if cache_dir is not None:
        from simnet.channels import cached_channels

        return np.asarray(cached_channels(source, pos_m, t_s, cache_dir), dtype=np.complex64)
    return np.asarray(source.channels(pos_m, t_s), dtype=np.complex64)


def build_world(scenario: Scenario, cache_dir: Path | None = None, progress: ProgressFn | None = None) -> World:
    """Lay out the UEs' tracks, compute their true channels (cached) and load the codec."""
    ues = scenario.ues
    root = np.random.SeedSequence(scenario.seed)
    chan_seq, *ue_seqs = root.spawn(1 + ues.count)
    channel_seed = int(chan_seq.generate_state(1)[0])
    source = build_source(scenario.channel, scenario.system, channel_seed, scenario.path)
    codec, codec_info = build_codec(scenario.codec, scenario.system, scenario.path)

    report_spacing = ues.report_spacing_m or ues.sample_spacing_m
    ratio = report_spacing / ues.sample_spacing_m
    report_every = int(round(ratio))
    if report_every < 1 or abs(ratio - report_every) > 1e-4 * ratio:
        raise ConfigError(f"{scenario.path}: ues.report_spacing_m: value {report_spacing} must be a whole multiple "
                          f"of ues.sample_spacing_m = {ues.sample_spacing_m}")
    report_period_s = report_spacing / ues.speed_mps
    tracks = source.tracks(ues.count)
    check_tracks(scenario, tracks)  # track_length_m within the routes, and a run size that fits
    samples: list[TrackSamples] = []
    h: list[np.ndarray] = []
    for u, wp in enumerate(tracks):
        t0 = u * report_period_s / ues.count if ues.stagger else 0.0
        traj = Trajectory(wp, ues.speed_mps, t0_s=t0, length_m=ues.track_length_m)
        smp = traj.sample(ues.sample_spacing_m)
        if len(smp) < 2:
            raise ConfigError(f"{scenario.path}: ues.track_length_m: the track of UE {u} is shorter than two samples")
        samples.append(smp)
        h.append(_channels(source, smp.pos_m, smp.t_s, cache_dir))
        if progress is not None:
            progress((u + 1) / len(tracks))
    meta = source.meta
    channel_info = {"source": meta.source, "description": meta.description, "carrier_hz": meta.carrier_hz,
                    "bandwidth_hz": meta.bandwidth_hz, "num_subcarriers": meta.num_subcarriers,
                    "bs_array": list(meta.bs_array), "seed": channel_seed,
                    "num_samples_per_ue": [len(s) for s in samples]}
    return World(scenario, samples, h, codec, report_every, list(ue_seqs), channel_info, codec_info)
