"""csi-inr (paper 002): a deterministic inner-loop encoder, bit depth against real bits, exact round trips, the
meta-learning gradients (first- and second-order), and a coded base-network update rebuilt exactly at the BS."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simnet.codecs import CODECS, CSIINR
from simnet.codecs.normalization import norm_code, normalize
from simnet.coding.updates import apply_update, decoder_state
from simnet.errors import ConfigError
from simnet.learning.finetune import FinetuneConfig
from simnet.learning.procedures import encoder_only, full_model
from tests.codecs.conftest import few_path_channels

A, S = 8, 8


def tiny(seed: int = 0, **kwargs: object) -> CSIINR:
    codec = CODECS.make("csi-inr", num_bs_ant=A, num_subcarriers=S, num_latent=8, hidden=16, num_layers=2,
                        seed=seed, **kwargs)
    return codec.eval()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def fitted() -> CSIINR:
    """A tiny codec whose entropy model is fitted on 64 training channels."""
    codec = tiny()
    codec.fit_entropy_model(few_path_channels(64, A, S, seed=1))
    return codec


def test_the_encoder_is_deterministic_and_batch_independent(fitted: CSIINR) -> None:
    h = few_path_channels(6, A, S, seed=2)
    q_a = fitted.quantize(h)[1]
    assert np.array_equal(fitted.quantize(h)[1], q_a)
    twin = tiny()
    twin.fit_entropy_model(few_path_channels(64, A, S, seed=1))
    assert twin.compress(h) == fitted.compress(h)  # same seed, same data: the same bytes
    h_n = normalize(torch.from_numpy(h), norm_code(torch.from_numpy(h)))
    m = fitted.fit_modulations(h_n)
    singles = torch.cat([fitted.fit_modulations(h_n[i:i + 1]) for i in range(len(h))])
    torch.testing.assert_close(m, singles, rtol=1e-5, atol=1e-6)
    assert fitted.compress(h) == [fitted.compress(h[i:i + 1])[0] for i in range(len(h))]
    assert m.abs().sum() > 0  # the inner loop moved the modulations


def test_the_inner_loop_lowers_the_fitting_error(fitted: CSIINR) -> None:
    h = torch.from_numpy(few_path_channels(6, A, S, seed=3))
    h_n = normalize(h, norm_code(h))
    with torch.no_grad():
        errors = [float((fitted.render(fitted.fit_modulations(h_n, k)) - h_n).abs().square().mean()) for k in (0, 1)]
    assert errors[1] < errors[0]


def test_more_bits_per_element_cost_more_real_bits_and_lower_the_quantization_error(fitted: CSIINR) -> None:
    h = few_path_channels(16, A, S, seed=4)
    h_n = normalize(torch.from_numpy(h), norm_code(torch.from_numpy(h)))
    m = fitted.fit_modulations(h_n)
    bits, estimated, errors = [], [], []
    for depth in range(3, 15):
        codec = fitted.with_settings(bit_depth=depth)
        streams = codec.compress(h)
        bits.append(sum(8 * len(s) for s in streams))
        estimated.append(float(codec.estimate_bits(h).sum()))
        errors.append(float((codec.modulations_of(codec.symbols_of(m)) - m).abs().max()))
        assert codec.entropy_decode(streams)[1].max() < 2**depth
    # streams are whole 32-bit words: the real total may stay put for a bit, the ideal length may not
    assert all(b1 <= b2 for b1, b2 in zip(bits, bits[1:], strict=False)) and bits[0] < bits[6] < bits[-1], bits
    assert all(b1 < b2 for b1, b2 in zip(estimated, estimated[1:], strict=False)), estimated
    assert all(e2 <= e1 + 1e-7 for e1, e2 in zip(errors, errors[1:], strict=False)), errors
    n = fitted.inner_lr.shape[0]
    assert bits[-1] < len(h) * (14 * n + 16 + 64)  # the entropy coder beats 14 raw bits per element


def test_the_round_trip_is_exact_and_decodes_the_sent_symbols(fitted: CSIINR) -> None:
    h = few_path_channels(5, A, S, seed=5)
    codes, q = fitted.quantize(h)
    streams, h_hat = fitted.compress_with_reconstruction(h)
    codes_rx, q_rx = fitted.entropy_decode(streams)
    assert np.array_equal(codes_rx, codes) and np.array_equal(q_rx, q)
    np.testing.assert_array_equal(fitted.decompress(streams), h_hat)
    estimated = fitted.estimate_bits(h)
    real = np.array([8 * len(s) for s in streams])
    assert np.all(real >= estimated - 1) and np.all(real <= estimated + 40)


def test_one_trained_model_serves_every_bit_depth(fitted: CSIINR) -> None:
    other = fitted.with_settings(bit_depth=4, num_inner_steps=5)
    assert (other.bit_depth, other.num_inner_steps, other.config["bit_depth"]) == (4, 5, 4)
    for key, value in fitted.state_dict().items():
        assert torch.equal(value, other.state_dict()[key]), key
    with pytest.raises(ConfigError, match="bit_depth"):
        fitted.with_settings(bit_depth=15)


def test_first_order_meta_gradient_reaches_the_base_and_the_step_sizes_and_differs_from_second_order() -> None:
    h = torch.from_numpy(few_path_channels(4, A, S, seed=6))
    grads = {}
    for second in (False, True):
        codec = tiny(second_order=second, train_points=0).train()
        out = codec(h)
        codec.rd_loss(out, 1.0)["loss"].backward()
        grads[second] = {n: p.grad.clone() for n, p in codec.named_parameters() if p.grad is not None}
        assert set(grads[second]) == {n for n, _ in codec.named_parameters()}  # every tensor is meta-learned
    torch.testing.assert_close(grads[False]["inner_lr"].abs().sum() > 0, torch.tensor(True))
    differs = [not torch.allclose(grads[False][n], grads[True][n]) for n in grads[False]]
    assert any(differs)  # the second-order terms are real


def test_a_coded_base_network_update_rebuilds_the_bs_decoder_exactly(fitted: CSIINR) -> None:
    window = few_path_channels(8, A, S, seed=7)
    cfg = FinetuneConfig(steps=3, batch_size=8, lr=1e-2, regularize=False)
    result = full_model(fitted, window, np.random.default_rng(0), cfg)
    assert result.payload is not None and result.bits == 8 * len(result.payload) > 0
    bs = apply_update(fitted, result.payload)
    ue_state, bs_state = decoder_state(result.codec), decoder_state(bs)
    assert list(ue_state) == fitted.decoder_parameter_names() and all(n.startswith("base.") for n in ue_state)
    for key, value in ue_state.items():
        assert torch.equal(value, bs_state[key]), key
    assert any(not torch.equal(v, decoder_state(fitted)[k]) for k, v in ue_state.items())
    streams, h_hat = result.codec.eval().compress_with_reconstruction(few_path_channels(4, A, S, seed=8))
    np.testing.assert_array_equal(bs.eval().decompress(streams), h_hat)


def test_encoder_only_fine_tuning_moves_the_step_sizes_alone(fitted: CSIINR) -> None:
    cfg = FinetuneConfig(steps=3, batch_size=8, lr=1e-2)
    result = encoder_only(fitted, few_path_channels(8, A, S, seed=9), np.random.default_rng(0), cfg)
    assert result.payload is None
    assert not torch.equal(result.codec.inner_lr, fitted.inner_lr)
    for key, value in decoder_state(fitted).items():
        assert torch.equal(value, decoder_state(result.codec)[key]), key


@pytest.mark.parametrize("kwargs", [{"bit_depth": 2}, {"bit_depth": 15}, {"modulation": "scale"},
                                    {"num_latent": 0}, {"inner_lr": -1.0}, {"second_order": "yes"}])
def test_bad_settings_are_one_line_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        CODECS.make("csi-inr", num_bs_ant=A, num_subcarriers=S, **kwargs)
    assert "\n" not in str(info.value) and "csi-inr" in str(info.value)
