"""``rd-crnet``: a convolutional rate-distortion codec (CRNet-class) on the truncated angular-delay CSI."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import nn

from simnet.codecs.angular_delay import ComplexLinear2D, angular_delay_pair, default_bs_array
from simnet.codecs.base import register_codec
from simnet.codecs.common import SMALL_LR_FINETUNE, SMALL_LR_UPDATE_CODING, RDCodec
from simnet.codecs.layers import conv2d
from simnet.coding.prior import FactorizedPrior
from simnet.errors import ConfigError


class CRBlock(nn.Module):
    """CRNet's multi-resolution block: a 3x3 -> 1x9 -> 9x1 path and a 1x5 -> 5x1 path, fused, residual.

    The two paths see the angular-delay image at two receptive fields (9 and 5 bins along each axis);
    a 1x1 conv fuses them and the block adds its input back. ``[B, C, H, W] -> [B, C, H, W]``.
    """

    def __init__(self, channels: int, gen: torch.Generator) -> None:
        super().__init__()
        c = channels
        self.wide = nn.Sequential(
            conv2d(c, c, (3, 3), gen), nn.LeakyReLU(0.3),
            conv2d(c, c, (1, 9), gen), nn.LeakyReLU(0.3),
            conv2d(c, c, (9, 1), gen),
        )  # fmt: skip
        self.narrow = nn.Sequential(conv2d(c, c, (1, 5), gen), nn.LeakyReLU(0.3), conv2d(c, c, (5, 1), gen))
        self.fuse = conv2d(2 * c, c, (1, 1), gen, linear=True)
        self.act = nn.LeakyReLU(0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([self.act(self.wide(x)), self.act(self.narrow(x))], dim=1)
        return self.act(x + self.fuse(y))


class CRNetTransforms(RDCodec):
    """The angular-delay front end and the CRNet analysis/synthesis networks, without an entropy model.

    Shared by ``rd-crnet`` (factorized prior) and ``rd-crnet-hyperprior`` (scale hyperprior)::

        h_n [B,A,S] ─IDFT over S, keep T taps, DFT over the array─> x [B,2,A,T] ─unshuffle x2─> [B,8,A/2,T/2]
          ─conv3x3 F─CRBlock(F)─conv3x3/2 C─> y [B,C,A/4,T/4]
        y_hat ─conv3x3 4F─shuffle x2─CRBlock(F)─CRBlock(F)─conv3x3 8─shuffle x2─>
          x_hat [B,2,A,T] ─inverse transform (dropped taps zero)─> h_n_hat [B,A,S]

    A subclass adds its entropy model, fills ``self.config`` with its own keys too and calls ``_finish_init``.
    The arguments are those of :class:`RDCRNet`; ``codec_name`` names the codec in error messages; ``front_end``
    (forward, inverse), if given, replaces the truncated angular-delay transform of the channel by another
    [B, A, N] -> [B, A, T] pair (``eigen-crnet``: the subband directions' angular / subband-delay transform).
    """

    finetune_defaults: ClassVar[dict[str, float]] = SMALL_LR_FINETUNE
    """Fine-tuning settings when the scenario gives none. Measured (30-step genie fine-tune of the lambda-1
    checkpoint on 80 o2_dynamic_like track samples, RD loss on the next 200): Adam at 3e-2 (the
    learned-transform's rate) diverges (+135 dB in the simulator), 3e-3 gains 22 %, 1e-3 gains 24 %, 3e-4
    19 %; the learned-transform's delay/angle shift augmentation costs a convolutional codec, which is
    shift-equivariant already, 13-24 points of that gain (measured at 3e-4 to 3e-3)."""
    update_coding_defaults: ClassVar[dict[str, float]] = SMALL_LR_UPDATE_CODING
    """Update quantizer step and slab width when the scenario gives none. The step must suit how far a
    fine-tune moves the decoder, not the weights' size (median |w| 0.13 here, 0.20 for the learned transform):
    Adam at this family's lr 1e-3 moves a weight by at most ~0.03 in 30 steps, so the learned-transform's
    t = 0.05 (sized for its lr 3e-2) rounds most of the change away and the rest to a coarse step. Measured
    (30-step full-model fine-tune on 80 track samples, NMSE of the next 200 reports, t/sigma_slab in
    0.05/0.5 ... 0.001/0.01): lambda 1 quadriga_track: never -4.49 dB, t 0.05 -3.98 dB (18 kbit), t 0.001
    -4.90 dB (28 kbit), genie -5.26 dB; lambda 1 o2_dynamic_like: -4.67, -3.58, -4.83 (12 kbit), genie -4.78;
    lambda 4 quadriga_track: -6.19, -5.57, -7.06 (53 kbit), genie -7.19 (``benchmarks/bench_update_step.py``)."""

    def __init__(
        self,
        num_bs_ant: int,
        num_subcarriers: int,
        num_delay_taps: int | None,
        num_precursor_taps: int,
        bs_array: tuple[int, int] | list[int] | None,
        num_filters: int,
        num_latent_channels: int,
        seed: int,
        codec_name: str,
        front_end: tuple[ComplexLinear2D, ComplexLinear2D] | None = None,
    ) -> None:
        super().__init__(num_bs_ant, num_subcarriers)
        if num_delay_taps is None:
            num_delay_taps = max(4, min(32, num_subcarriers) // 4 * 4)
        if num_bs_ant % 4 or num_delay_taps % 4:
            raise ConfigError(f"{codec_name} needs num_bs_ant and num_delay_taps divisible by 4 (two stride-2 "
                              f"convolutions), got {num_bs_ant} antennas and {num_delay_taps} taps")
        for key, value in (("num_filters", num_filters), ("num_latent_channels", num_latent_channels)):
            if not isinstance(value, int) or not 1 <= value <= 256:
                raise ConfigError(f"{codec_name} {key} = {value!r}: must be an integer in [1, 256]")
        bs_array = default_bs_array(num_bs_ant) if bs_array is None else bs_array
        self.to_angular_delay, self.from_angular_delay = front_end or angular_delay_pair(
            num_bs_ant, num_subcarriers, num_delay_taps, num_precursor_taps, bs_array, codec_name
        )
        self.config = {
            "num_bs_ant": num_bs_ant, "num_subcarriers": num_subcarriers, "num_delay_taps": num_delay_taps,
            "num_precursor_taps": num_precursor_taps, "bs_array": [int(v) for v in bs_array],
            "num_filters": num_filters, "num_latent_channels": num_latent_channels, "seed": seed,
        }  # fmt: skip
        self.num_delay_taps = num_delay_taps
        gen = torch.Generator().manual_seed(int(seed))
        f, c = num_filters, num_latent_channels
        self.analysis_net = nn.Sequential(
            nn.PixelUnshuffle(2), conv2d(8, f, (3, 3), gen), nn.LeakyReLU(0.3),
            CRBlock(f, gen),
            conv2d(f, c, (3, 3), gen, stride=2, linear=True),
        )  # fmt: skip
        self.synthesis_net = nn.Sequential(
            conv2d(c, 4 * f, (3, 3), gen), nn.PixelShuffle(2), nn.LeakyReLU(0.3),
            CRBlock(f, gen),
            CRBlock(f, gen),
            conv2d(f, 8, (3, 3), gen, linear=True), nn.PixelShuffle(2),
        )  # fmt: skip
        # channels-last convolutions run 1.4-2.5x faster with oneDNN on these small images (measured)
        self.analysis_net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.synthesis_net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self._latent_grid = (c, num_bs_ant // 4, num_delay_taps // 4)

    def analysis_grid(self, h_n: torch.Tensor) -> torch.Tensor:
        """h_n [B, A, S] complex64 -> y [B, C, A/4, T/4] float32 (contiguous)."""
        re, im = self.to_angular_delay(h_n.real, h_n.imag)
        x = torch.stack([re, im], dim=1).contiguous(memory_format=torch.channels_last)
        return self.analysis_net(x).contiguous()

    def synthesis_grid(self, y_hat: torch.Tensor) -> torch.Tensor:
        """y_hat [B, C, A/4, T/4] (any layout of that many values per report) -> h_n_hat [B, A, S] complex64."""
        y = y_hat.reshape(len(y_hat), *self._latent_grid).contiguous(memory_format=torch.channels_last)
        x = self.synthesis_net(y).contiguous()
        re, im = self.from_angular_delay(x[:, 0], x[:, 1])
        return torch.complex(re, im)


@register_codec("rd-crnet")
class RDCRNet(CRNetTransforms):
    """A CRNet-class convolutional autoencoder with a per-position factorized prior, trained on the RD loss.

    The fixed angular-delay transform (as in ``learned-transform``) makes the channel sparse; a convolutional encoder
    with a multi-resolution block maps it to a ``[C, A/4, T/4]`` latent,
    whose every position has its own DeepFactorized density (the energy of an angular-delay image is not
    stationary: low delays carry most of it); a decoder with pixel-shuffle upsampling and two
    multi-resolution blocks maps the decoded latent back::

        h_n [B,A,S] ─IDFT over S, keep T taps, DFT over the array─> x [B,2,A,T] ─unshuffle x2─> [B,8,A/2,T/2]
          ─conv3x3 F─CRBlock(F)─conv3x3/2 C─> y [B,C,A/4,T/4] ─quantize─> q ─range coder─> bytes
        bytes ─> y_hat ─conv3x3 4F─shuffle x2─CRBlock(F)─CRBlock(F)─conv3x3 8─shuffle x2─>
          x_hat [B,2,A,T] ─inverse transform (dropped taps zero)─> h_n_hat [B,A,S]

    Every convolution works at half or quarter resolution (space-to-depth in, depth-to-space out), which
    keeps a report at a few tens of MFLOPs.
    F = ``num_filters``, C = ``num_latent_channels``; FLOPs per report are measured by
    ``benchmarks/bench_codecs.py`` (``rd-cnn-paper``, the core paper's architecture, costs ~1.1 GFLOPs).

    Args:
        num_bs_ant: A, BS antennas (A/4 and T/4 must be whole).
        num_subcarriers: S, OFDM subcarriers.
        num_delay_taps: T, delay taps kept (a multiple of 4, <= S); None: min(32, S) rounded down to 4.
        num_precursor_taps: taps kept from the end of the delay axis (wrapped negative delays).
        bs_array: (rows, cols) of the BS array for the 2-D angular DFT; None: square if A is a square.
        num_filters: F, channels of the hidden layers.
        num_latent_channels: C, latent channels per position.
        seed: seed of the explicit generator used to initialise the weights.
    """

    decoder_modules = ("synthesis_net", "prior")

    def __init__(
        self,
        num_bs_ant: int = 64,
        num_subcarriers: int = 64,
        num_delay_taps: int | None = None,
        num_precursor_taps: int = 2,
        bs_array: tuple[int, int] | list[int] | None = None,
        num_filters: int = 16,
        num_latent_channels: int = 8,
        seed: int = 0,
    ) -> None:
        super().__init__(num_bs_ant, num_subcarriers, num_delay_taps, num_precursor_taps, bs_array, num_filters,
                         num_latent_channels, seed, "rd-crnet")
        num_positions = int(np.prod(self._latent_grid))
        self.prior = FactorizedPrior(num_positions, filters=(3, 3), tail_mass=1e-6, max_symbols=255,
                                     seed=int(seed) + 1)
        self._finish_init()

    def analysis(self, h_n: torch.Tensor) -> torch.Tensor:
        """h_n [B, A, S] complex64 -> y [B, C*A/4*T/4, 1]: one prior channel per latent position."""
        y = self.analysis_grid(h_n)
        return y.reshape(len(y), -1, 1)

    def synthesis(self, y_hat: torch.Tensor) -> torch.Tensor:
        """y_hat [B, C*A/4*T/4, 1] -> h_n_hat [B, A, S] complex64."""
        return self.synthesis_grid(y_hat)
