"""rd-crnet-binary-encoder: binary weights with a per-output scale, straight-through gradients, honest costs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simnet.codecs import CODECS, encoder_cost
from simnet.codecs.rd_crnet_binary import BinaryConv2d
from simnet.errors import ConfigError


def _student(**kwargs: int) -> torch.nn.Module:
    return CODECS.make("rd-crnet-binary-encoder", num_bs_ant=8, num_subcarriers=8, **kwargs).eval()


def test_binary_weights_are_plus_minus_the_mean_magnitude_per_output_channel() -> None:
    conv = [m for m in _student().analysis_net.modules() if isinstance(m, BinaryConv2d)][0]
    w, w_b = conv.weight.detach(), conv.binary_weight().detach()
    scale = w.abs().mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(w_b.abs(), scale.expand_as(w_b), rtol=0, atol=0)
    assert torch.equal(torch.sign(w_b), torch.where(w >= 0, 1.0, -1.0))


def test_gradient_passes_straight_through_the_sign_inside_the_clip() -> None:
    conv = BinaryConv2d(2, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([0.5, -3.0]).reshape(1, 2, 1, 1))
    conv(torch.ones(1, 2, 1, 1)).sum().backward()
    assert conv.weight.grad is not None
    np.testing.assert_array_equal(conv.weight.grad.flatten().numpy(), [1.0, 0.0])  # |w| > 1: clipped


def test_bs_side_is_rd_crnets_and_latent_shape_matches() -> None:
    student, teacher = _student(), CODECS.make("rd-crnet", num_bs_ant=8, num_subcarriers=8).eval()
    assert student.latent_shape == teacher.latent_shape
    assert student.decoder_parameter_names() == teacher.decoder_parameter_names()
    for name in student.decoder_parameter_names():  # same seed: the same BS-side initialisation
        assert torch.equal(student.get_parameter(name), teacher.get_parameter(name)), name


def test_encoder_cost_counts_binary_weights_as_one_bit_and_no_multiplies() -> None:
    # 8 x 8 array, 8 taps: head conv 8 -> 4 (3x3) at 4 x 4, binary conv 16 -> 8 (3x3) at 2 x 2
    cost = encoder_cost(_student(num_head_filters=4, binary_kernel=3))
    head_w, head_b, bin_w, bin_out = 8 * 4 * 9, 4, 16 * 8 * 9, 8
    assert cost["params"] == head_w + head_b + bin_w + bin_out
    assert cost["binary_params"] == bin_w
    assert cost["size_bits"] == 32 * (head_w + head_b) + bin_w + 32 * 2 * bin_out
    assert cost["mults"] == 16 * head_w + 4 * bin_out  # head: per output position; binary: one scale per output
    assert cost["flops"] == 2 * 16 * head_w + 4 * (bin_w + bin_out)


def test_bad_student_keywords_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="binary_kernel"):
        _student(binary_kernel=4)
    with pytest.raises(ConfigError, match="num_head_filters"):
        _student(num_head_filters=0)


def test_the_shipped_student_is_the_cosine_mimic_student_of_the_shipped_teacher() -> None:
    from simnet.codecs import load_codec, resolve_checkpoint, shipped_sha256
    from simnet.experiments import stream_rd
    from simnet.learning.pretrain import sample_channels

    student = load_codec(resolve_checkpoint("rd-crnet-binary-encoder_lambda1"))
    teacher = load_codec(resolve_checkpoint("rd-crnet_lambda1"))
    meta = student.checkpoint_meta
    assert meta["teacher"] == "rd-crnet_lambda1.pt" and meta["lmbda"] == 1.0
    assert meta["teacher_sha256"] == shipped_sha256()["rd-crnet_lambda1.pt"]
    assert meta["recipe"]["alpha_schedule"] == "cosine" and meta["recipe"]["mimic_fraction"] == 0.2
    assert (meta["num_train"], meta["epochs"], meta["seed"]) == (1920, 20, 0)  # scenarios/paper/004_codeword_mimic
    assert student.decoder_parameter_names() == teacher.decoder_parameter_names()
    assert encoder_cost(student)["size_bits"] * 15 < encoder_cost(teacher)["size_bits"]
    # docs/codeword_mimic.md's "student CM (cosine alpha)" row: 300 held-out o1_like reports, real streams
    h = sample_channels("o1_like", 300, seed=0, split="test")
    rd = stream_rd(student, h)
    assert rd["latent_bpd"] == pytest.approx(0.1074, rel=0.005)
    assert rd["nmse_db"] == pytest.approx(-7.138, abs=0.02)
