"""Model-update coding: exact round trips, corruption detection, prior behaviour (simnet/coding/updates.py)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from simnet.coding.updates import (
    UpdateCoding,
    apply_update,
    bin_mass,
    decode_update,
    decoder_state,
    encode_update,
    pmf,
    quantize_indices,
    quantize_ste,
    rate_bits,
)
from simnet.errors import ConfigError, DataError


class ToyCodec(nn.Module):
    """Tiny dense codec with the codec interface's training side (enough for update coding)."""

    def __init__(self, num_bs_ant: int = 4, num_subcarriers: int = 4, num_latent: int = 6) -> None:
        super().__init__()
        self.num_bs_ant, self.num_subcarriers = num_bs_ant, num_subcarriers
        dim = 2 * num_bs_ant * num_subcarriers
        self.enc = nn.Linear(dim, num_latent)
        self.dec = nn.Linear(num_latent, dim)
        self.log_scale = nn.Parameter(torch.zeros(num_latent))
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))

    def forward(self, h: torch.Tensor) -> dict:
        y = self.enc(torch.view_as_real(h).flatten(1))
        y_hat = y + (torch.round(y) - y).detach()
        normal = torch.distributions.Normal(0.0, torch.exp(self.log_scale))
        lik = normal.cdf(y_hat + 0.5) - normal.cdf(y_hat - 0.5)
        h_hat = torch.view_as_complex(self.dec(y_hat).view(-1, self.num_bs_ant, self.num_subcarriers, 2))
        return {"h_hat": h_hat, "likelihoods": {"y": lik}}

    def decoder_parameter_names(self) -> list[str]:
        return ["dec.weight", "dec.bias", "log_scale"]


def perturbed(codec: ToyCodec, scale: float, frac: float, seed: int) -> ToyCodec:
    """A copy with ``frac`` of the decoder-side entries moved by N(0, scale) (a sparse delta)."""
    gen = torch.Generator().manual_seed(seed)
    new = copy.deepcopy(codec)
    params = dict(new.named_parameters())
    with torch.no_grad():
        for name in new.decoder_parameter_names():
            p = params[name]
            mask = torch.rand(p.shape, generator=gen) < frac
            p.add_(mask * scale * torch.randn(p.shape, generator=gen))
    return new


def test_round_trip_is_bit_exact() -> None:
    bs = ToyCodec()
    ue = perturbed(bs, 0.02, 0.3, seed=1)
    coding = UpdateCoding(num_bins=64, t=0.005)
    enc = encode_update(ue, bs, coding)
    new_bs = apply_update(bs, enc.payload)
    ue_state, bs_state = decoder_state(ue), decoder_state(new_bs)
    for name in ue_state:
        assert torch.equal(ue_state[name], bs_state[name]), name
    assert enc.bits == 8 * len(enc.payload)
    assert 0 < enc.num_nonzero < enc.num_params
    # the range coder is close to the ideal code length (header + crc are 32 bytes)
    assert enc.bits - 8 * 32 <= enc.estimated_bits + 64
    # the BS's encoder-side parameters are untouched, the original BS codec too
    assert torch.equal(new_bs.enc.weight, bs.enc.weight)
    assert not torch.equal(new_bs.dec.weight, bs.dec.weight)


def test_commit_applies_quantized_delta_to_ue() -> None:
    bs = ToyCodec()
    ue = perturbed(bs, 0.02, 1.0, seed=2)
    coding = UpdateCoding(num_bins=8, t=0.01)
    before = decoder_state(ue)
    encode_update(ue, bs, coding)
    after = decoder_state(ue)
    base = decoder_state(bs)
    for name in after:
        q = torch.round((after[name] - base[name]) / coding.t)
        assert torch.all(q >= coding.q_min) and torch.all(q <= coding.q_max)
        # within half a bin of the continuous value, except where clipped
        inside = (before[name] - base[name]).abs() < 3 * coding.t
        assert torch.all((after[name] - before[name]).abs()[inside] <= coding.t / 2 + 1e-6)


def test_decode_against_plain_state_dict() -> None:
    bs = ToyCodec()
    ue = perturbed(bs, 0.05, 0.5, seed=3)
    enc = encode_update(ue, decoder_state(bs), UpdateCoding(prior="gaussian"))
    values = decode_update(enc.payload, decoder_state(bs))
    assert all(torch.equal(values[k], v) for k, v in decoder_state(ue).items())


