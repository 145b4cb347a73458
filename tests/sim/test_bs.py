"""The BS's receiving processes: exact timelines of update installation, decoder versions kept and dropped."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import simpy

from simnet.codecs.fingerprint import decoder_fingerprint
from simnet.codecs.raw import RawCodec
from simnet.sim.bs import BaseStation
from simnet.sim.mobility import Trajectory
from simnet.sim.packets import ModelUpdate, Packet
from simnet.sim.uplink import Uplink


def _world():
    env = simpy.Environment()
    link = Uplink(env, 1000.0, "fifo")
    rng = np.random.default_rng(0)
    samples, h = [], []
    for u in range(2):
        smp = Trajectory(np.array([[0.0, 10.0 * u, 1.5], [6.0, 10.0 * u, 1.5]]), 1.4).sample(0.5)
        samples.append(smp)
        shape = (len(smp), 4, 8)
        h.append((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64))
    codec = RawCodec(4, 8)
    log: dict[str, list] = {"reports": [], "slots": []}
    bs = BaseStation(env, link.delivered["csi"], link.delivered["update"], [copy.deepcopy(codec) for _ in h],
                     samples, h, 10.0, 100.0, log)
    return env, link, bs, codec, h, log


def _update(env, codec, version, fingerprint=None):
    return ModelUpdate(version=version, apply=lambda bs_codec, payload: copy.deepcopy(bs_codec),
                       fingerprint=decoder_fingerprint(codec) if fingerprint is None else fingerprint,
                       installed=env.event())


def test_update_installed_event_fires_when_the_bs_holds_the_decoder_genie_at_once():
    env, link, bs, codec, _, _ = _world()
    log: list[tuple[str, int, float]] = []

    def ue(env, name, ue_index, t, nbytes):
        yield env.timeout(t)
        update = _update(env, codec, 1)
        link.send(Packet(ue=ue_index, kind="update", payload=bytes(nbytes), update=update))
        version = yield update.installed
        log.append((name, version, env.now))

    env.process(ue(env, "uplink", 0, 0.0, 125))  # 1000 bits at 1000 bit/s
    env.process(ue(env, "genie", 1, 0.5, 0))  # zero bits: installed at once, not behind the 1-s update
    env.run()
    assert log == [("genie", 1, 0.5), ("uplink", 1, 1.0)]
    assert sorted(bs.decoders[0]) == sorted(bs.decoders[1]) == [0, 1]


def test_the_apply_step_gets_the_delivered_payload_and_none_for_the_genie():
    env, link, _, codec, _, _ = _world()
    seen: list[bytes | None] = []

    def apply(bs_codec, payload):
        seen.append(payload)
        return copy.deepcopy(bs_codec)

    for ue, payload in ((0, b"\x01\x02"), (1, b"")):
        update = ModelUpdate(version=1, apply=apply, fingerprint=decoder_fingerprint(codec), installed=env.event())
        link.send(Packet(ue=ue, kind="update", payload=payload, update=update))
    env.run()
    assert seen == [None, b"\x01\x02"]


def test_a_report_of_the_new_version_drops_the_old_decoder():
    env, link, bs, codec, h, log = _world()

    def ue(env):
        update = _update(env, codec, 1)
        link.send(Packet(ue=0, kind="update", payload=b"", update=update))
        yield update.installed
        assert sorted(bs.decoders[0]) == [0, 1]  # a version-0 report could still be on the air
        streams, _ = codec.compress_with_reconstruction(h[0][:1])
        meta = {"report": 0, "sample": 0, "version": 1, "t_measure_s": env.now}
        link.send(Packet(ue=0, kind="csi", payload=streams[0], meta=meta))

    env.process(ue(env))
    env.run()
    assert [(r["ue"], r["version"]) for r in log["reports"]] == [(0, 1)]
    assert sorted(bs.decoders[0]) == [1] and sorted(bs.decoders[1]) == [0]


def test_a_decoder_that_differs_from_the_ues_is_an_error():
    env, link, _, codec, _, _ = _world()
    link.send(Packet(ue=0, kind="update", payload=b"\x00", update=_update(env, codec, 1, fingerprint=b"other")))
    with pytest.raises(AssertionError, match="differs from the UE's"):
        env.run()
