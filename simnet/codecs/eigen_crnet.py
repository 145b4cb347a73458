"""``eigen-crnet``: CRNet's convolutional transforms on the per-subband directions, trained on SGCS."""

from __future__ import annotations

import numpy as np
import torch

from simnet.codecs.base import register_codec
from simnet.codecs.eigen_sgcs import DirectionCodec, direction_grid, subband_delay_pair
from simnet.codecs.rd_crnet import CRNetTransforms
from simnet.coding.prior import FactorizedPrior
from simnet.subbands import SGCS_SUBBAND_SIZE


@register_codec("eigen-crnet")
class EigenCRNet(DirectionCodec, CRNetTransforms):
    """A CRNet-class convolutional autoencoder of the per-subband directions, loss lambda (1 - SGCS) + bits.

    The 3GPP studies' target (the dominant direction of every PMI subband, :class:`DirectionCodec`) through
    ``rd-crnet``'s networks: the unitary 2-D angular DFT and the unitary DFT over all N3 subbands
    (:func:`simnet.codecs.eigen_sgcs.subband_delay_pair`, scaled to unit mean square per value) give an
    angle x subband-delay image, which the multi-resolution convolutional encoder maps to a
    ``[C, A/4, N3/4]`` latent with a DeepFactorized density per position; the decoder maps it back and
    the BS holds the unit-norm directions as eType II's BS view::

        h [B,A,S] ─subband directions, phase-normalised─> v [B,N3,A] ─angle DFT, subband DFT─> x [B,2,A,N3]
          ─unshuffle x2─conv3x3 F─CRBlock(F)─conv3x3/2 C─> y [B,C,A/4,N3/4] ─quantize─> q ─range coder─> bytes
        bytes ─> y_hat ─conv3x3 4F─shuffle x2─CRBlock(F)─CRBlock(F)─conv3x3 8─shuffle x2─> x_hat [B,2,A,N3]
          ─inverse DFTs, unit norm per subband─> w_hat [B,N3,A] ─conj, repeat over the subband─> h_hat [B,A,S]

    Unlike ``eigen-sgcs``'s MLP, whose last layer spans a subspace as wide as its hidden layer, the
    convolutional decoder can place a path's energy anywhere on the image. Same size class as ``rd-crnet``
    (F = 16, C = 8: 53 K parameters, 40 K of them at the BS; 18.6 MFLOPs per report, half rd-crnet's: N3 = 16 columns
    against 32 delay taps). Its fine-tuning and update-coding defaults are the CRNet family's (measured on rd-crnet).

    Args:
        num_bs_ant: A, BS antennas (a multiple of 4).
        num_subcarriers: S, OFDM subcarriers.
        bs_array: (rows, cols) of the BS planar array for the angular DFT; None: square if A is a square.
        subband_size: subcarriers per subband (N3 = ceil(S / subband_size)), as SGCS scores them; the image has
            N3 columns rounded up to a multiple of 4 (the extra ones zero).
        num_filters: F, channels of the hidden layers.
        num_latent_channels: C, latent channels per position.
        seed: seed of the explicit generator used to initialise the weights.
    """

    decoder_modules = ("synthesis_net", "prior")

    def __init__(
        self,
        num_bs_ant: int = 64,
        num_subcarriers: int = 64,
        bs_array: tuple[int, int] | list[int] | None = None,
        subband_size: int = SGCS_SUBBAND_SIZE,
        num_filters: int = 16,
        num_latent_channels: int = 8,
        seed: int = 0,
    ) -> None:
        bs_array, n3 = direction_grid("eigen-crnet", num_bs_ant, num_subcarriers, bs_array, subband_size)
        num_columns = n3 + (-n3) % 4  # two stride-2 convolutions: zero columns pad the image to a multiple of 4
        front_end = subband_delay_pair(bs_array, n3, n3, scale=float(np.sqrt(2 * num_bs_ant)),
                                       num_zero_taps=num_columns - n3)
        super().__init__(num_bs_ant, num_subcarriers, num_columns, 0, bs_array, num_filters, num_latent_channels, seed,
                         "eigen-crnet", front_end=front_end)
        self.subband_size = subband_size
        self.num_subbands = n3
        self.config = {
            "num_bs_ant": num_bs_ant, "num_subcarriers": num_subcarriers, "bs_array": [int(v) for v in bs_array],
            "subband_size": subband_size, "num_filters": num_filters, "num_latent_channels": num_latent_channels,
            "seed": seed,
        }  # fmt: skip
        num_positions = int(np.prod(self._latent_grid))
        self.prior = FactorizedPrior(num_positions, filters=(3, 3), tail_mass=1e-6, max_symbols=255,
                                     seed=int(seed) + 1)
        self._finish_init()

    def encode_directions(self, v: torch.Tensor) -> torch.Tensor:
        """v [B, N3, A] complex64 -> y [B, C*A/4*N3/4, 1]: one prior channel per latent position."""
        y = self.analysis_grid(v.transpose(1, 2))
        return y.reshape(len(y), -1, 1)

    def decode_directions(self, y_hat: torch.Tensor) -> torch.Tensor:
        """y_hat [B, C*A/4*N3/4, 1] -> w_hat [B, N3, A] complex64, unit norm per subband."""
        return self._unit_subbands(self.synthesis_grid(y_hat).transpose(1, 2))
