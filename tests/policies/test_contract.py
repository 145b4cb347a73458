"""Registry contract tests over EVERY registered policy (policies/)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from policies import POLICIES, Observation, Policy
from simnet.coding.updates import decoder_state
from simnet.errors import ConfigError

FAST = {"steps": 4, "batch_size": 8}
"""Keywords that make each fine-tuning policy quick (never takes none)."""


class ToyCodec(nn.Module):
    """Tiny dense codec with a learned Gaussian latent prior (training side of the codec interface)."""

    def __init__(self) -> None:
        super().__init__()
        self.num_bs_ant, self.num_subcarriers = 4, 4
        self.enc = nn.Linear(32, 6)
        self.dec = nn.Linear(6, 32)
        self.log_scale = nn.Parameter(torch.ones(6))
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))

    def forward(self, h: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        y = self.enc(torch.view_as_real(h).flatten(1) / torch.view_as_real(h).flatten(1).norm(dim=1)[:, None])
        y_hat = y + torch.rand(y.shape, generator=generator) - 0.5
        normal = torch.distributions.Normal(0.0, torch.exp(self.log_scale))
        lik = normal.cdf(y_hat + 0.5) - normal.cdf(y_hat - 0.5)
        return {"h_hat": torch.view_as_complex(self.dec(y_hat).view(-1, 4, 4, 2)), "likelihoods": {"y": lik}}

    def decoder_parameter_names(self) -> list[str]:
        return ["dec.weight", "dec.bias", "log_scale"]


def make(name: str, **kwargs: Any) -> Policy:
    extra = {} if name == "never" else FAST
    policy = POLICIES.make(name, **{**extra, **kwargs})
    assert isinstance(policy, Policy)
    return policy


def walk(length_m: float, step_m: float = 0.5, seed: int = 0) -> list[Observation]:
    """Observations of a UE on a straight track, one every ``step_m``; its NMSE drifts up along it."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(int(round(length_m / step_m)) + 1):
        d = k * step_m
        out.append(
            Observation(
                t_s=d / 1.4,
                distance_m=d,
                report_index=k,
                nmse_db=-15 + 0.2 * d + rng.normal(0, 0.3),
                latent_bits=int(400 + 4 * d),
                num_window=k + 1,
                busy=False,
            )
        )
    return out


def decisions(policy: Policy, obs: list[Observation], seed: int) -> list[int]:
    policy.reset(np.random.default_rng(seed))
    return [i for i, o in enumerate(obs) if policy.should_update(o)]


def csi(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((12, 4, 4)) + 1j * rng.standard_normal((12, 4, 4))).astype(np.complex64)


@pytest.mark.parametrize("name", POLICIES.names())
def test_deterministic_with_fixed_seed(name: str) -> None:
    obs = walk(60.0)
    a, b = decisions(make(name), obs, 3), decisions(make(name), obs, 3)
    assert a == b
    if not a:
        assert name == "never"
        return
    results = []
    for _ in range(2):
        policy = make(name)
        res = policy.update(ToyCodec(), csi(1), np.random.default_rng(7))
        bs = policy.apply_update(ToyCodec(), res.payload, res.codec)
        results.append((res, bs))
    (r1, bs1), (r2, bs2) = results
    assert r1.payload == r2.payload and r1.num_steps == r2.num_steps == FAST["steps"]
    for k, v in decoder_state(r1.codec).items():
        assert torch.equal(v, decoder_state(r2.codec)[k])
        # what the BS rebuilt equals what the UE holds, bit for bit
        assert torch.equal(v, decoder_state(bs1)[k])
    assert decoder_state(bs1).keys() == decoder_state(bs2).keys()


@pytest.mark.parametrize("name", POLICIES.names())
def test_delivery_matches_payload(name: str) -> None:
    policy = make(name)
    assert policy.delivery in ("uplink", "free", "local")
    if name == "never":
        return
    res = policy.update(ToyCodec(), csi(2), np.random.default_rng(0))
    if policy.delivery == "uplink":
        assert res.payload is not None and res.update_bits == 8 * len(res.payload) > 0
    else:
        assert res.payload is None and res.update_bits == 0
    if policy.delivery == "local":
        # nothing travels, so the decoder must not have changed
        assert all(
            torch.equal(a, b)
            for a, b in zip(decoder_state(ToyCodec()).values(), decoder_state(res.codec).values())
        )


def test_never_never_updates() -> None:
    policy = make("never")
    obs = walk(200.0) + [Observation(300.0, 500.0, 999, 10.0, 10_000, 1, False)]
    assert decisions(policy, obs, 0) == []


