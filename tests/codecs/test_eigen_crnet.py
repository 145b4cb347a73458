"""The eigen-crnet codec: CRNet's convolutions on the subband directions, SGCS loss, exact round trips, the engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simnet.codecs import CODECS, EigenCRNet, sgcs_of_directions
from simnet.config import load_scenario
from simnet.errors import DataError
from simnet.learning.pretrain import train_codec
from simnet.sim.beamforming import sgcs
from simnet.sim.engine import run_variant
from simnet.sim.world import build_world
from tests.codecs.conftest import few_path_channels
from tests.paths import TINY


def make(subband_size: int = 4, seed: int = 0) -> EigenCRNet:
    """A 4x4-port, 16-subcarrier codec (4 subbands of 4 subcarriers: a 16 x 4 image)."""
    return CODECS.make("eigen-crnet", num_bs_ant=16, num_subcarriers=16, subband_size=subband_size, num_filters=4,
                       num_latent_channels=2, seed=seed).eval()


@pytest.fixture
def h() -> np.ndarray:
    return few_path_channels(24, 16, 16, seed=4)


def test_sgcs_loss_equals_the_sgcs_metric(h):
    codec = make()
    with torch.no_grad():
        out = codec(h)
    metric = sgcs(h, out["h_hat"].numpy())
    np.testing.assert_allclose(sgcs_of_directions(out["v"], out["w_hat"]).numpy(), metric, atol=1e-5)
    assert metric.std() > 1e-3
    assert float(codec.rd_loss(out, 2.0)["distortion"]) == pytest.approx(1.0 - metric.mean(), abs=1e-5)
    assert codec.latent_shape == (2 * 4 * 1, 1)  # C x A/4 x N3/4 positions, one prior channel each


@pytest.mark.parametrize("subband_size", [4, 8])  # 4 subbands, or 2 padded with zero columns to 4
def test_round_trip_is_exact_with_real_bits_and_no_norm_code(h, subband_size):
    codec = make(subband_size)
    streams, h_ue = codec.compress_with_reconstruction(h)
    h_bs = codec.decompress(streams)
    np.testing.assert_array_equal(h_bs, h_ue)
    assert [8 * len(s) for s in streams] == list(codec.reconstruct(h)[1])
    np.testing.assert_allclose(np.linalg.norm(h_bs, axis=1), 1.0, atol=1e-5)  # a unit precoder per subcarrier
    # the BS view is constant within a subband (one direction per subband, as the codebooks report)
    blocks = h_bs.reshape(len(h), 16, 16 // subband_size, subband_size)
    np.testing.assert_array_equal(blocks, np.repeat(blocks[..., :1], subband_size, axis=-1))
    with pytest.raises(DataError):
        codec.decompress([streams[0] + b"\x01\x00\x00\x00"])
    rebuilt = CODECS.make("eigen-crnet", **codec.config)
    rebuilt.load_state_dict(codec.state_dict())
    assert rebuilt.eval().compress(h) == streams


def test_training_on_the_sgcs_loss_raises_sgcs(h):
    codec = make(seed=1)
    before = float(sgcs(h, codec.reconstruct(h)[0]).mean())
    train_codec(codec, h, h, lmbda=50.0, max_epochs=10, batch_size=8, lr=1e-2, patience=10, progress=False)
    after = float(sgcs(h, codec.reconstruct(h)[0]).mean())
    assert after > before + 0.1


def test_codec_runs_with_decoder_updates_in_a_tiny_world():
    codec_block = {"type": "eigen-crnet", "num_filters": 4, "num_latent_channels": 2, "subband_size": 2,
                   "lmbda": 1.0}
    scenario = load_scenario(TINY, overrides={"codec": codec_block,
                                              "policies": [{"type": "periodic", "interval_m": 2, "steps": 3}]})
    rec = run_variant(build_world(scenario, cache_dir=None), scenario.policies[0])
    updates = [p for p in rec["packets"] if p["kind"] != "csi"]
    assert updates and all(u["bits"] > 0 for u in updates)
    assert rec["slots"] and all(0.0 <= s["sgcs"] <= 1.0 + 1e-6 for s in rec["slots"])


def test_the_shipped_medium_checkpoint_scores_what_the_docs_say():
    """docs/etype2_vs_neural_static.md, o1_like: eigen-crnet lambda=0.12 at 105.3 bits, SGCS 0.781 (real streams)."""
    from simnet.codecs import load_codec, resolve_checkpoint
    from simnet.learning.pretrain import sample_channels

    codec = load_codec(resolve_checkpoint("eigen-crnet_lambda0.12")).eval()
    assert isinstance(codec, EigenCRNet) and codec.checkpoint_meta["num_train"] == 12000
    h = sample_channels("o1_like", 100, seed=12345, split="test")
    h_hat, bits = codec.reconstruct(h)
    assert float(bits.mean()) == pytest.approx(105.28, abs=1.0)
    assert float(sgcs(h, h_hat).mean()) == pytest.approx(0.7810, abs=0.005)


def test_it_fine_tunes_with_the_crnet_familys_defaults():
    from simnet.learning.finetune import FinetuneConfig, optimisation, update_coding

    codec, conv = make(), CODECS.make("rd-crnet", num_bs_ant=16, num_subcarriers=16)
    assert optimisation(codec, FinetuneConfig()) == optimisation(conv, FinetuneConfig())
    assert optimisation(codec, FinetuneConfig())["lr"] == 1e-3
    assert update_coding(codec, FinetuneConfig()) == update_coding(conv, FinetuneConfig())
