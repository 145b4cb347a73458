"""Pretraining: deterministic training loop, the cosine schedule, device checks, the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from simnet.codecs import CODECS, load_codec
from simnet.errors import ConfigError
from simnet.learning.pretrain import check_device, pretrain, train_codec
from tests.codecs.conftest import few_path_channels

ROOT = Path(__file__).resolve().parents[2]


def _train(schedule: str) -> tuple[torch.nn.Module, dict]:
    codec = CODECS.make("rd-crnet", num_bs_ant=8, num_subcarriers=8, num_filters=4, num_latent_channels=2, seed=1)
    h_train, h_val = few_path_channels(48, 8, 8, seed=1), few_path_channels(16, 8, 8, seed=2)
    result = train_codec(codec, h_train, h_val, 4.0, max_epochs=3, batch_size=16, lr=3e-3, patience=10,
                         lr_schedule=schedule, seed=0, progress=False)  # fmt: skip
    return codec, result


def test_training_is_deterministic_and_the_cosine_schedule_changes_the_result():
    a, result = _train("cosine")
    b, _ = _train("cosine")
    c, _ = _train("constant")
    assert result["epochs"] == 3 and result["best_val"]["loss"] <= result["history"][0]["loss"]
    for name, tensor in a.state_dict().items():
        assert torch.equal(tensor, b.state_dict()[name]), name
    assert any(not torch.equal(t, c.state_dict()[k]) for k, t in a.state_dict().items())


def test_an_unknown_schedule_or_device_is_one_line():
    with pytest.raises(ConfigError, match="lr_schedule 'step' is not 'constant' or 'cosine'"):
        train_codec(CODECS.make("raw", num_bs_ant=8, num_subcarriers=8), few_path_channels(4, 8, 8, seed=1),
                    few_path_channels(4, 8, 8, seed=2), 1.0, lr_schedule="step", progress=False)  # fmt: skip
    with pytest.raises(ConfigError, match="'gpu0' is not a torch device name"):
        check_device("gpu0")
    with pytest.raises(ConfigError, match="only 'cpu' and 'cuda'"):
        check_device("meta")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="torch sees no CUDA device here"):
            check_device("cuda")


def test_pretrain_writes_a_checkpoint_that_records_its_training_arguments(tmp_path: Path):
    (path,) = pretrain("o1_like", [2.0], "learned-transform", num_train=32, num_val=8, out_dir=tmp_path,
                       progress=False, max_epochs=1, lr_schedule="cosine")  # fmt: skip
    meta = load_codec(path).checkpoint_meta
    assert path.name == "learned-transform_lambda2.pt" and meta["lmbda"] == 2.0
    assert meta["train"] == {"max_epochs": 1, "lr_schedule": "cosine"} and meta["epochs"] == 1


def test_the_command_line_refuses_a_missing_gpu_in_one_line_before_any_work():
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    proc = subprocess.run([sys.executable, "-m", "simnet.cli", "pretrain", "--device", "cuda", "--out", "/nonexistent"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("error: device 'cuda': torch sees no CUDA device here")