@pytest.mark.parametrize("where", [0, 5, 20, -3, -1])
def test_corrupt_payload_raises_data_error(where: int) -> None:
    bs = ToyCodec()
    payload = bytearray(encode_update(perturbed(bs, 0.02, 0.3, seed=4), bs, UpdateCoding()).payload)
    payload[where] ^= 0x10
    with pytest.raises(DataError):
        apply_update(bs, bytes(payload))


def test_truncated_and_mismatched_payloads_raise_data_error() -> None:
    bs = ToyCodec()
    payload = encode_update(perturbed(bs, 0.02, 0.3, seed=5), bs, UpdateCoding()).payload
    with pytest.raises(DataError):
        apply_update(bs, payload[:-5])
    with pytest.raises(DataError, match="layout"):
        apply_update(ToyCodec(num_latent=7), payload)
    with pytest.raises(DataError, match="version"):
        apply_update(perturbed(bs, 0.1, 1.0, seed=6), payload)


def test_spike_and_slab_codes_sparse_delta_far_cheaper_than_uniform() -> None:
    bs = ToyCodec(num_bs_ant=8, num_subcarriers=8, num_latent=32)
    ue = perturbed(bs, 0.03, 0.05, seed=7)
    ss = encode_update(ue, bs, UpdateCoding(prior="spike-and-slab"), commit=False)
    uni = encode_update(ue, bs, UpdateCoding(prior="uniform"), commit=False)
    gauss = encode_update(ue, bs, UpdateCoding(prior="gaussian"), commit=False)
    assert ss.num_nonzero == uni.num_nonzero > 0
    assert uni.bits > 5 * ss.bits
    assert gauss.bits > 2 * ss.bits
    # the uniform prior spends log2(num_bins) bits on every parameter
    assert abs(uni.estimated_bits - uni.num_params * math.log2(64)) < 1e-6 * uni.num_params


def test_pmf_matches_bin_mass_and_spike_mass() -> None:
    coding = UpdateCoding(num_bins=16, t=0.01, alpha=1000.0, sigma_slab=0.05)
    p = pmf(coding)
    assert p.shape == (16,) and abs(p.sum() - 1.0) < 1e-12
    centres = torch.arange(coding.q_min, coding.q_max + 1, dtype=torch.float64) * coding.t
    np.testing.assert_allclose(bin_mass(centres, coding).numpy(), p, rtol=1e-9, atol=1e-15)
    # spike std t/6: ~99.7 % of the spike's mass in the zero bin -> P(q=0) ~ alpha/(1+alpha)
    assert p[-coding.q_min] > 0.99
    assert np.argmax(p) == -coding.q_min


def test_quantizer_ste_and_rate_gradient() -> None:
    coding = UpdateCoding(num_bins=4, t=0.1)
    delta = torch.tensor([-1.0, -0.14, 0.04, 0.06, 0.26], requires_grad=True)
    assert quantize_indices(delta, coding).tolist() == [-2, -1, 0, 1, 1]
    out = quantize_ste(delta, coding)
    assert torch.allclose(out, torch.tensor([-0.2, -0.1, 0.0, 0.1, 0.1]))
    out.sum().backward()
    assert delta.grad is not None and delta.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    d = torch.tensor([0.003, -0.02], requires_grad=True)
    rate_bits([d], UpdateCoding()).backward()
    # the prior pulls the update towards zero
    assert d.grad is not None and d.grad[0] > 0 and d.grad[1] < 0


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [({"prior": "laplace"}, "prior"), ({"num_bins": 1}, "num_bins"), ({"num_bins": 300}, "num_bins"),
     ({"t": 0.0}, "t"), ({"alpha": -1.0}, "alpha"), ({"sigma_slab": 0.0001}, "sigma_slab")],
)
def test_bad_coding_raises_config_error(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        UpdateCoding(**kwargs)


@pytest.mark.parametrize("num_bins", [2, 3, 64, 256])
def test_round_trip_over_bin_counts(num_bins: int) -> None:
    bs = ToyCodec()
    ue = perturbed(bs, 0.5, 1.0, seed=8)  # large delta: many clipped values
    enc = encode_update(ue, bs, UpdateCoding(num_bins=num_bins, t=0.01))
    new_bs = apply_update(bs, enc.payload)
    assert all(torch.equal(a, b) for a, b in zip(decoder_state(ue).values(), decoder_state(new_bs).values()))