@pytest.mark.parametrize("name", ["periodic", "genie", "translation", "encoder-only"])
@pytest.mark.parametrize(("length_m", "interval_m"), [(50.0, 10.0), (47.5, 4.0), (30.0, 7.3), (3.0, 5.0)])
def test_distance_policies_fire_floor_distance_over_interval(
    name: str, length_m: float, interval_m: float
) -> None:
    fired = decisions(make(name, interval_m=interval_m), walk(length_m), 0)
    assert len(fired) == math.floor(length_m / interval_m)


def test_periodic_waits_while_busy_then_fires_once() -> None:
    policy = make("periodic", interval_m=2.0)
    obs = walk(10.0)
    busy = [
        Observation(
            o.t_s,
            o.distance_m,
            o.report_index,
            o.nmse_db,
            o.latent_bits,
            o.num_window,
            busy=2.0 <= o.distance_m < 7.0,
        )
        for o in obs
    ]
    fired = [busy[i].distance_m for i in decisions(policy, busy, 0)]
    assert fired == [7.0, 8.0, 10.0]


def test_drift_fires_on_drift_with_spacing_and_hysteresis() -> None:
    policy = make(
        "drift", threshold_db=1.0, hysteresis_db=0.5, min_spacing_m=5.0, num_average=2, num_reference=2
    )
    flat = [Observation(k, 0.5 * k, k, -15.0, 400, k + 1, False) for k in range(10)]
    assert decisions(policy, flat, 0) == []
    # NMSE degrades 0.5 dB per report and no update is ever applied (never busy): fires once, stays disarmed
    ramp = [Observation(k, 0.5 * k, k, -15.0 + 0.5 * max(0, k - 4), 400, k + 1, False) for k in range(40)]
    assert len(decisions(policy, ramp, 0)) == 1
    # with an update landing after each firing (busy for 2 reports) it fires again, at least 5 m apart
    policy.reset(np.random.default_rng(0))
    fired: list[float] = []
    busy_until = -1
    for k in range(80):
        o = Observation(k, 0.5 * k, k, -15.0 + 0.5 * (k % 20), 400, k + 1, k <= busy_until)
        if policy.should_update(o):
            fired.append(o.distance_m)
            busy_until = k + 2
    assert len(fired) >= 2
    assert all(b - a >= 5.0 for a, b in zip(fired, fired[1:]))


def test_drift_rate_statistic_uses_latent_bits() -> None:
    policy = make(
        "drift", statistic="rate", threshold_db=1.0, min_spacing_m=0.0, num_average=1, num_reference=1
    )
    obs = [Observation(k, 0.5 * k, k, -15.0, 400 if k < 5 else 600, k + 1, False) for k in range(8)]
    assert decisions(policy, obs, 0) == [5]  # 10 log10(600/400) = 1.76 dB


BAD_KWARGS = [
    ("periodic", {"interval_m": 0}),
    ("periodic", {"interval_m": -3.0}),
    ("periodic", {"window_size": 0}),
    ("periodic", {"num_bins": 1}),
    ("periodic", {"num_bins": 257}),
    ("periodic", {"prior": "laplace"}),
    ("periodic", {"t": 0.0}),
    ("periodic", {"alpha": -1.0}),
    ("periodic", {"regularize": "no"}),
    ("periodic", {"lambda": -1.0}),
    ("periodic", {"steps": 0}),
    ("periodic", {"interval": 5.0}),
    ("drift", {"threshold_db": 0.0}),
    ("drift", {"hysteresis_db": 2.0, "threshold_db": 1.0}),
    ("drift", {"min_spacing_m": -1.0}),
    ("drift", {"statistic": "snr"}),
    ("drift", {"num_average": 0}),
    ("drift", {"beta": -0.5}),
    ("drift", {"check_fraction": 0.0}),
    ("drift", {"check_fraction": 1.0}),
    ("drift", {"min_check_samples": 0}),
    ("drift", {"payback_reports": 0}),
    ("genie", {"interval_m": "ten"}),
    ("genie", {"prior": "uniform"}),
    ("encoder-only", {"num_bins": 16}),
    ("encoder-only", {"interval_m": math.inf}),
    ("translation", {"num_channels": 0}),
    ("translation", {"sigma_slab": -1.0}),
]


@pytest.mark.parametrize(("name", "kwargs"), BAD_KWARGS)
def test_bad_kwargs_raise_config_error_naming_the_key(name: str, kwargs: dict) -> None:
    with pytest.raises(ConfigError) as err:
        POLICIES.make(name, **kwargs)
    assert list(kwargs)[0] in str(err.value) and "\n" not in str(err.value)


def test_every_policy_accepts_its_defaults_and_rejects_unknown_keys() -> None:
    for name in POLICIES.names():
        POLICIES.make(name)
        if name != "never":
            with pytest.raises(ConfigError, match="bogus"):
                POLICIES.make(name, bogus=1)
