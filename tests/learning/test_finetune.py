"""Fine-tuning procedures: they learn, are deterministic, and UE and BS agree bit for bit (finetune.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from simnet.coding.updates import UpdateCoding, apply_update, decoder_state
from simnet.errors import ConfigError
from simnet.learning.finetune import FinetuneConfig, distortion, objective
from simnet.learning.procedures import encoder_only, full_model, genie, translation
from simnet.learning.translation_module import TranslatedCodec, wrap_translation


class ToyCodec(nn.Module):
    """Tiny dense codec with a learned Gaussian latent prior (training side of the codec interface)."""

    lmbda = 50.0

    def __init__(self, num_bs_ant: int = 4, num_subcarriers: int = 4, num_latent: int = 8) -> None:
        super().__init__()
        self.num_bs_ant, self.num_subcarriers = num_bs_ant, num_subcarriers
        dim = 2 * num_bs_ant * num_subcarriers
        self.enc = nn.Linear(dim, num_latent)
        self.dec = nn.Linear(num_latent, dim)
        self.log_scale = nn.Parameter(torch.ones(num_latent))
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            self.enc.weight.copy_(torch.randn(self.enc.weight.shape, generator=gen))
            self.dec.weight.copy_(0.1 * torch.randn(self.dec.weight.shape, generator=gen))

    def forward(self, h: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        x = torch.view_as_real(h).flatten(1)
        x = x / x.norm(dim=1, keepdim=True)
        y = self.enc(x) * 4
        noise = torch.rand(y.shape, generator=generator) - 0.5
        y_hat = y + noise if self.training else torch.round(y)
        normal = torch.distributions.Normal(0.0, torch.exp(self.log_scale))
        lik = normal.cdf(y_hat + 0.5) - normal.cdf(y_hat - 0.5)
        scale = torch.view_as_real(h).flatten(1).norm(dim=1)[:, None]
        out = self.dec(y_hat / 4) * scale
        return {
            "h_hat": torch.view_as_complex(out.view(-1, self.num_bs_ant, self.num_subcarriers, 2)),
            "likelihoods": {"y": lik},
        }

    def decoder_parameter_names(self) -> list[str]:
        return ["dec.weight", "dec.bias", "log_scale"]


def window(num: int = 64, seed: int = 0) -> np.ndarray:
    """Low-rank complex channels [num, 4, 4] complex64 (a 'new environment')."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((2, 4)) + 1j * rng.standard_normal((2, 4))
    b = rng.standard_normal((2, 4)) + 1j * rng.standard_normal((2, 4))
    c = rng.standard_normal((num, 2)) + 1j * rng.standard_normal((num, 2))
    return np.einsum("nk,ka,kb->nab", c, a, b).astype(np.complex64)


def eval_nmse(codec: nn.Module, h: np.ndarray) -> float:
    codec.eval()
    with torch.no_grad():
        return float(distortion(torch.from_numpy(h), codec(torch.from_numpy(h))["h_hat"]))


CFG = FinetuneConfig(steps=80, batch_size=16, lr=1e-2, coding=UpdateCoding(t=0.005, num_bins=64))


def test_full_model_learns_and_bs_matches_bit_for_bit() -> None:
    bs, h = ToyCodec(), window()
    res = full_model(bs, h, np.random.default_rng(0), CFG)
    assert res.payload is not None and res.bits == 8 * len(res.payload)
    assert res.num_steps == 80 and res.curve["loss"].shape == (80,)
    assert res.curve["loss"][-10:].mean() < res.curve["loss"][:10].mean()
    assert eval_nmse(res.codec, h) < 0.7 * eval_nmse(bs, h)
    new_bs = apply_update(bs, res.payload)
    for name, value in decoder_state(res.codec).items():
        assert torch.equal(value, decoder_state(new_bs)[name]), name
    assert 0 < res.num_nonzero <= sum(v.numel() for v in decoder_state(bs).values())
    # the input codec is untouched
    assert torch.equal(decoder_state(bs)["dec.weight"], decoder_state(ToyCodec())["dec.weight"])


