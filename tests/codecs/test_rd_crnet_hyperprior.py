"""The scale hyperprior codec: portable scales, escapes, the Gaussian bin mass, its FLOPs and its training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch.utils.flop_counter import FlopCounterMode

from simnet.codecs import CODECS, RDCRNetHyperprior, rd_loss
from simnet.coding import gaussian_conditional as gc
from simnet.experiments.complexity import count_flops
from tests.codecs.conftest import few_path_channels


def _make(num_bs_ant: int = 8, num_subcarriers: int = 8, seed: int = 0) -> RDCRNetHyperprior:
    return CODECS.make("rd-crnet-hyperprior", num_bs_ant=num_bs_ant, num_subcarriers=num_subcarriers,
                       seed=seed).eval()


def test_scales_and_streams_do_not_depend_on_the_batch_or_the_thread_count() -> None:
    """The classic hyperprior trap: the decoder must derive the encoder's scales from z alone, bit for bit."""
    codec = _make(64, 64)
    h = few_path_channels(16, 64, 64, seed=4)
    _, q = codec.quantize(h)
    z_hat = codec._side_hat(q[:, : codec._num_side])
    index = codec._scale_index(z_hat)
    assert len(torch.unique(index)) > 4  # the scales really vary, so a disagreement would show
    torch.testing.assert_close(torch.cat([codec._scale_index(z_hat[i : i + 1]) for i in range(16)]), index,
                               rtol=0, atol=0)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert torch.equal(codec._scale_index(z_hat), index)
        single_thread_streams = codec.compress(h)
    finally:
        torch.set_num_threads(threads)
    streams = codec.compress(h)
    assert single_thread_streams == streams
    assert codec.compress(h[:5]) + codec.compress(h[5:]) == streams
    np.testing.assert_array_equal(codec.decompress_packed(codec.compress_packed(h)), codec.decompress(streams))


def test_latents_beyond_the_model_are_escaped_and_round_trip() -> None:
    codec = _make(8, 16)
    with torch.no_grad():
        codec.analysis_net[-1].weight.mul_(3e3)  # latents far outside the coder's +-SYMBOL_LIMIT
    h = few_path_channels(4, 8, 16, seed=2)
    _, q = codec.quantize(h)
    assert (np.abs(q[:, codec._num_side :]) > gc.SYMBOL_LIMIT).any()
    streams, h_hat = codec.compress_with_reconstruction(h)
    np.testing.assert_array_equal(codec.decompress(streams), h_hat)
    np.testing.assert_array_equal(codec.entropy_decode(streams)[1], q)


def test_likelihood_is_the_gaussian_mass_of_the_unit_bin() -> None:
    y = torch.tensor([0.0, 0.3, -1.7, 4.2, -12.0, 40.0], dtype=torch.float64)
    scale = torch.tensor([0.11, 1.0, 2.5, 0.7, 3.0, 256.0], dtype=torch.float64)
    expected = norm.cdf((y.numpy() + 0.5) / scale.numpy()) - norm.cdf((y.numpy() - 0.5) / scale.numpy())
    got = gc.likelihood(y, scale).numpy()
    np.testing.assert_allclose(got, np.maximum(expected, gc.LIKELIHOOD_BOUND), rtol=1e-6)  # scipy's cancels
    index = gc.scale_index(torch.log(torch.tensor([0.01, 0.11, 1.0, 255.0, 1e4])))
    assert index.tolist() == [0, 0, round((0.0 - gc.LOG_SCALE_MIN) / gc.LOG_SCALE_STEP), 63, 63]


def test_the_lower_bound_passes_gradients_that_raise_the_scale() -> None:
    r = torch.tensor([float(np.log(0.01)), float(np.log(0.01)), 0.0], requires_grad=True)
    scale = gc.training_scale(r)
    assert torch.allclose(scale, torch.tensor([gc.SCALE_MIN, gc.SCALE_MIN, 1.0]))
    (scale * torch.tensor([1.0, -1.0, 1.0])).sum().backward()
    assert r.grad is not None and r.grad[0] == 0 and r.grad[1] < 0 and r.grad[2] > 0


def test_flops_include_the_side_path_within_budget_and_size_class() -> None:
    codec = _make(64, 64)
    plain = CODECS.make("rd-crnet").eval()
    y = codec.analysis(torch.zeros(1, 64, 64, dtype=torch.complex64))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        z = codec.hyper_analysis(y.abs())
        codec.hyper_synthesis(z)
    h_a_and_h_s = counter.get_total_flops()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        codec.hyper_synthesis(z)
    h_s = counter.get_total_flops()
    assert count_flops(codec) == count_flops(plain) + h_a_and_h_s + h_s  # h_s runs at the UE and at the BS
    assert count_flops(codec) <= 50e6
    assert 10_000 <= sum(p.numel() for p in codec.parameters()) <= 500_000


def test_the_bs_holds_synthesis_hyper_synthesis_and_the_side_prior() -> None:
    codec = _make()
    names = codec.decoder_parameter_names()
    assert {n.split(".")[0] for n in names} == {"synthesis_net", "hyper_synthesis", "prior"}
    encoder = {n.split(".")[0] for n, _ in codec.named_parameters()} - {n.split(".")[0] for n in names}
    assert encoder == {"analysis_net", "hyper_analysis"}


@pytest.mark.slow
def test_training_reduces_the_rd_loss_and_real_bits_track_the_estimate() -> None:
    train = few_path_channels(256, 8, 16, seed=1)
    codec = CODECS.make("rd-crnet-hyperprior", num_bs_ant=8, num_subcarriers=16, seed=0)
    opt = torch.optim.Adam(codec.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    losses = []
    codec.train()
    for step in range(120):
        batch = train[(step * 32) % 256 : (step * 32) % 256 + 32]
        loss = rd_loss(codec(batch, gen), lmbda=20.0)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    codec.eval()
    assert np.mean(losses[-20:]) < 0.5 * losses[0]
    test = few_path_channels(64, 8, 16, seed=2)
    _, bits = codec.reconstruct(test)
    estimate = codec.estimate_bits(test)
    assert np.isfinite(estimate).all()
    assert estimate.mean() - 8 <= bits.mean() <= estimate.mean() + 40  # + the coder's 32-bit word granularity
