"""Codeword mimic: the distillation scheduler, the student's copied BS side, deterministic recipes."""

from __future__ import annotations

import pytest
import torch

from simnet.codecs import CODECS
from simnet.errors import ConfigError
from simnet.learning.codeword_mimic import (
    MimicSchedule,
    codewords,
    distillation_weight,
    student_from_teacher,
    train_student,
)
from tests.codecs.conftest import few_path_channels


def _teacher() -> torch.nn.Module:
    return CODECS.make("rd-crnet", num_bs_ant=8, num_subcarriers=8, seed=5).eval()


def test_distillation_weight_follows_paper_eq5_and_stops_at_the_explore_stage() -> None:
    assert distillation_weight(0, 10, 2.0) == 2.0
    assert distillation_weight(5, 10, 2.0) == pytest.approx(1.0)
    assert distillation_weight(10, 10, 2.0) == 0.0 and distillation_weight(0, 0, 2.0) == 0.0
    assert distillation_weight(5, 10, 2.0, "linear") == pytest.approx(1.0)
    assert distillation_weight(9, 10, 2.0, "const") == 2.0
    cosine = [distillation_weight(t, 10, 1.0) for t in range(10)]
    assert all(a > b for a, b in zip(cosine, cosine[1:]))


def test_student_gets_the_teachers_bs_side_and_a_new_encoder() -> None:
    teacher = _teacher()
    student = student_from_teacher(teacher, seed=1, num_head_filters=4)
    for name in teacher.decoder_parameter_names():
        assert torch.equal(student.get_parameter(name), teacher.get_parameter(name)), name
    assert student.prior.tables().fingerprint == teacher.prior.tables().fingerprint
    with pytest.raises(ConfigError, match="decoder"):
        student_from_teacher(teacher, student_type="learned-transform")


def test_recipes_are_deterministic_and_mimic_pulls_the_codewords_to_the_teachers() -> None:
    teacher = _teacher()
    h = few_path_channels(32, 8, 8, seed=1)
    y_t = codewords(teacher, h)
    plain_a, plain_b, cm = (student_from_teacher(teacher, seed=2) for _ in range(3))
    plain = MimicSchedule(epochs=6, mimic_fraction=0.0, batch_size=8)
    train_student(plain_a, h, 1.0, plain, y_teacher=y_t, seed=3)
    train_student(plain_b, h, 1.0, plain, y_teacher=y_t, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(plain_a.parameters(), plain_b.parameters(), strict=True))
    mimic = MimicSchedule(epochs=6, mimic_fraction=0.5, alpha0=10.0, batch_size=8)
    result = train_student(cm, h, 1.0, mimic, y_teacher=y_t, seed=3)
    assert result["steps"] == 24 and result["mimic_steps"] == 12
    mse_plain = float((codewords(plain_a, h) - y_t).square().mean())
    mse_cm = float((codewords(cm, h) - y_t).square().mean())
    assert mse_cm < 0.9 * mse_plain
    with pytest.raises(ConfigError, match="codewords"):
        train_student(cm, h, 1.0, mimic)
