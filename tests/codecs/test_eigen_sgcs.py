"""The eigen-sgcs codec: its SGCS loss is simnet's SGCS, exact round trips without a norm code, the engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simnet.codecs import CODECS, sgcs_of_directions
from simnet.config import load_scenario
from simnet.errors import ConfigError, DataError
from simnet.learning.finetune import codec_distortion
from simnet.learning.pretrain import train_codec
from simnet.sim.beamforming import sgcs
from simnet.sim.engine import run_variant
from simnet.sim.world import build_world
from tests.codecs.conftest import few_path_channels
from tests.paths import TINY


def make(num_latent: int = 6, seed: int = 0, **kw):
    """A 4x4-port, 16-subcarrier codec: 4 subbands of 4 subcarriers."""
    return CODECS.make("eigen-sgcs", num_bs_ant=16, num_subcarriers=16, num_hidden=16, num_latent=num_latent,
                       seed=seed, **kw).eval()


@pytest.fixture
def h() -> np.ndarray:
    return few_path_channels(24, 16, 16, seed=4)


def test_sgcs_loss_equals_the_sgcs_metric_on_a_batch(h):
    codec = make()
    with torch.no_grad():
        out = codec(h)
    per_report = sgcs_of_directions(out["v"], out["w_hat"]).numpy()
    metric = sgcs(h, out["h_hat"].numpy())  # the metric every simnet table reports, from the BS view
    np.testing.assert_allclose(per_report, metric, atol=1e-5)
    assert metric.std() > 1e-3  # a batch of different scores, not a constant
    terms = codec.rd_loss(out, lmbda=2.0)
    assert float(terms["distortion"]) == pytest.approx(1.0 - metric.mean(), abs=1e-5)
    assert float(codec_distortion(codec, torch.as_tensor(h), out)) == pytest.approx(1.0 - metric.mean(), abs=1e-5)
    bits = -np.log2(out["likelihoods"]["y"].numpy()).reshape(len(h), -1).sum(1).mean()
    assert float(terms["loss"]) == pytest.approx(2.0 * (1.0 - metric.mean()) + bits / (2 * 16 * 16), rel=1e-5)


def test_target_is_phase_normalised_and_blind_to_scale_and_common_phase(h):
    codec = make()
    v = codec.target_directions(torch.as_tensor(h)).numpy()
    np.testing.assert_allclose(np.linalg.norm(v, axis=-1), 1.0, atol=1e-5)
    ref = np.argmax(np.sum(np.abs(v) ** 2, axis=1), axis=-1)
    ref_v = np.take_along_axis(v, ref[:, None, None], axis=2)
    np.testing.assert_allclose(ref_v.imag, 0.0, atol=1e-6)
    assert (ref_v.real > 0).all()
    rotated = (h * 1e3 * np.exp(1j * 0.7)).astype(np.complex64)
    np.testing.assert_allclose(codec.target_directions(torch.as_tensor(rotated)).numpy(), v, atol=1e-4)
    assert codec.compress(rotated) == codec.compress(h)


@pytest.mark.parametrize("num_delay_taps", [None, 2])
def test_round_trip_is_exact_with_real_bits_and_no_norm_code(h, num_delay_taps):
    codec = make(num_delay_taps=num_delay_taps)
    streams, h_ue = codec.compress_with_reconstruction(h)
    h_bs = codec.decompress(streams)
    np.testing.assert_array_equal(h_bs, h_ue)
    h_hat, bits = codec.reconstruct(h)
    np.testing.assert_array_equal(h_hat, h_bs)
    assert list(bits) == [8 * len(s) for s in streams] and all(b % 32 == 0 for b in bits)
    # no 16-bit norm code: the likelihood estimate is the latents' cost alone, within one 32-bit word of the stream
    estimate = codec.estimate_bits(h)
    assert np.all(bits >= estimate - 1e-6) and np.all(bits <= estimate + 64)
    np.testing.assert_array_equal(codec.decompress_packed(codec.compress_packed(h)), h_bs)
    # the BS view is unit norm per subcarrier (a precoder, not a channel estimate)
    np.testing.assert_allclose(np.linalg.norm(h_bs, axis=1), 1.0, atol=1e-5)
    with pytest.raises(DataError):
        codec.decompress([streams[0] + b"\x01\x00\x00\x00"])
    rebuilt = CODECS.make("eigen-sgcs", **codec.config)
    rebuilt.load_state_dict(codec.state_dict())
    assert rebuilt.eval().compress(h) == streams


def test_bad_options_give_one_line():
    with pytest.raises(ConfigError, match="num_delay_taps = 5: must be an integer in \\[1, 4\\]"):
        make(num_delay_taps=5)


def test_training_on_the_sgcs_loss_raises_sgcs(h):
    codec = make(seed=1)
    before = float(sgcs(h, codec.reconstruct(h)[0]).mean())
    train_codec(codec, h, h, lmbda=50.0, max_epochs=25, batch_size=8, lr=1e-2, patience=25, progress=False)
    after = float(sgcs(h, codec.reconstruct(h)[0]).mean())
    assert after > before + 0.1


@pytest.mark.parametrize("policy", [{"type": "never"}, {"type": "periodic", "interval_m": 2, "steps": 3}])
def test_codec_runs_in_a_tiny_world(policy):
    codec_block = {"type": "eigen-sgcs", "num_hidden": 8, "num_latent": 4, "subband_size": 2, "lmbda": 1.0}
    scenario = load_scenario(TINY, overrides={"codec": codec_block, "policies": [policy]})
    world = build_world(scenario, cache_dir=None)
    rec = run_variant(world, scenario.policies[0])
    csi = [p for p in rec["packets"] if p["kind"] == "csi"]
    updates = [p for p in rec["packets"] if p["kind"] != "csi"]
    assert csi and all(p["bits"] % 32 == 0 for p in csi)
    assert (len(updates) > 0) == (policy["type"] == "periodic")
    assert all(u["bits"] > 0 for u in updates)
    assert all(0.0 <= r["sgcs_report"] <= 1.0 + 1e-6 for r in rec["reports"])
    assert rec["slots"] and all(0.0 <= s["sgcs"] <= 1.0 + 1e-6 for s in rec["slots"])
