"""The SimPy engine: exact report/update timelines on a slow shared uplink, versions that always agree."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np
import pytest

from policies import POLICIES
from policies.base import Observation, UpdateResult
from simnet.codecs.raw import RawCodec
from simnet.config import PolicySpec, load_scenario
from simnet.sim.engine import run_variant
from simnet.sim.mobility import Trajectory
from simnet.sim.world import World
from tests.paths import TINY

RATE_BPS = 1.0e5
CSI_BITS = 8 * (2 + 4 + 2 * 2 * 4 * 8)  # raw codec, 4 antennas x 8 subcarriers
UPDATE_BITS = 160_000


class BigUpdate:
    """Sends one 20 kB update right after UE 0's second report (no compute time)."""

    name: ClassVar[str] = "big-update"
    delivery: ClassVar[str] = "uplink"

    def reset(self, rng: np.random.Generator) -> None:
        self.done = False

    def should_update(self, obs: Observation) -> bool:
        return obs.report_index == 1 and obs.t_s < 1.0 and not self.done  # UE 0 only

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        self.done = True
        return UpdateResult(codec=copy.deepcopy(codec), payload=bytes(UPDATE_BITS // 8), num_steps=0)

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        assert ue_codec is None and payload is not None and len(payload) == UPDATE_BITS // 8
        return copy.deepcopy(bs_codec)


def _world(discipline: str = "fifo") -> World:
    sc = load_scenario(TINY)
    sc = type(sc)(**{**sc.__dict__, "uplink": type(sc.uplink)(rate_bps=RATE_BPS, discipline=discipline)})
    rng = np.random.default_rng(0)
    samples, h = [], []
    for u in range(2):
        tr = Trajectory(np.array([[0.0, 10.0 * u, 1.5], [6.0, 10.0 * u, 1.5]]), 1.4, t0_s=u * (1.0 / 1.4) / 2)
        smp = tr.sample(0.5)
        samples.append(smp)
        shape = (len(smp), 4, 8)
        h.append((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64))
    seeds = np.random.SeedSequence(0).spawn(2)
    return World(sc, samples, h, RawCodec(4, 8), 2, seeds, {"source": "test"}, {"type": "raw"})


@pytest.fixture
def big_update(monkeypatch):
    monkeypatch.setitem(POLICIES._items, "big-update", BigUpdate)
    return PolicySpec(label="big", type="big-update")


class Declines:
    """UE 0 fine-tunes at its reports 1 and 3 (3 steps each) and declines the first: nothing may be sent."""

    name: ClassVar[str] = "declines"
    delivery: ClassVar[str] = "uplink"

    def reset(self, rng: np.random.Generator) -> None:
        self.windows: list[int] = []

    def should_update(self, obs: Observation) -> bool:
        if obs.report_index == 0:
            self.ue0 = obs.t_s == 0.0  # UE 1 starts half a report period later
        return self.ue0 and obs.report_index in (1, 3)

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        self.windows.append(len(h_window))
        if len(self.windows) == 1:  # a codec the UE must never use: adopting it would crash the next report
            return UpdateResult(codec=None, payload=None, num_steps=3, info={"n": 1.0}, declined=True)
        return UpdateResult(codec=copy.deepcopy(codec), payload=bytes(100), num_steps=3)

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        assert payload == bytes(100)
        return copy.deepcopy(bs_codec)


def test_declined_update_spends_compute_sends_nothing_and_keeps_model_and_window(monkeypatch):
    made: list[Declines] = []
    monkeypatch.setitem(POLICIES._items, "declines", lambda **kw: made.append(Declines(**kw)) or made[-1])
    world = _world("fifo")
    rec = run_variant(world, PolicySpec(label="declines", type="declines"))
    steps_s = 3 * world.scenario.ues.seconds_per_step
    first, second = sorted((f for f in rec["finetunes"] if f["ue"] == 0), key=lambda f: f["t_start_s"])
    assert (first["declined"], first["update_bits"], first["info_n"]) == (True, 0, 1.0)
    assert (second["declined"], second["update_bits"]) == (False, 800)
    assert first["t_done_s"] - first["t_start_s"] == pytest.approx(steps_s, abs=1e-12)
    updates = [p for p in rec["packets"] if p["kind"] == "update"]
    assert len(updates) == 1 and updates[0]["t_enqueue_s"] == pytest.approx(second["t_done_s"], abs=1e-12)
    for r in rec["reports"]:  # version 1 only after the one update that was sent
        assert r["version"] == (1 if r["ue"] == 0 and r["t_measure_s"] >= updates[0]["t_deliver_s"] else 0)
    # the declined fine-tune did not use up its samples: the second window starts at sample 0 (report 3 = sample 6)
    ue0 = next(p for p in made if getattr(p, "windows", None))  # the first one only checked the keywords
    assert ue0.windows == [3, 7]


def test_declined_result_cannot_carry_a_payload():
    with pytest.raises(ValueError, match="declined"):
        UpdateResult(codec=None, payload=b"x", num_steps=1, declined=True)


def test_large_update_makes_the_other_ues_csi_stale_exact_timeline(big_update):
    rec = run_variant(_world("fifo"), big_update)
    pk = {(p["ue"], p["kind"], p["seq"]): p for p in rec["packets"]}
    csi_s, upd_s = CSI_BITS / RATE_BPS, UPDATE_BITS / RATE_BPS
    t_rep = 1.0 / 1.4  # report period: 1 m at 1.4 m/s
    # UE 0, report 1 at t_rep, then its update right behind it.
    ue0_r1 = next(p for p in rec["packets"] if p["ue"] == 0 and p["kind"] == "csi" and p["t_enqueue_s"] == t_rep)
    upd = next(p for p in rec["packets"] if p["kind"] == "update")
    assert ue0_r1["t_deliver_s"] == pytest.approx(t_rep + csi_s, abs=1e-12)
    assert upd["t_start_s"] == pytest.approx(t_rep + csi_s, abs=1e-12)
    assert upd["t_deliver_s"] == pytest.approx(t_rep + csi_s + upd_s, abs=1e-12)
    # UE 1 reports at t_rep/2 + k t_rep; its report 1 (t = 1.5 t_rep) waits for the whole update.
    ue1 = sorted((p for p in rec["packets"] if p["ue"] == 1 and p["kind"] == "csi"), key=lambda p: p["seq"])
    assert ue1[0]["t_deliver_s"] == pytest.approx(0.5 * t_rep + csi_s, abs=1e-12)
    assert ue1[1]["t_enqueue_s"] == pytest.approx(1.5 * t_rep, abs=1e-12)
    assert ue1[1]["t_deliver_s"] == pytest.approx(t_rep + 2 * csi_s + upd_s, abs=1e-12)
    ages = [r["t_deliver_s"] - r["t_measure_s"] for r in sorted(rec["reports"], key=lambda r: r["t_measure_s"])
            if r["ue"] == 1]
    assert ages[0] == pytest.approx(csi_s, abs=1e-12)
    assert ages[1] == pytest.approx(t_rep + 2 * csi_s + upd_s - 1.5 * t_rep, abs=1e-12)
    assert ages[1] > 100 * ages[0]
    assert len(pk) == len(rec["packets"])


def test_versions_agree_and_switch_only_after_delivery(big_update):
    rec = run_variant(_world("fifo"), big_update)
    upd = next(p for p in rec["packets"] if p["kind"] == "update")
    for p in rec["packets"]:
        if p["ue"] == 0 and p["kind"] == "csi":
            assert p["version"] == (1 if p["t_enqueue_s"] >= upd["t_deliver_s"] else 0)
    for r in rec["reports"]:
        assert r["version"] == (1 if r["ue"] == 0 and r["t_measure_s"] >= upd["t_deliver_s"] else 0)


def test_csi_first_lets_reports_overtake_a_queued_update(big_update):
    rec = run_variant(_world("csi-first"), big_update)
    upd = next(p for p in rec["packets"] if p["kind"] == "update")
    # the update could only start after UE 0's report; under csi-first it still starts then (link idle),
    # but no CSI report that arrives while it waits would be held. Here it starts at once:
    assert upd["t_start_s"] == pytest.approx(1.0 / 1.4 + CSI_BITS / RATE_BPS, abs=1e-12)


def test_slot_scores_use_channel_at_time_of_use():
    rec = run_variant(_world(), PolicySpec(label="never", type="never"))
    assert rec["slots"], "no downlink slot was scored"
    for s in rec["slots"]:
        assert s["age_s"] >= 0
    # raw codec (float16) is near-lossless on the measured channel, but i.i.d. channels decorrelate
    # between samples, so NMSE at time of use is large whenever the slot is not at the measured sample.
    nm = [r["nmse_report"] for r in rec["reports"]]
    assert max(nm) < 1e-5
    assert np.mean([s["nmse"] for s in rec["slots"]]) > 0.1


class FreeUpdate(BigUpdate):
    """The genie: UE 0's update after its second report reaches the BS at no cost (2 steps of compute)."""

    name: ClassVar[str] = "free-update"
    delivery: ClassVar[str] = "free"

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        self.done = True
        return UpdateResult(codec=copy.deepcopy(codec), payload=None, num_steps=2)

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        assert payload is None and ue_codec is not None
        return copy.deepcopy(bs_codec)


def test_genie_update_takes_no_airtime_and_switches_when_the_compute_is_done(monkeypatch):
    monkeypatch.setitem(POLICIES._items, "free-update", FreeUpdate)
    world = _world("fifo")
    rec = run_variant(world, PolicySpec(label="free", type="free-update"))
    (ft,) = rec["finetunes"]
    assert ft["t_done_s"] == pytest.approx(1.0 / 1.4 + 2 * world.scenario.ues.seconds_per_step, abs=1e-12)
    assert {p["kind"] for p in rec["packets"]} == {"csi"}
    for p in rec["packets"]:
        assert p["version"] == (1 if p["ue"] == 0 and p["t_enqueue_s"] >= ft["t_done_s"] else 0)
    assert any(p["version"] == 1 for p in rec["packets"])


def test_batched_scores_equal_scores_of_each_report_and_slot_alone(monkeypatch):
    """The BS scores in batches; every row equals the score computed for its report or slot alone."""
    from simnet.sim import bs as bs_module
    from simnet.sim.beamforming import cosine_similarity, nmse, sgcs

    world = _world()
    rec = run_variant(world, PolicySpec(label="never", type="never"))
    monkeypatch.setattr(bs_module, "CHUNK_CHANNELS", 1)  # one sample per numpy call, flushed at once
    monkeypatch.setattr(bs_module, "PENDING_CHANNELS", 1)
    alone = run_variant(world, PolicySpec(label="never", type="never"))
    assert [r["ue"] for r in rec["slots"]] == [r["ue"] for r in alone["slots"]]
    for key in ("slots", "reports"):
        assert len(rec[key]) == len(alone[key]) > 0
        for a, b in zip(rec[key], alone[key], strict=True):
            assert a.keys() == b.keys()
            np.testing.assert_allclose([a[k] for k in a if isinstance(a[k], float)],
                                       [b[k] for k in b if isinstance(b[k], float)], rtol=1e-6, atol=1e-7)
    codec = world.codec
    for r in rec["reports"]:  # against the definitions, on the report's own channel and reconstruction
        h = world.h[r["ue"]][r["sample"]]
        h_hat = codec.decompress(codec.compress(h[None]))[0]
        np.testing.assert_allclose([r["nmse_report"], r["cosine_sim"], r["sgcs_report"]],
                                   [nmse(h, h_hat), cosine_similarity(h, h_hat), sgcs(h, h_hat)], rtol=1e-5)
    both = [s for s in rec["slots"] if s["num_served"] == 2]
    assert both, "no slot served both UEs"
    assert all(s["se_zf_bps_hz"] != s["se_mrt_bps_hz"] for s in both)


def test_zf_over_leading_dimensions_equals_each_problem_alone():
    from simnet.sim.beamforming import zf_se

    rng = np.random.default_rng(1)
    h, g = (rng.standard_normal((2, 5, 3, 8, 6)) + 1j * rng.standard_normal((2, 5, 3, 8, 6)) for _ in range(2))
    batched = zf_se(h, g, 10.0)
    assert batched.shape == (2, 5, 3)
    assert np.array_equal(batched, np.stack([[zf_se(h[a, b], g[a, b], 10.0) for b in range(5)] for a in range(2)]))


def _world_served(max_served: int | None, num_ues: int = 3) -> World:
    """``num_ues`` UEs (staggered starts) on the tiny world, at most ``max_served`` per downlink slot."""
    world = _world()
    sc = world.scenario
    sc = type(sc)(**{**sc.__dict__, "downlink": type(sc.downlink)(slot_period_s=sc.downlink.slot_period_s,
                                                                  max_served_per_slot=max_served)})
    rng = np.random.default_rng(2)
    samples, h = [], []
    for u in range(num_ues):
        tr = Trajectory(np.array([[0.0, 10.0 * u, 1.5], [6.0, 10.0 * u, 1.5]]), 1.4, t0_s=u * 0.2)
        samples.append(tr.sample(0.5))
        shape = (len(samples[-1]), 4, 8)
        h.append((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64))
    return World(sc, samples, h, RawCodec(4, 8), 2, np.random.SeedSequence(0).spawn(num_ues), {"source": "test"},
                 {"type": "raw"})


def test_max_served_per_slot_serves_round_robin_and_zf_over_the_served_only():
    rec = run_variant(_world_served(2), PolicySpec(label="never", type="never"))
    slots: dict[float, list[dict[str, Any]]] = {}
    for s in rec["slots"]:
        slots.setdefault(s["t_s"], []).append(s)
    assert max(len(v) for v in slots.values()) == 2
    assert all(s["num_served"] == len(v) for v in slots.values() for s in v)
    served_when_all_three = [tuple(s["ue"] for s in v) for v in slots.values()
                             if len(v) == 2 and min(s["t_s"] for s in v) > 1.0]
    # three UEs holding CSI and two layers: three slots in a row serve the three different pairs
    cycle = served_when_all_three[:3]
    assert len(set(cycle)) == 3, cycle
    counts = np.bincount([u for pair in served_when_all_three for u in pair], minlength=3)
    assert counts.max() - counts.min() <= 1
    # one layer: ZF is MRT, and every UE with CSI is served in turn
    one = run_variant(_world_served(1), PolicySpec(label="never", type="never"))
    assert all(s["num_served"] == 1 and s["se_zf_bps_hz"] == s["se_mrt_bps_hz"] for s in one["slots"])
    assert {s["ue"] for s in one["slots"]} == {0, 1, 2}


def test_max_served_at_least_the_users_changes_nothing():
    unbounded = run_variant(_world_served(None), PolicySpec(label="never", type="never"))
    bounded = run_variant(_world_served(3), PolicySpec(label="never", type="never"))
    assert unbounded["slots"] == bounded["slots"] and unbounded["reports"] == bounded["reports"]
