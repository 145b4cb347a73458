"""A tiny cell: CSI-RS timing in time, per-UE speeds, and LS channel estimation at the UE (true channels scored)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from simnet.config import PolicySpec, load_scenario
from simnet.sim import engine
from simnet.sim.beamforming import nmse
from simnet.sim.engine import run_variant
from simnet.sim.uplink import Uplink
from simnet.sim.world import World, build_world, ls_estimate
from tests.paths import TINY_CELL

NEVER = PolicySpec(label="never", type="never")


@pytest.fixture(scope="module")
def worlds() -> dict[str, World]:
    noisy = load_scenario(TINY_CELL)
    clean = load_scenario(TINY_CELL, overrides={"ues": {"estimation_snr_db": None}})
    return {"noisy": build_world(noisy), "clean": build_world(clean)}


def _run_capturing(world: World, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], dict[tuple[int, int],
                                                                                                   bytes]]:
    """``run_variant`` with the never policy, and every CSI payload by (UE, sample) as the UE sent it."""
    sent: dict[tuple[int, int], bytes] = {}
    send = Uplink.send

    def spy(self: Uplink, packet: Any) -> None:
        if packet.kind == "csi":
            sent[(packet.ue, packet.meta["sample"])] = packet.payload
        send(self, packet)

    monkeypatch.setattr(engine.Uplink, "send", spy)
    return run_variant(world, NEVER), sent


def test_reports_come_every_report_period_and_users_of_other_speeds_cover_other_distances(worlds):
    world = worlds["clean"]
    assert [s.spacing_m for s in world.samples] == pytest.approx([0.14, 0.5], abs=1e-12)
    assert [len(s) for s in world.samples] == [31, 31]  # 3 s of CSI-RS occasions every 100 ms
    rec = run_variant(world, NEVER)
    for u, speed in enumerate((1.4, 5.0)):
        rows = sorted((r for r in rec["reports"] if r["ue"] == u), key=lambda r: r["t_measure_s"])
        t = np.array([r["t_measure_s"] for r in rows])
        d = np.array([r["distance_m"] for r in rows])
        assert len(rows) == 16
        np.testing.assert_allclose(np.diff(t), 0.2, atol=1e-9)  # report_period_ms = 200
        np.testing.assert_allclose(np.diff(d), 0.2 * speed, atol=1e-9)
        assert t[0] == pytest.approx(u * 0.1, abs=1e-12)  # staggered by half a report period


def test_without_noise_the_ue_encodes_the_true_channel(worlds, monkeypatch):
    world = worlds["clean"]
    assert world.h_measured is None
    _, sent = _run_capturing(world, monkeypatch)
    assert len(sent) == 32
    for (u, i), payload in sent.items():
        assert payload == world.codec.compress(world.h[u][i : i + 1])[0]


def test_noise_changes_what_the_ue_sees_not_the_truth_the_bs_is_scored_on(worlds, monkeypatch):
    noisy, clean = worlds["noisy"], worlds["clean"]
    assert noisy.h_measured is not None
    for u in range(2):  # the same true channels with and without estimation noise
        np.testing.assert_array_equal(noisy.h[u], clean.h[u])
        noise = noisy.h_measured[u] - noisy.h[u]
        snr_db = 10 * np.log10(np.mean(np.abs(noisy.h[u]) ** 2) / np.mean(np.abs(noise) ** 2))
        assert snr_db == pytest.approx(10.0, abs=0.6)  # 31 x 4 x 8 noise draws per UE
    rec, sent = _run_capturing(noisy, monkeypatch)
    for (u, i), payload in sent.items():
        assert payload == noisy.codec.compress(noisy.h_measured[u][i : i + 1])[0]
        assert payload != noisy.codec.compress(noisy.h[u][i : i + 1])[0]
    for r in rec["reports"]:  # the BS scores the decoded report against the true channel it measured
        h_hat = noisy.codec.decompress([sent[(r["ue"], r["sample"])]])[0]
        assert r["nmse_report"] == pytest.approx(float(nmse(noisy.h[r["ue"]][r["sample"]], h_hat)), rel=1e-6)
    # near-lossless raw codec: what remains is the estimation error, -10 dB of the UE's mean channel power
    for u in range(2):
        keys = [k for k in sent if k[0] == u]
        h_hat = noisy.codec.decompress([sent[k] for k in keys])
        h_true = noisy.h[u][[i for _, i in keys]]
        err_db = 10 * np.log10(np.sum(np.abs(h_hat - h_true) ** 2) / np.sum(np.abs(h_true) ** 2))
        assert err_db == pytest.approx(-10.0, abs=1.0)
    again, _ = _run_capturing(noisy, monkeypatch)
    assert again["reports"] == rec["reports"]  # seeded per UE: the same estimates every run


def test_ls_estimate_noise_power_follows_the_snr():
    h = np.ones((50, 4, 8), dtype=np.complex64) * 2.0
    est = ls_estimate(h, 20.0, np.random.default_rng(0))
    assert est.dtype == np.complex64 and est.shape == h.shape
    assert np.mean(np.abs(est - h) ** 2) == pytest.approx(4.0 / 100.0, rel=0.1)
    np.testing.assert_array_equal(est, ls_estimate(h, 20.0, np.random.default_rng(0)))
