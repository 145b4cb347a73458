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
from simnet.codecs import CODECS, codec_lmbda, load_codec
from simnet.config import Ctx, PartConfig, Scenario, SystemConfig, ue_timing
from simnet.config.parts import CODEC_BLOCK_OPTIONS
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
        h_measured: per UE, [num_samples, num_bs_ant, num_subcarriers] complex64 CSI-RS estimates the UE
            encodes and fine-tunes on (``ues.estimation_snr_db``), or None (the UE measures the true channel).
        uplink_seed: the seed of the uplink's loss draws (the same in every variant).
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
    h_measured: list[np.ndarray] | None = None
    uplink_seed: np.random.SeedSequence | None = None

    def measured(self, u: int) -> np.ndarray:
        """UE ``u``'s channels as it measures them (its CSI-RS estimates; the true ones without estimation noise)."""
        return self.h[u] if self.h_measured is None else self.h_measured[u]

    @property
    def t_end_s(self) -> float:
        return max(float(s.t_s[-1]) for s in self.samples)


def build_source(channel: PartConfig, system: SystemConfig, seed: int, where: str = "scenario") -> Any:
    """Build the scenario's channel source on the system grid; a value its constructor refuses is a ConfigError.

    Args:
        channel: the validated ``channel:`` block.
        system: the resolved system (the preset's grid already filled in where the file left it out).
        seed: the channel's seed (drawn from the scenario seed).
    """
    try:
        return CHANNEL_SOURCES.get(channel.type)(seed=seed, carrier_hz=system.carrier_hz,
                                                 bandwidth_hz=system.bandwidth_hz,
                                                 num_subcarriers=system.num_subcarriers,
                                                 bs_array=tuple(system.bs_array), **channel.kw())
    except SimnetError as err:
        raise ConfigError(f"{where}: channel: {err}") from None
    except TypeError as err:  # a preset key of the wrong shape (e.g. tracks: 3)
        raise ConfigError(f"{where}: channel: bad value for channel source {channel.type!r}: {err}") from None


def build_codec(codec_part: PartConfig, system: SystemConfig, where: str = "scenario") -> tuple[Any, dict[str, Any]]:
    """Load the codec's checkpoint (then apply the block's ``load_options`` of that codec, e.g. csi-inr's
    ``bit_depth``), or build it from its options, on the system's array and subcarriers.

    Args:
        codec_part: the validated ``codec:`` block, with ``resolved`` (a ``CodecResolved``) set by the loader,
            which has already checked a checkpoint's type and dimensions against ``system``.

    Returns:
        (the codec in eval mode, codec_info for the manifest: type, checkpoint, its path and SHA-256, lmbda).
    """
    resolved = codec_part.resolved
    options = {k: v for k, v in codec_part.kw().items() if k not in CODEC_BLOCK_OPTIONS}
    info: dict[str, Any] = {"type": codec_part.type, "checkpoint": codec_part.get("checkpoint")}
    try:
        if resolved.checkpoint_path is not None:
            codec = load_codec(resolved.checkpoint_path)
            if options:  # the codec's load_options: the loader refused any other option beside a checkpoint
                codec = codec.with_settings(**options)
            info["checkpoint_path"] = str(resolved.checkpoint_path)
            info["checkpoint_sha256"] = codec.checkpoint_sha256
        else:
            factory = CODECS.get(codec_part.type)
            if not getattr(factory, "trainable", True):  # a codebook needs the array's shape (N1, N2)
                options.setdefault("bs_array", tuple(system.bs_array))
            codec = factory(num_bs_ant=system.num_bs_ant, num_subcarriers=system.num_subcarriers, **options)
            codec.lmbda = resolved.lmbda
    except SimnetError as err:
        raise ConfigError(f"{where}: codec: {err}") from None
    except TypeError as err:
        raise ConfigError(f"{where}: codec: bad value for codec {codec_part.type!r}: {err}") from None
    codec.eval()
    # the RD trade-off the codec was trained for: J = lmbda * NMSE + bits/dim in every table and in fine-tuning
    info["lmbda"] = codec_lmbda(codec)
    return codec, info


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

    # spawned after the UEs' seeds, so that these come out as they always did
    noise_seqs, (uplink_seq,) = root.spawn(ues.count), root.spawn(1)
    report_every = ue_timing.report_every(Ctx(scenario.path), ues)  # checked at load: here only computed
    tracks = source.tracks(ues.count)
    check_tracks(scenario, tracks)  # track_length_m within the routes, and a run size that fits
    samples: list[TrackSamples] = []
    h: list[np.ndarray] = []
    for u, wp in enumerate(tracks):
        t0 = u * ue_timing.report_period_s(ues, u) / ues.count if ues.stagger else 0.0
        traj = Trajectory(wp, ues.speed_of(u), t0_s=t0, length_m=ue_timing.track_length_m(ues, u))
        smp = traj.sample(ue_timing.sample_spacing_m(ues, u))
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
    h_measured = None
    if ues.estimation_snr_db is not None:
        h_measured = [ls_estimate(hu, ues.estimation_snr_db, np.random.default_rng(seq))
                      for hu, seq in zip(h, noise_seqs, strict=True)]
    return World(scenario, samples, h, codec, report_every, list(ue_seqs), channel_info, codec_info, h_measured,
                 uplink_seq)


def ls_estimate(h: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """A least-squares CSI-RS estimate of ``h``: ``h + n``, ``n`` circular complex Gaussian, i.i.d. per element.

    The noise power is the channel's mean power over the whole track over ``10^(snr_db / 10)``, so ``snr_db``
    is the per-element estimation SNR of a UE under large-scale power control (as the BS's spectral
    efficiency assumes), the same at every sample of the track.

    Args:
        h: [num_samples, num_bs_ant, num_subcarriers] complex64, the true channels.
        snr_db: per-element estimation SNR [dB].
        rng: the UE's own noise generator.

    Returns:
        [num_samples, num_bs_ant, num_subcarriers] complex64, the estimates.
    """
    noise_var = float(np.mean(np.abs(h) ** 2)) / 10.0 ** (snr_db / 10.0)
    n = rng.standard_normal((*h.shape, 2)) * np.sqrt(noise_var / 2.0)
    return (h + (n[..., 0] + 1j * n[..., 1])).astype(np.complex64)