def test_objective_scores_the_eval_mode_codec_with_its_lambda() -> None:
    bs, h = ToyCodec(), window(16)
    bs.train()
    obj = objective(bs, h)
    assert bs.training  # its mode is restored
    bs.eval()
    with torch.no_grad():  # eval mode rounds the latents: -log2 of their likelihoods, per real dimension
        lik = bs(torch.from_numpy(h))["likelihoods"]["y"]
    assert obj["d"] == pytest.approx(eval_nmse(bs, h), rel=1e-6)
    assert obj["r_latent"] == pytest.approx(float(-torch.log2(lik.clamp_min(1e-9)).sum()) / (16 * 32), rel=1e-6)
    assert obj["loss"] == pytest.approx(50.0 * obj["d"] + obj["r_latent"], rel=1e-9)
    assert objective(bs, h, FinetuneConfig(lmbda=2.0))["loss"] == pytest.approx(2.0 * obj["d"] + obj["r_latent"])
    # a fine-tune on the same samples lowers it
    assert objective(full_model(bs, h, np.random.default_rng(0), CFG).codec, h)["loss"] < obj["loss"]


def test_deterministic_given_rng() -> None:
    bs, h = ToyCodec(), window()
    a = full_model(bs, h, np.random.default_rng(5), CFG)
    b = full_model(bs, h, np.random.default_rng(5), CFG)
    c = full_model(bs, h, np.random.default_rng(6), CFG)
    assert a.payload == b.payload and np.array_equal(a.curve["loss"], b.curve["loss"])
    assert a.payload != c.payload


def test_trace_records_the_update_during_fine_tuning_and_ends_on_the_one_sent() -> None:
    bs, h = ToyCodec(), window()
    plain = full_model(bs, h, np.random.default_rng(5), CFG)
    traced = full_model(bs, h, np.random.default_rng(5), CFG, trace_every=30)
    assert plain.trace == [] and traced.payload == plain.payload  # tracing does not change the result
    assert [r["step"] for r in traced.trace] == [30, 60, 80]
    last = traced.trace[-1]
    assert last["update_bits"] == plain.bits and last["num_nonzero"] == plain.num_nonzero
    assert last["estimated_update_bits"] == pytest.approx(plain.estimated_update_bits)
    assert traced.trace[0]["num_nonzero"] > 0 and all(r["update_bits"] % 8 == 0 for r in traced.trace)


def test_encoder_only_keeps_decoder_and_sends_nothing() -> None:
    bs, h = ToyCodec(), window()
    res = encoder_only(bs, h, np.random.default_rng(0), CFG)
    assert res.payload is None and res.bits == 0
    assert all(
        torch.equal(a, b) for a, b in zip(decoder_state(bs).values(), decoder_state(res.codec).values())
    )
    assert not torch.equal(res.codec.enc.weight, bs.enc.weight)
    assert eval_nmse(res.codec, h) < eval_nmse(bs, h)


def test_genie_is_at_least_as_good_as_full_model() -> None:
    bs, h = ToyCodec(), window()
    g = genie(bs, h, np.random.default_rng(0), CFG)
    f = full_model(bs, h, np.random.default_rng(0), CFG)
    assert g.payload is None and g.num_nonzero > 0
    assert eval_nmse(g.codec, h) <= eval_nmse(f.codec, h) * 1.05


def test_regularization_and_prior_shrink_the_update() -> None:
    bs, h = ToyCodec(), window()
    toy = UpdateCoding(t=0.005, sigma_slab=0.05)  # bins sized for this toy's small lr
    base = dict(steps=80, batch_size=16, lr=1e-3)
    reg = full_model(bs, h, np.random.default_rng(0), FinetuneConfig(**base, beta=10.0, coding=toy))
    free = full_model(bs, h, np.random.default_rng(0), FinetuneConfig(**base, regularize=False, coding=toy))
    uni = full_model(
        bs, h, np.random.default_rng(0), FinetuneConfig(**base, coding=UpdateCoding(prior="uniform"))
    )
    assert reg.num_nonzero < 0.7 * free.num_nonzero
    assert reg.bits < 0.7 * free.bits
    # on this 296-parameter toy the uniform prior costs exactly log2(64) bits per parameter
    assert uni.estimated_update_bits == pytest.approx(6 * 296)


