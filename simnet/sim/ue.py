"""The UE process: move, measure CSI, encode it into a real bitstream, report it, fine-tune when told."""

from __future__ import annotations

from collections.abc import Generator
from functools import partial
from typing import Any

import numpy as np
import simpy

from policies.base import Observation, Policy, UpdateResult
from simnet.codecs.fingerprint import decoder_fingerprint
from simnet.coding.crc import protect
from simnet.sim.batching import EncodeAhead
from simnet.sim.beamforming import nmse, to_db
from simnet.sim.finetune_batch import FinetuneBatcher
from simnet.sim.mobility import TrackSamples
from simnet.sim.packets import ModelUpdate, Packet
from simnet.sim.uplink import Uplink


class UserEquipment:
    """One UE walking its track.

    It measures CSI at every track sample, reports every ``report_every``-th sample, and keeps the
    samples since its last fine-tune (at most ``window_max``) as the fine-tuning window.

    Args:
        env: the SimPy environment.
        index: UE index.
        samples: the UE's sampled track.
        h: [num_samples, num_bs_ant, num_subcarriers], complex64, the channels the UE measures along its track
            (the true ones, or its CSI-RS estimates: ``World.measured``).
        report_every: report every this many samples.
        codec: the UE's codec (its decoder equals the BS's version 0).
        policy: the UE's fine-tuning policy.
        uplink: the shared uplink. A model update (``delivery`` ``"uplink"``, or ``"free"``: a genie update
            as a zero-bit packet, delivered at once) carries its BS-side apply step; the UE waits on the
            update's ``installed`` event before it switches.
        rng: the UE's own generator (fine-tuning randomness).
        window_max: most samples kept for fine-tuning.
        seconds_per_step: simulated compute time of one optimisation step [s].
        log: where the UE appends one dict per report and per fine-tune.
        report_crc: the CRC each report carries (``uplink.report_crc``: ``"none"``, ``"nr"`` or a generator
            of :mod:`simnet.coding.crc`); its bits go into the report's uplink packet.
        batcher: the run's :class:`~simnet.sim.finetune_batch.FinetuneBatcher` (``ues.batch_finetunes``): a
            fine-tune it can batch is submitted when it starts and computed, with the other UEs' pending ones,
            when its compute time is over; None: every fine-tune runs alone when it starts.
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
        rng: np.random.Generator,
        window_max: int,
        seconds_per_step: float,
        log: dict[str, list[dict[str, Any]]],
        report_crc: str = "none",
        batcher: FinetuneBatcher | None = None,
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
        self.rng = rng
        self.window_max = window_max
        self.seconds_per_step = seconds_per_step
        self.log = log
        self.report_crc = report_crc
        self.batcher = batcher
        self.busy = False
        self.window_start = 0
        self.encoded = EncodeAhead(h, range(0, len(samples), report_every))
        self.process = env.process(self.run(env))

    def run(self, env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        report_idx = range(0, len(self.samples), self.report_every)
        for k, i in enumerate(report_idx):
            yield env.timeout(max(0.0, float(self.samples.t_s[i]) - env.now))
            self._report(env, k, i)

    def _report(self, env: simpy.Environment, k: int, i: int) -> None:
        stream, h_ue, ahead = self.encoded.report(self.codec, k)  # report k = sample i, encoded ahead in a batch
        nmse_db = float(to_db(nmse(self.h[i], h_ue)))
        meta = {"report": k, "sample": i, "version": self.version, "t_measure_s": env.now, "ahead": ahead}
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
        procedure = self.batcher.procedure(self.policy, self.codec) if self.batcher is not None else None
        if procedure is not None and self.batcher is not None:
            request = self.batcher.submit(self.policy, procedure, self.codec, window, self.rng)
            yield env.timeout(request.num_steps * self.seconds_per_step)
            result = self.batcher.result(request)
        else:
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
        else:
            payload = self._update_payload(result, delivery)
            update = self._model_update(result, delivery)
            self.uplink.send(Packet(ue=self.index, kind="update", payload=payload, update=update))
            yield update.installed
            self._switch(result.codec, update.version)

    def _update_payload(self, result: UpdateResult, delivery: str) -> bytes:
        """The bytes that go on the air: none for the genie, the policy's payload otherwise."""
        if delivery == "free":
            return b""
        if result.payload is None:
            raise AssertionError(f"policy {self.policy.name!r} delivers over the uplink but sent no payload")
        return result.payload

    def _model_update(self, result: UpdateResult, delivery: str) -> ModelUpdate:
        """The BS-side half of ``result``: the policy's apply step, bound to the UE's model for the genie only."""
        # Over the uplink the BS rebuilds the decoder from its own codec and the delivered payload alone.
        ue_codec = result.codec if delivery == "free" else None
        return ModelUpdate(
            version=self.version + 1,
            apply=partial(_apply_update, self.policy, ue_codec),
            fingerprint=decoder_fingerprint(result.codec),
            installed=self.env.event(),
        )

    def _switch(self, codec: Any, version: int) -> None:
        self.codec = codec
        self.version = version
        self.busy = False


def _apply_update(policy: Policy, ue_codec: Any, bs_codec: Any, payload: bytes | None) -> Any:
    return policy.apply_update(bs_codec, payload, ue_codec)
