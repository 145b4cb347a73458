"""``eigen-sgcs``: a neural codec of the per-subband channel directions, trained on SGCS (the 3GPP target)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from simnet.codecs.angular_delay import ComplexLinear2D, default_bs_array, unitary_dft
from simnet.codecs.base import register_codec
from simnet.codecs.common import RDCodec
from simnet.codecs.layers import dense
from simnet.coding.prior import FactorizedPrior
from simnet.errors import ConfigError
from simnet.subbands import SGCS_SUBBAND_SIZE, subband_directions

_EPS = 1e-12


def sgcs_of_directions(v: torch.Tensor, w_hat: torch.Tensor) -> torch.Tensor:
    """Per-report SGCS of decoded directions, differentiable in ``w_hat``.

    SGCS = mean_j |w_hat_j^H v_j|^2 / (||w_hat_j||^2 ||v_j||^2); a subband where either vector is zero
    scores 0, as in :func:`simnet.sim.beamforming.sgcs`.

    Args:
        v: [B, N3, A] complex64, target directions (unit norm or zero).
        w_hat: [B, N3, A] complex64, decoded directions (any norm).

    Returns:
        [B] float32, in [0, 1].
    """
    inner = torch.sum(torch.conj(w_hat) * v, dim=-1).abs().square()
    power = w_hat.abs().square().sum(-1) * v.abs().square().sum(-1)
    return torch.where(power > _EPS, inner / power.clamp_min(_EPS), torch.zeros_like(inner)).mean(-1)


def direction_grid(name: str, num_bs_ant: int, num_subcarriers: int, bs_array: tuple[int, int] | list[int] | None,
                   subband_size: int) -> tuple[tuple[int, int], int]:
    """A direction codec's checked (rows, cols) of the BS array (None: square if A is a square) and N3 subbands.

    Raises:
        ConfigError: one line naming the codec ``name`` and the bad option.
    """
    bs_array = default_bs_array(num_bs_ant) if bs_array is None else bs_array
    if len(bs_array) != 2 or int(np.prod(bs_array)) != num_bs_ant:
        raise ConfigError(f"{name} bs_array = {list(bs_array)}: rows * cols must be num_bs_ant ({num_bs_ant})")
    if not isinstance(subband_size, int) or not 1 <= subband_size <= num_subcarriers:
        raise ConfigError(f"{name} subband_size = {subband_size!r}: must be an integer in [1, {num_subcarriers}]")
    return (int(bs_array[0]), int(bs_array[1])), -(-num_subcarriers // subband_size)


def subband_delay_pair(bs_array: tuple[int, int] | list[int], num_subbands: int, num_delay_taps: int,
                       scale: float = 1.0, num_zero_taps: int = 0) -> tuple[ComplexLinear2D, ComplexLinear2D]:
    """The forward and inverse angular / subband-delay transforms of the per-subband directions.

    Forward: v^T [B, A, N3] -> x [B, A, T], the unitary 2-D DFT over the ``bs_array`` (rows, cols) times
    ``scale`` and the unitary IDFT over the subbands, of which T taps are kept: the lowest T - T // 4 and the
    T // 4 wrapped negative ones, in that order of delay (so neighbouring taps are neighbours on the axis).
    ``num_zero_taps`` all-zero taps follow (a convolutional codec's image padded to a multiple of 4 columns).
    Inverse: the adjoint of the unscaled transform (the dropped taps are zero).
    """
    taps = (np.arange(num_delay_taps) - num_delay_taps // 4) % num_subbands
    angle = np.kron(unitary_dft(int(bs_array[0])), unitary_dft(int(bs_array[1])))
    subband = np.conj(unitary_dft(num_subbands))[:, taps]  # [N3, T]: directions over subbands -> kept delay taps
    subband = np.pad(subband, ((0, 0), (0, num_zero_taps)))
    return ComplexLinear2D(angle * scale, subband), ComplexLinear2D(np.conj(angle).T, np.conj(subband).T)


class DirectionCodec(RDCodec):
    """Base of the codecs that report the per-subband directions and are trained on SGCS (the 3GPP target).

    The target is what SGCS scores and what eType II reports: the dominant direction v_j of every PMI
    subband (:func:`simnet.subbands.subband_directions`; for a single-antenna UE the subband's channel
    direction), unit norm, phase-normalised (the strongest antenna's entry real and positive on every
    subband, so a path's delay phase does not spread its energy over the subband-delay axis). The BS decodes
    unit-norm directions w_hat_j and holds them as h_hat[:, k] = conj(w_hat_j) on subband j's subcarriers
    (the codebooks' BS view, so MRT on h_hat transmits w_hat_j; NMSE against h is not meaningful for it,
    SGCS is). No norm code is sent. A subclass sets ``subband_size`` and implements
    :meth:`encode_directions` and :meth:`decode_directions`; this class does the rest.
    """

    norm_code_bits = 0
    subband_size: int

    # ------------------------------------------------------------------------------------ the target
    def target_directions(self, h: torch.Tensor) -> torch.Tensor:
        """h [B, A, S] complex64 -> v [B, N3, A] complex64: unit-norm subband directions, phase-normalised."""
        v = subband_directions(h.detach().numpy(), self.subband_size)  # no gradient flows into the target
        ref = np.argmax(np.sum(np.abs(v) ** 2, axis=1), axis=-1)  # [B] strongest antenna over the band
        ref_v = np.take_along_axis(v, ref[:, None, None], axis=2)  # [B, N3, 1]
        phase = np.where(np.abs(ref_v) > 0, np.exp(-1j * np.angle(ref_v)), 1.0)
        return torch.from_numpy((v * phase).astype(np.complex64))

    def to_bs_view(self, w: torch.Tensor) -> torch.Tensor:
        """w [B, N3, A] -> h_hat [B, A, S] complex64: conj(w_j) on every subcarrier of subband j."""
        sb = torch.arange(self.num_subcarriers) // self.subband_size
        return torch.conj(w[:, sb, :]).transpose(1, 2).contiguous()

    def encode_directions(self, v: torch.Tensor) -> torch.Tensor:
        """v [B, N3, A] complex64 -> y [B, C, 1] float32 (one prior channel per latent)."""
        raise NotImplementedError

    def decode_directions(self, y_hat: torch.Tensor) -> torch.Tensor:
        """y_hat [B, C, 1] float32 -> w_hat [B, N3, A] complex64, unit norm per subband."""
        raise NotImplementedError

    @staticmethod
    def _unit_subbands(w: torch.Tensor) -> torch.Tensor:
        return w / w.abs().square().sum(-1, keepdim=True).sqrt().clamp_min(_EPS)

    def analysis(self, h_n: torch.Tensor) -> torch.Tensor:
        return self.encode_directions(self.target_directions(h_n))

    def synthesis(self, y_hat: torch.Tensor) -> torch.Tensor:
        return self.to_bs_view(self.decode_directions(y_hat))

    # -------------------------------------------------------------------------- training and inference
    def forward(self, h: np.ndarray | torch.Tensor, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Training pass (uniform noise in train mode, rounding in eval mode).

        Returns:
            {"h_hat": [B, A, S] complex64 BS view, "v": [B, N3, A] target, "w_hat": [B, N3, A] decoded
            directions, "likelihoods": {"y": [B, C, 1] float32}}.
        """
        v = self.target_directions(self._as_tensor(h))
        y_tilde, likelihoods = self.prior(self.encode_directions(v), generator)
        w_hat = self.decode_directions(y_tilde)
        return {"h_hat": self.to_bs_view(w_hat), "v": v, "w_hat": w_hat, "likelihoods": {"y": likelihoods}}

    def distortion(self, h: torch.Tensor, out: dict[str, Any]) -> torch.Tensor:
        """The codec's own distortion, 1 - mean SGCS of a forward output (what fine-tuning minimises)."""
        return 1.0 - sgcs_of_directions(out["v"], out["w_hat"]).mean()

    def rd_loss(self, out: dict[str, Any], lmbda: float) -> dict[str, torch.Tensor]:
        """``lambda * (1 - SGCS) + bits/dim`` (bits per real CSI dimension 2 A S, as every simnet table).

        Returns:
            {"loss", "distortion" (1 - SGCS), "sgcs", "bpd"}: scalar float32 tensors.
        """
        score = sgcs_of_directions(out["v"], out["w_hat"]).mean()
        bits = -torch.log2(out["likelihoods"]["y"]).flatten(1).sum(1).mean()
        bpd = bits / self.num_real_dims
        return {"loss": lmbda * (1.0 - score) + bpd, "distortion": 1.0 - score, "sgcs": score, "bpd": bpd}

    @torch.no_grad()
    def quantize(self, h: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """UE side up to the coder: h [B, A, S] -> (zero codes [B] int64, symbols q [B, C] int64)."""
        q = self.prior.quantize(self.analysis(self._as_tensor(h)))
        return np.zeros(len(q), dtype=np.int64), q.reshape(q.shape[0], -1).numpy()

    @torch.no_grad()
    def dequantize(self, codes: np.ndarray, q: np.ndarray) -> np.ndarray:
        """BS side after the coder: (codes [B], q [B, C]) -> h_hat [B, A, S] complex64 (codes unused)."""
        q_t = torch.as_tensor(q, dtype=torch.int64).reshape(-1, *self.latent_shape)
        return self.synthesis(self.prior.dequantize(q_t)).numpy()


@register_codec("eigen-sgcs")
class EigenSGCSCodec(DirectionCodec):
    """An MLP autoencoder of the per-subband directions in the angular-delay domain, loss lambda (1 - SGCS) + bits.

    The target and the BS view are :class:`DirectionCodec`'s. The unitary 2-D angular DFT over the array and
    the unitary DFT over the subbands (:func:`subband_delay_pair`) make the directions sparse; an MLP maps
    them to ``C`` latents with a DeepFactorized prior each::

        h [B,A,S] ─subband directions, phase-normalised─> v [B,N3,A] ─angle DFT, subband DFT, T taps─> x [B,2*A*T]
          ─dense H─LeakyReLU─dense C─> y [B,C,1] ─quantize─> q ─range coder─> bytes
        bytes ─> q ─> y_hat ─dense H─LeakyReLU─dense 2*A*T─> x_hat ─inverse DFTs, unit norm─> w_hat [B,N3,A]
          ─conj, repeat over the subband─> h_hat [B,A,S]

    Parameters: about 2 * (2 A T) H (A = 64, T = N3 = 16, H = 64: 0.27 M).

    Args:
        num_bs_ant: A, BS antennas.
        num_subcarriers: S, OFDM subcarriers.
        bs_array: (rows, cols) of the BS planar array for the angular DFT; None: square if A is a square.
        subband_size: subcarriers per subband (N3 = ceil(S / subband_size)), as SGCS scores them.
        num_hidden: H, width of the hidden layer of encoder and decoder.
        num_latent: C, latents per report.
        num_delay_taps: T, subband-delay taps kept (the lowest T - T // 4 and the T // 4 wrapped negative
            ones; None: all N3). Fewer taps cap SGCS (o1_like: T = 8 of 16 keeps 0.90) but halve the net.
        seed: seed of the explicit generator that initialises the weights.
    """

    decoder_modules = ("synthesis_net", "prior")

    def __init__(self, num_bs_ant: int = 64, num_subcarriers: int = 64,
                 bs_array: tuple[int, int] | list[int] | None = None, subband_size: int = SGCS_SUBBAND_SIZE,
                 num_hidden: int = 64, num_latent: int = 16, num_delay_taps: int | None = None,
                 seed: int = 0) -> None:
        super().__init__(num_bs_ant, num_subcarriers)
        bs_array, n3 = direction_grid("eigen-sgcs", num_bs_ant, num_subcarriers, bs_array, subband_size)
        for key, value in (("num_hidden", num_hidden), ("num_latent", num_latent)):
            if not isinstance(value, int) or not 1 <= value <= 1024:
                raise ConfigError(f"eigen-sgcs {key} = {value!r}: must be an integer in [1, 1024]")
        self.config = {
            "num_bs_ant": num_bs_ant, "num_subcarriers": num_subcarriers, "bs_array": [int(v) for v in bs_array],
            "subband_size": subband_size, "num_hidden": num_hidden, "num_latent": num_latent, "seed": seed,
        }  # fmt: skip
        self.subband_size = subband_size
        self.num_subbands = n3
        num_delay_taps = n3 if num_delay_taps is None else num_delay_taps
        if not isinstance(num_delay_taps, int) or not 1 <= num_delay_taps <= n3:
            raise ConfigError(f"eigen-sgcs num_delay_taps = {num_delay_taps!r}: must be an integer in [1, {n3}] "
                              f"(the number of subbands)")
        if num_delay_taps != n3:
            self.config["num_delay_taps"] = num_delay_taps  # absent for all taps: older checkpoints still load
        self.num_delay_taps = num_delay_taps
        self.to_angular_delay, self.from_angular_delay = subband_delay_pair(bs_array, n3, num_delay_taps)
        num_in = 2 * num_bs_ant * num_delay_taps
        self._input_scale = float(np.sqrt(2 * num_bs_ant))  # unit-norm subbands -> unit mean square per dim
        gen = torch.Generator().manual_seed(int(seed))
        self.analysis_net = nn.Sequential(dense(num_in, num_hidden, gen), nn.LeakyReLU(0.3),
                                          dense(num_hidden, num_latent, gen, linear=True))
        self.synthesis_net = nn.Sequential(dense(num_latent, num_hidden, gen), nn.LeakyReLU(0.3),
                                           dense(num_hidden, num_in, gen, linear=True))
        self.prior = FactorizedPrior(num_latent, filters=(3, 3), tail_mass=1e-6, max_symbols=255,
                                     seed=int(seed) + 1)
        self._finish_init()

    # ------------------------------------------------------------------------------------ the networks
    def encode_directions(self, v: torch.Tensor) -> torch.Tensor:
        """v [B, N3, A] complex64 -> y [B, C, 1] float32."""
        re, im = self.to_angular_delay(v.real.transpose(1, 2), v.imag.transpose(1, 2))
        x = torch.cat([re.flatten(1), im.flatten(1)], dim=1) * self._input_scale
        return self.analysis_net(x).unsqueeze(-1)

    def decode_directions(self, y_hat: torch.Tensor) -> torch.Tensor:
        """y_hat [B, C, 1] float32 -> w_hat [B, N3, A] complex64, unit norm per subband."""
        x = self.synthesis_net(y_hat.squeeze(-1)).reshape(len(y_hat), 2, self.num_bs_ant, self.num_delay_taps)
        re, im = self.from_angular_delay(x[:, 0], x[:, 1])
        return self._unit_subbands(torch.complex(re, im).transpose(1, 2))
