"""Offline experiments of the core paper (Fig. 2, 5, 7-9, Tables IV, V) and papers 002, 003, 004, in ``EXPERIMENTS``."""

from __future__ import annotations

from simnet.config import is_experiment_file
from simnet.experiments import backbone as _backbone  # noqa: F401  (registers backbone_rd, distribution_shift)
from simnet.experiments import bit_allocation as _bit_allocation  # noqa: F401  (registers bit_allocation)
from simnet.experiments import codeword_mimic as _codeword_mimic  # noqa: F401  (registers codeword_mimic)
from simnet.experiments import complexity as _complexity  # noqa: F401  (registers complexity)
from simnet.experiments import csi_inr as _csi_inr  # noqa: F401  (registers csi_inr_rd)
from simnet.experiments import finetuning as _finetuning  # noqa: F401  (registers the fine-tuning experiments)
from simnet.experiments import schemes as _schemes  # noqa: F401  (registers finetune_schemes)
from simnet.experiments.base import (
    EXPERIMENTS,
    Experiment,
    ExperimentSpec,
    RunContext,
    load_experiment,
    register_experiment,
)
from simnet.experiments.complexity import count_flops, scheme_counts
from simnet.experiments.data import interp_db, paper_numbers, stream_rd, track_channels

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "ExperimentSpec",
    "RunContext",
    "count_flops",
    "interp_db",
    "is_experiment_file",
    "load_experiment",
    "paper_numbers",
    "register_experiment",
    "scheme_counts",
    "stream_rd",
    "track_channels",
]
