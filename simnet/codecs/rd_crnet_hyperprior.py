"""``rd-crnet-hyperprior``: the CRNet-class convolutional RD codec with a scale hyperprior entropy model."""

from __future__ import annotations

from typing import Any

import constriction
import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from simnet.codecs.base import register_codec
from simnet.codecs.layers import conv2d
from simnet.codecs.normalization import NORM_CODE_BITS, NORM_MODEL, NORM_OFFSET, denormalize, norm_code, normalize
from simnet.codecs.rd_crnet import CRNetTransforms
from simnet.coding import gaussian_conditional as gc
from simnet.coding.prior import LATENT_LIMIT, FactorizedPrior
from simnet.coding.stream_layout import (
    RecordingDecoder,
    SymbolLayout,
    bytes_to_words,
    decode_uints,
    encode_uints,
    words_to_bytes,
)
from simnet.errors import ConfigError, DataError


class _Crop(nn.Module):
    """Keeps the first ``height`` x ``width`` positions: [B, C, >=H, >=W] -> [B, C, H, W]."""

    def __init__(self, height: int, width: int) -> None:
        super().__init__()
        self.height, self.width = height, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, : self.height, : self.width]


@register_codec("rd-crnet-hyperprior")
class RDCRNetHyperprior(CRNetTransforms):
    """``rd-crnet``'s transforms with a scale hyperprior: side information z sets the scale of every latent.

    The analysis and synthesis networks are ``rd-crnet``'s (:class:`CRNetTransforms`). A hyper-analysis h_a maps
    ``|y|`` to a small side latent z with one DeepFactorized density per position; the hyper-synthesis h_s maps
    the decoded z back to a log-scale per latent of y, whose zero-mean Gaussian conditional codes y
    (:mod:`simnet.coding.gaussian_conditional`)::

        UE: h_n ─analysis─> y [B,C,A/4,T/4] ─|.|─conv3x3 N─conv3x3/2 N─conv3x3/2 M─> z [B,M,A/16,T/16]
            z ─quantize─> z_hat ─conv3x3 4N─shuffle x2─conv3x3 4N─shuffle x2─crop─conv3x3 C─> r (log-scale of y)
            bytes = norm code | z symbols (factorized prior) | round(y) under N(0, SCALES[index(r)]^2)
        BS: bytes ─> z_hat ─h_s─> r ─> round(y) ─synthesis─> h_n_hat

    Both sides compute r from the same integer z symbols through the same float64 path (per report, weights
    cast to float64) and quantize it to a fixed 64-entry scale table, so the stds handed to the coder agree bit
    for bit unless two machines' float64 convolutions disagree by more than rounding noise across a table
    boundary (12 % apart). N = ``num_hyper_filters``, M = ``num_hyper_channels``.

    Args:
        num_bs_ant, num_subcarriers, num_delay_taps, num_precursor_taps, bs_array, num_filters,
            num_latent_channels: as for ``rd-crnet``.
        num_hyper_filters: N, hidden channels of h_a and h_s.
        num_hyper_channels: M, channels of z.
        seed: seed of the explicit generators used to initialise the weights.
    """

    decoder_modules = ("synthesis_net", "hyper_synthesis", "prior")

    def __init__(
        self,
        num_bs_ant: int = 64,
        num_subcarriers: int = 64,
        num_delay_taps: int | None = None,
        num_precursor_taps: int = 2,
        bs_array: tuple[int, int] | list[int] | None = None,
        num_filters: int = 16,
        num_latent_channels: int = 8,
        num_hyper_filters: int = 16,
        num_hyper_channels: int = 4,
        seed: int = 0,
    ) -> None:
        super().__init__(num_bs_ant, num_subcarriers, num_delay_taps, num_precursor_taps, bs_array, num_filters,
                         num_latent_channels, seed, "rd-crnet-hyperprior")
        for key, value in (("num_hyper_filters", num_hyper_filters), ("num_hyper_channels", num_hyper_channels)):
            if not isinstance(value, int) or not 1 <= value <= 256:
                raise ConfigError(f"rd-crnet-hyperprior {key} = {value!r}: must be an integer in [1, 256]")
        self.config.update(num_hyper_filters=num_hyper_filters, num_hyper_channels=num_hyper_channels)
        gen = torch.Generator().manual_seed(int(seed) + 2)
        c, height, width = self._latent_grid
        n, m = num_hyper_filters, num_hyper_channels
        self.hyper_analysis = nn.Sequential(
            conv2d(c, n, (3, 3), gen), nn.LeakyReLU(0.3),
            conv2d(n, n, (3, 3), gen, stride=2), nn.LeakyReLU(0.3),
            conv2d(n, m, (3, 3), gen, stride=2, linear=True),
        )  # fmt: skip
        self.hyper_synthesis = nn.Sequential(
            conv2d(m, 4 * n, (3, 3), gen), nn.PixelShuffle(2), nn.LeakyReLU(0.3),
            conv2d(n, 4 * n, (3, 3), gen), nn.PixelShuffle(2), nn.LeakyReLU(0.3),
            _Crop(height, width), conv2d(n, c, (3, 3), gen, linear=True),
        )  # fmt: skip
        with torch.no_grad():
            self._side_grid = tuple(self.hyper_analysis(torch.zeros(1, c, height, width)).shape[1:])
        self.prior = FactorizedPrior(int(np.prod(self._side_grid)), filters=(3, 3), tail_mass=1e-6,
                                     max_symbols=255, seed=int(seed) + 1)
        self._finish_init()

    def _finish_init(self) -> None:
        self.latent_shape = self._latent_grid
        self._num_side = int(np.prod(self._side_grid))
        self._num_y = int(np.prod(self._latent_grid))
        self._channel_index = np.arange(self._num_side, dtype=np.int64)  # z: one prior channel per position

    @property
    def num_latent(self) -> int:
        """Symbols per report: the side latent's, then y's."""
        return self._num_side + self._num_y

    # ------------------------------------------------------------------------------------------ networks
    def analysis(self, h_n: torch.Tensor) -> torch.Tensor:
        """h_n [B, A, S] complex64 -> y [B, C, A/4, T/4] float32."""
        return self.analysis_grid(h_n)

    def synthesis(self, y_hat: torch.Tensor) -> torch.Tensor:
        """y_hat [B, C, A/4, T/4] -> h_n_hat [B, A, S] complex64."""
        return self.synthesis_grid(y_hat)

    def side_information(self, y: torch.Tensor) -> torch.Tensor:
        """The side path as it runs for one report: h_a at the UE, h_s at the UE and again at the BS.

        Args:
            y: [B, C, A/4, T/4] float32.

        Returns:
            r, the log-scales of y [B, C, A/4, T/4] float32 (used by the FLOP count of ``simnet list``).
        """
        z = self.hyper_analysis(y.abs())
        z_hat = torch.round(z)  # stands in for the prior's quantizer (no FLOPs; its tables are built once, not
        # per report, and building them here would be counted)
        self.hyper_synthesis(z_hat)  # the UE's copy, which its coder needs
        return self.hyper_synthesis(z_hat)  # the BS's

    def _scale_index(self, z_hat: torch.Tensor) -> torch.Tensor:
        """Coding-table index of every latent of y from z_hat [B, num_side, 1]: [B, num_y] int64.

        The one path encoder and decoder share, in float64 (rounding noise ~1e-16 next to a table step of 0.12
        in log-scale). CPU float64 convolutions run frame by frame (no oneDNN kernel takes float64), so a
        report's result does not depend on the batch it is in; ``tests/codecs`` checks this.
        """
        params = {k: v.detach().to(torch.float64) for k, v in self.hyper_synthesis.named_parameters()}
        z64 = z_hat.detach().cpu().to(torch.float64).reshape(len(z_hat), *self._side_grid)
        with torch.no_grad():
            log_scale = functional_call(self.hyper_synthesis, params, (z64,))
        return gc.scale_index(log_scale.reshape(len(z64), -1))

    # ---------------------------------------------------------------------------------------- training
    def forward(self, h: np.ndarray | torch.Tensor, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Training pass (uniform-noise relaxation in train mode; in eval mode the coding path's rounding and
        table scales, so the rate estimate is the real coder's model).

        Args:
            h: [B, A, S], complex64, channels (any power).
            generator: source of the quantization noise (z's first, then y's).

        Returns:
            {"h_hat", "h_n", "h_n_hat": [B, A, S] complex64, "likelihoods": {"y": [B, C, A/4, T/4],
            "z": [B, num_side, 1]} float32, "norm_code": [B] int64}.
        """
        h_t = self._as_tensor(h)
        code = norm_code(h_t)
        h_n = normalize(h_t, code)
        y = self.analysis_grid(h_n)
        z = self.hyper_analysis(y.abs())
        z_tilde, z_likelihoods = self.prior(z.reshape(len(z), -1, 1), generator)
        if self.training:
            noise = torch.rand(y.shape, generator=generator, dtype=y.dtype, device=y.device) - 0.5
            y_tilde = y + noise
            scale = gc.training_scale(self.hyper_synthesis(z_tilde.reshape(z.shape)))
        else:
            y_tilde = torch.round(y.clamp(-LATENT_LIMIT, LATENT_LIMIT))
            scale = gc.table_scale(self._scale_index(z_tilde)).reshape(y.shape).to(y.device)
        h_n_hat = self.synthesis_grid(y_tilde)
        return {
            "h_hat": denormalize(h_n_hat, code),
            "h_n": h_n,
            "h_n_hat": h_n_hat,
            "likelihoods": {"y": gc.likelihood(y_tilde, scale), "z": z_likelihoods},
            "norm_code": code,
        }

    # --------------------------------------------------------------------------------------- inference
    @torch.no_grad()
    def quantize(self, h: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """UE side up to the coder: h [B, A, S] -> (norm codes [B] int64, symbols [B, num_side + num_y] int64)."""
        h_t = self._as_tensor(h)
        code = norm_code(h_t)
        y = self.analysis_grid(normalize(h_t, code))
        q_z = self.prior.quantize(self.hyper_analysis(y.abs()).reshape(len(y), -1, 1))
        q_y = torch.round(y.clamp(-LATENT_LIMIT, LATENT_LIMIT)).to(torch.int64)
        return code.numpy(), torch.cat([q_z.reshape(len(y), -1), q_y.reshape(len(y), -1)], dim=1).numpy()

    @torch.no_grad()
    def dequantize(self, codes: np.ndarray, q: np.ndarray) -> np.ndarray:
        """BS side after the coder: (codes [B], symbols [B, num_latent]) -> h_hat [B, A, S] complex64."""
        q_y = torch.as_tensor(q[:, self._num_side :], dtype=torch.int64).to(torch.float32)
        h_n_hat = self.synthesis_grid(q_y.reshape(-1, *self._latent_grid))
        return denormalize(h_n_hat, torch.as_tensor(codes, dtype=torch.int64)).numpy()

    def _side_hat(self, q_z: np.ndarray) -> torch.Tensor:
        return self.prior.dequantize(torch.as_tensor(q_z, dtype=torch.int64).reshape(len(q_z), -1, 1))

    def _plans(self, q: np.ndarray) -> tuple[list[list[Any]], list[list[Any]]]:
        """Encoder calls of each report's z symbols and of its y symbols (two lists of B call lists)."""
        q = np.asarray(q, dtype=np.int64).reshape(-1, self.num_latent)
        q_z, q_y = q[:, : self._num_side], q[:, self._num_side :]
        index = self._scale_index(self._side_hat(q_z)).numpy()
        return self._layout().plan(q_z), gc.plan(q_y, index)

    def _report_calls(self, q: np.ndarray) -> list[list[tuple[Any, ...]]]:
        """A report's stream (``RDCodec.entropy_encode``): norm code | z symbols (the factorized prior's
        :class:`SymbolLayout`) | y symbols (the Gaussian conditional under the scales z gives)."""
        return [z_calls + y_calls for z_calls, y_calls in zip(*self._plans(q), strict=True)]

    def _encode_packed(self, codes: np.ndarray, q: np.ndarray) -> bytes:
        """One stream: report count | norm codes | every report's z symbols | every report's y symbols."""
        encoder = constriction.stream.queue.RangeEncoder()
        encode_uints(encoder, np.array([len(codes) - 1]))
        encoder.encode((np.asarray(codes) + NORM_OFFSET).astype(np.int32), NORM_MODEL)
        z_plans, y_plans = self._plans(q)
        for calls in z_plans + y_plans:
            for call in calls:
                encoder.encode(*call)
        return words_to_bytes(encoder.get_compressed())

    def _parse(self, streams: list[bytes], packed: bool) -> tuple[np.ndarray, np.ndarray]:
        """Parse streams: (codes [R] int64, symbols [R, num_latent] int64); DataError unless each is canonical.

        Every stream's z symbols are read first, then the scales of all reports are computed in one batch,
        then every stream's y symbols are read under them.
        """
        layout = self._layout()
        try:
            decoders: list[RecordingDecoder] = []
            counts: list[int] = []
            codes: list[np.ndarray] = []
            q_z: list[np.ndarray] = []
            for stream in streams:
                decoder = RecordingDecoder(bytes_to_words(stream))
                num_reports = 1
                if packed:
                    num_reports = int(decode_uints(decoder, 1)[0]) + 1
                    if num_reports > len(stream) // 2:  # every report costs at least its 16-bit norm code
                        raise DataError("corrupt bitstream: implausible report count")
                codes.append(decoder.decode(NORM_MODEL, num_reports).astype(np.int64) - NORM_OFFSET)
                q_z.extend(layout.decode(decoder) for _ in range(num_reports))
                decoders.append(decoder)
                counts.append(num_reports)
            index = self._scale_index(self._side_hat(np.stack(q_z))).numpy()
            q_y: list[np.ndarray] = []
            for decoder, stream, first, num_reports in zip(decoders, streams, np.cumsum([0, *counts]), counts,
                                                           strict=False):
                q_y.extend(gc.decode(decoder, index[first + i]) for i in range(num_reports))
                if decoder.reencode() != stream:
                    raise DataError("corrupt bitstream: it is not the stream its decoded symbols encode to")
        except DataError:
            raise
        except Exception as err:  # constriction raises plain exceptions on malformed streams
            raise DataError(f"corrupt bitstream: {err}") from None
        return np.concatenate(codes), np.concatenate([np.stack(q_z), np.stack(q_y)], axis=1)

    def _decode_one(self, stream: bytes, packed: bool, layout: SymbolLayout) -> tuple[np.ndarray, np.ndarray]:
        """One stream through :meth:`_parse` (``layout`` is always this codec's own)."""
        return self._parse([stream], packed)

    def entropy_decode(self, streams: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`entropy_encode`: (codes [B] int64, q [B, num_latent] int64); DataError if corrupt."""
        if not streams:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.num_latent), dtype=np.int64)
        return self._parse(streams, False)

    def decompress_packed(self, stream: bytes) -> np.ndarray:
        """Inverse of :meth:`compress_packed`: h_hat [B, A, S] complex64."""
        return self.dequantize(*self._parse([stream], True))

    @torch.no_grad()
    def estimate_bits(self, h: np.ndarray | torch.Tensor) -> np.ndarray:
        """Likelihood estimate of each report's cost: -sum log2 p(z_hat) p(y_hat | z_hat) + 16, [B] float64."""
        was_training = self.training
        self.eval()
        out = self.forward(h)
        self.train(was_training)
        bits = sum(-torch.log2(lik.to(torch.float64)).flatten(1).sum(1) for lik in out["likelihoods"].values())
        return np.asarray(bits) + NORM_CODE_BITS
