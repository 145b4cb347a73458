"""``rd-cnn-paper``: the core paper's convolutional codec (section II-B, Fig. 1), as described there."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from simnet.codecs.base import register_codec
from simnet.codecs.common import RDCodec
from simnet.codecs.layers import conv2d
from simnet.coding.prior import FactorizedPrior
from simnet.errors import ConfigError


@register_codec("rd-cnn-paper")
class RDCNNPaper(RDCodec):
    """The core paper's backbone on the spatial-frequency channel (about 218 K parameters at 64 x 64).

    Encoder: two conv layers with ``num_filters`` kernels and ReLU, each followed by 2x2 max pooling,
    then a linear conv with ``num_latent_channels`` kernels; decoder: mirror image with nearest upsampling,
    all kernels ``kernel_size``::

        h_n [B,A,S] ─(re,im)─> [B,2,A,S] ─conv64,ReLU─maxpool─conv64,ReLU─maxpool─conv2─> y [B,2,A/4,S/4]
          ─quantize─> q ─range coder─> bytes ─> y_hat ─up─conv64,ReLU─up─conv64,ReLU─conv2─> [B,2,A,S]
          ─> h_n_hat [B,A,S]

    Args:
        num_bs_ant: A, BS antennas (multiple of 4).
        num_subcarriers: S, OFDM subcarriers (multiple of 4).
        num_filters: kernels of the hidden conv layers (64 in the paper).
        num_latent_channels: latent channels (2 in the paper), one prior channel each.
        kernel_size: odd conv kernel size (5 in the paper).
        seed: seed of the explicit generator used to initialise the weights.
    """

    decoder_modules = ("synthesis_net", "prior")
    finetune_defaults: ClassVar[dict[str, float]] = {"lr": 1e-4, "augment_delay_taps": 0.0,
                                                     "augment_angle_bins": 0.0}
    """Fine-tuning settings when the scenario gives none: the core paper's (Adam at 1e-4, "used for all
    simulations" of its fine-tuning section), without the learned transform's shift augmentation (a
    convolutional codec is shift-equivariant already; measured on rd-crnet). The codec-family study ran the shipped
    (CPU-trained) checkpoint with these and the update step below: on quadriga_track 8 m updates of ~6 kbit
    gain 3.9 % in J over never (``docs/codec_families.md``); no sweep of either was measured on this codec (one
    30-step fine-tune takes ~40 s on one core)."""
    update_coding_defaults: ClassVar[dict[str, float]] = {"t": 1e-4, "sigma_slab": 1e-3}
    """The update step by the rule measured on rd-crnet (``SMALL_LR_UPDATE_CODING``: a step of 1/30 of the
    furthest 30 Adam steps move a weight, slab 10 steps wide), scaled to this codec's 10x smaller lr."""

    def __init__(
        self,
        num_bs_ant: int = 64,
        num_subcarriers: int = 64,
        num_filters: int = 64,
        num_latent_channels: int = 2,
        kernel_size: int = 5,
        seed: int = 0,
    ) -> None:
        super().__init__(num_bs_ant, num_subcarriers)
        if num_bs_ant % 4 or num_subcarriers % 4:
            raise ConfigError(
                f"rd-cnn-paper needs num_bs_ant and num_subcarriers divisible by 4 (two 2x2 poolings), "
                f"got {num_bs_ant} x {num_subcarriers}"
            )
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"rd-cnn-paper kernel_size = {kernel_size}: must be a positive odd integer")
        self.config = {
            "num_bs_ant": num_bs_ant, "num_subcarriers": num_subcarriers, "num_filters": num_filters,
            "num_latent_channels": num_latent_channels, "kernel_size": kernel_size, "seed": seed,
        }  # fmt: skip
        gen = torch.Generator().manual_seed(int(seed))
        f, c, k = num_filters, num_latent_channels, kernel_size
        self.analysis_net = nn.Sequential(
            conv2d(2, f, k, gen), nn.ReLU(), nn.MaxPool2d(2),
            conv2d(f, f, k, gen), nn.ReLU(), nn.MaxPool2d(2),
            conv2d(f, c, k, gen, linear=True),
        )  # fmt: skip
        self.synthesis_net = nn.Sequential(
            nn.Upsample(scale_factor=2), conv2d(c, f, k, gen), nn.ReLU(),
            nn.Upsample(scale_factor=2), conv2d(f, f, k, gen), nn.ReLU(),
            conv2d(f, 2, k, gen, linear=True),
        )  # fmt: skip
        self.prior = FactorizedPrior(num_latent_channels, seed=int(seed) + 1)
        self._finish_init()

    def analysis(self, h_n: torch.Tensor) -> torch.Tensor:
        return self.analysis_net(torch.stack([h_n.real, h_n.imag], dim=1))

    def synthesis(self, y_hat: torch.Tensor) -> torch.Tensor:
        x = self.synthesis_net(y_hat)
        return torch.complex(x[:, 0], x[:, 1])