def test_translation_update_round_trip() -> None:
    bs, h = ToyCodec(), window()
    res = translation(bs, h, np.random.default_rng(0), CFG, num_channels=4)
    assert isinstance(res.codec, TranslatedCodec) and res.payload is not None
    bs_wrapped = wrap_translation(bs, 4)
    new_bs = apply_update(bs_wrapped, res.payload, names=bs_wrapped.retranslation_names())
    ue_state, bs_state = decoder_state(res.codec), decoder_state(new_bs)
    assert list(ue_state) == list(bs_state)
    assert all(torch.equal(ue_state[k], bs_state[k]) for k in ue_state)
    # the backbone is frozen; only the retranslation module changed on the decoder side
    assert torch.equal(res.codec.backbone.dec.weight, bs.dec.weight)
    assert res.curve["loss"][-10:].mean() < res.curve["loss"][:10].mean()


def test_fresh_translation_wrapper_is_the_backbone() -> None:
    bs, h = ToyCodec(), window(8)
    bs.eval()
    wrapped = wrap_translation(bs, 4).eval()
    with torch.no_grad():
        ref = bs(torch.from_numpy(h))["h_hat"]
        out = wrapped(torch.from_numpy(h))["h_hat"]
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"steps": 0}, "steps"),
        ({"lr": -1.0}, "lr"),
        ({"lambda": 0}, "lambda"),
        ({"beta": -1}, "beta"),
        ({"regularize": "yes"}, "regularize"),
        ({"num_bins": 512}, "num_bins"),
        ({"foo": 1}, "foo"),
        ({"batch_size": 2.5}, "batch_size"),
    ],
)
def test_config_errors_name_the_key(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        FinetuneConfig.from_kwargs(kwargs)


def test_real_learned_transform_update_round_trip_and_streams_agree() -> None:
    codecs = pytest.importorskip("simnet.codecs")
    bs = codecs.LearnedTransformCodec(num_bs_ant=8, num_subcarriers=8).eval()
    rng = np.random.default_rng(3)
    h = ((rng.standard_normal((40, 8, 8)) + 1j * rng.standard_normal((40, 8, 8))) * 1e-5).astype(np.complex64)
    res = full_model(bs, h, np.random.default_rng(0), FinetuneConfig(steps=6, batch_size=16, lr=1e-2))
    assert res.payload is not None and res.num_nonzero > 0
    new_bs = apply_update(bs, res.payload)
    for name, value in decoder_state(res.codec).items():
        assert torch.equal(value, decoder_state(new_bs)[name]), name
    # the UE's own streams decode at the BS to exactly what the UE reconstructs itself
    streams = res.codec.compress(h[:5])
    np.testing.assert_array_equal(new_bs.decompress(streams), res.codec.decompress(streams))
    tm = translation(bs, h, np.random.default_rng(0), FinetuneConfig(steps=3, batch_size=16), num_channels=4)
    wrapped = wrap_translation(bs, 4)
    tm_bs = apply_update(wrapped, tm.payload, names=wrapped.retranslation_names())
    streams = tm.codec.compress(h[:3])
    np.testing.assert_array_equal(tm_bs.decompress(streams), tm.codec.decompress(streams))


def test_a_fine_tune_takes_lr_and_augmentation_from_the_scenario_else_the_codec_else_the_defaults():
    from simnet.codecs import CODECS
    from simnet.learning.finetune import FINETUNE_DEFAULTS, optimisation

    conv = CODECS.make("rd-crnet", num_bs_ant=8, num_subcarriers=8)
    per_bin = CODECS.make("learned-transform", num_bs_ant=8, num_subcarriers=8)
    assert optimisation(per_bin, FinetuneConfig()) == FINETUNE_DEFAULTS
    assert optimisation(conv, FinetuneConfig()) == {"lr": 1e-3, "augment_delay_taps": 0.0, "augment_angle_bins": 0.0}
    given = optimisation(conv, FinetuneConfig.from_kwargs({"lr": 0.01, "augment_angle_bins": 0.5}))
    assert given == {"lr": 0.01, "augment_delay_taps": 0.0, "augment_angle_bins": 0.5}
    paper = CODECS.make("rd-cnn-paper", num_bs_ant=8, num_subcarriers=8, num_filters=4)
    assert optimisation(paper, FinetuneConfig()) == {"lr": 1e-4, "augment_delay_taps": 0.0, "augment_angle_bins": 0.0}


def test_the_update_coding_comes_from_the_scenario_else_the_codec_else_the_defaults():
    from simnet.codecs import CODECS
    from simnet.learning.finetune import update_coding

    conv = CODECS.make("rd-crnet", num_bs_ant=8, num_subcarriers=8)
    hyper = CODECS.make("rd-crnet-hyperprior", num_bs_ant=8, num_subcarriers=8)
    per_bin = CODECS.make("learned-transform", num_bs_ant=8, num_subcarriers=8)
    assert update_coding(per_bin, FinetuneConfig()) == UpdateCoding()
    assert update_coding(conv, FinetuneConfig()) == UpdateCoding(t=0.001, sigma_slab=0.01)
    assert update_coding(hyper, FinetuneConfig()) == update_coding(conv, FinetuneConfig())  # the CRNet family's
    paper = CODECS.make("rd-cnn-paper", num_bs_ant=8, num_subcarriers=8, num_filters=4)
    assert update_coding(paper, FinetuneConfig()) == UpdateCoding(t=1e-4, sigma_slab=1e-3)  # scaled to its lr 1e-4
    given = FinetuneConfig.from_kwargs({"prior": "uniform", "t": 0.002})
    assert update_coding(conv, given) == UpdateCoding(prior="uniform", t=0.002, sigma_slab=0.01)
    assert update_coding(per_bin, given) == UpdateCoding(prior="uniform", t=0.002)
    explicit = FinetuneConfig(coding=UpdateCoding(t=0.02))
    assert update_coding(conv, explicit) == UpdateCoding(t=0.02)  # a complete coding is taken as it is
    assert update_coding(conv, explicit.with_coding(num_bins=16)) == UpdateCoding(t=0.02, num_bins=16)
    assert update_coding(conv, given.with_coding(t=0.004)) == UpdateCoding(prior="uniform", t=0.004, sigma_slab=0.01)
    with pytest.raises(ConfigError, match="sigma_slab"):  # checked against the codec's own t at the fine-tune
        update_coding(per_bin, FinetuneConfig.from_kwargs({"sigma_slab": 0.005}))
    with pytest.raises(ConfigError, match="sigma_slab"):  # and against the scenario's t at load time
        FinetuneConfig.from_kwargs({"t": 0.06, "sigma_slab": 0.005})
    with pytest.raises(ConfigError, match=r"^sigma_slab: -1.0 is out of range \(allowed: finite number > 0\)$"):
        FinetuneConfig.from_kwargs({"sigma_slab": -1.0})  # named as given (t stood in for it once and was named)


def test_a_coded_crnet_update_uses_the_codecs_step_and_rebuilds_the_bs_decoder():
    from simnet.codecs import CODECS
    from simnet.coding.updates import read_header

    bs = CODECS.make("rd-crnet", num_bs_ant=8, num_subcarriers=8).eval()
    rng = np.random.default_rng(3)
    h = (rng.standard_normal((40, 8, 8)) + 1j * rng.standard_normal((40, 8, 8))).astype(np.complex64)
    res = full_model(bs, h, np.random.default_rng(0), FinetuneConfig(steps=4, batch_size=16, lr=1e-2))
    assert res.payload is not None and res.num_nonzero > 0
    assert read_header(res.payload)[0].t == float(np.float32(0.001))
    new_bs = apply_update(bs, res.payload)
    for name, value in decoder_state(res.codec).items():
        assert torch.equal(value, decoder_state(new_bs)[name]), name
