"""The UE process: move, measure CSI, encode it into a real bitstream, report it, fine-tune when told."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from policies.base import Observation, Policy, UpdateResult
from simnet.coding.crc import protect
from simnet.sim.beamforming import nmse, to_db
from simnet.sim.mobility import TrackSamples
from simnet.sim.uplink import Packet, Uplink


def decoder_fingerprint(codec: Any) -> bytes:
    """The exact bytes of the decoder-side parameters (what the BS must hold), for equality checks."""
    names = codec.decoder_parameter_names()
    state = codec.state_dict()
    return b"".join(name.encode() + state[name].detach().cpu().contiguous().numpy().tobytes() for name in names)


class UserEquipment:
    """One UE walking its track.

    It measures CSI at every track sample, reports every ``report_every``-th sample, and keeps the
    samples since its last fine-tune (at most ``window_max``) as the fine-tuning window.

    Args:
        env: the SimPy environment.
        index: UE index.
        samples: the UE's sampled track.
        h: [num_samples, num_bs_ant, num_subcarriers], complex64, true channels along the track.
        report_every: report every this many samples.
        codec: the UE's codec (its decoder equals the BS's version 0).
        policy: the UE's fine-tuning policy.
        uplink: the shared uplink.
        install_free: called as ``install_free(ue, version, bs_codec)`` to hand the BS a genie update.
        rng: the UE's own generator (fine-tuning randomness).
        window_max: most samples kept for fine-tuning.
        seconds_per_step: simulated compute time of one optimisation step [s].
        log: where the UE appends one dict per report and per fine-tune.
        report_crc: the CRC each report carries (``uplink.report_crc``: ``"none"``, ``"nr"`` or a generator
            of :mod:`simnet.coding.crc`); its bits go into the report's uplink packet.
    """

    def __init__(
        self,
        env: simpy.Environment,
        index: int,
        samples: TrackSamples,
        h: np.ndarray,
        report_every: int,
        codec: Any,
        policy: Policy,
        uplink: Uplink,
        install_free: Callable[[int, int, Any], None],
        rng: np.random.Generator,
        window_max: int,
        seconds_per_step: float,
        log: dict[str, list[dict[str, Any]]],
        report_crc: str = "none",
    ) -> None:
        self.env = env
        self.index = index
        self.samples = samples
        self.h = h
        self.report_every = report_every
        self.codec = codec
        self.version = 0
        self.policy = policy
        self.uplink = uplink
        self.install_free = install_free
        self.rng = rng
        self.window_max = window_max
        self.seconds_per_step = seconds_per_step
        self.log = log
        self.report_crc = report_crc
        self.busy = False
        self.window_start = 0
        self._pending: tuple[UpdateResult, int] | None = None
        self.process = env.process(self.run(env))

    def run(self, env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        report_idx = range(0, len(self.samples), self.report_every)
        for k, i in enumerate(report_idx):
            yield env.timeout(max(0.0, float(self.samples.t_s[i]) - env.now))
            self._report(env, k, i)

    def _report(self, env: simpy.Environment, k: int, i: int) -> None:
        streams, h_ue_batch = self.codec.compress_with_reconstruction(self.h[i : i + 1])
        stream, h_ue = streams[0], h_ue_batch[0]
        nmse_db = float(to_db(nmse(self.h[i], h_ue)))
        meta = {"report": k, "sample": i, "version": self.version, "t_measure_s": env.now}
        check = protect(stream, self.report_crc)
        self.uplink.send(Packet(ue=self.index, kind="csi", payload=stream, meta=meta, check=check))
        obs = Observation(
            t_s=env.now,
            distance_m=float(self.samples.s_m[i]),
            report_index=k,
            nmse_db=nmse_db,
            latent_bits=8 * len(stream),
            num_window=min(i + 1 - self.window_start, self.window_max),
            busy=self.busy,
        )
        if self.policy.should_update(obs) and not self.busy:
            self.busy = True
            env.process(self._finetune(env, i))

    def _finetune(self, env: simpy.Environment, i: int) -> Generator[simpy.Event, Any, None]:
        lo = max(self.window_start, i + 1 - self.window_max)
        window = self.h[lo : i + 1]
        start_before, self.window_start = self.window_start, i + 1
        t_start = env.now
        result = self.policy.update(self.codec, window, self.rng)
        yield env.timeout(result.num_steps * self.seconds_per_step)
        row = {"ue": self.index, "t_start_s": t_start, "t_done_s": env.now, "distance_m": float(self.samples.s_m[i]),
               "num_window": len(window), "num_steps": result.num_steps, "update_bits": result.update_bits,
               "delivery": self.policy.delivery, "declined": result.declined,
               **{f"info_{k}": v for k, v in result.info.items()}}
        self.log["finetunes"].append(row)
        delivery = self.policy.delivery
        if result.declined:  # the compute is spent; codec, version and fine-tuning window stay as they were
            self.window_start = start_before
            self.busy = False
        elif delivery == "local":
            if decoder_fingerprint(result.codec) != decoder_fingerprint(self.codec):
                raise AssertionError(f"policy {self.policy.name!r} changed the decoder but delivers nothing")
            self.codec = result.codec
            self.busy = False
        elif delivery == "free":
            self.install_free(self.index, self.version + 1, result.codec)
            self._switch(result.codec, self.version + 1)
        else:
            if result.payload is None:
                raise AssertionError(f"policy {self.policy.name!r} delivers over the uplink but sent no payload")
            self._pending = (result, self.version + 1)
            meta = {"version": self.version + 1}
            self.uplink.send(Packet(ue=self.index, kind="update", payload=result.payload, meta=meta))

    def pending_codec(self) -> Any:
        """The fine-tuned codec whose update is in flight (the BS checks its result against it)."""
        assert self._pending is not None
        return self._pending[0].codec

    def on_update_delivered(self, version: int) -> None:
        """The BS has applied update ``version``: switch encoder and decoder together."""
        assert self._pending is not None and self._pending[1] == version
        codec = self._pending[0].codec
        self._pending = None
        self._switch(codec, version)

    def _switch(self, codec: Any, version: int) -> None:
        self.codec = codec
        self.version = version
        self.busy = False
