"""Shared machinery of the rate-distortion codecs: normalisation, prior, real streams, the RD loss.

A subclass supplies the two networks; this base class does the rest:

    UE:  h ──norm code──> h_n ──analysis──> y ──quantize──> q ──range coder──> bytes
    BS:  bytes ──decoder──> (norm code, q) ──dequantize──> y_hat ──synthesis──> h_n_hat ──x norm──> h_hat

Stream layout (constriction range coder, 32-bit words, read in order): the 16-bit norm code (uniform
model), then the report's latent symbols as laid out by :class:`simnet.coding.stream_layout.SymbolLayout` (block
headers for the symbols that are almost always at their table's mode, the other symbols by table width,
the symbols after each block's first deviation, the exact values of escaped symbols). A packed stream
(several reports) starts with the report count (Elias-gamma style), then all norm codes, then the reports
one after the other. The stream spends no checksum bits (``uplink.report_crc`` can add a CRC per report beside
it, see :mod:`simnet.coding.crc`): a decoded stream is accepted only if re-encoding its
symbols reproduces it byte for byte (valid streams are canonical), which rejects every truncated, padded or
altered stream that is not itself the exact stream of some other symbol sequence.
"""

from __future__ import annotations

from typing import Any, ClassVar

import constriction
import numpy as np
import torch
from torch import nn

from simnet.codecs.normalization import NORM_CODE_BITS, NORM_MODEL, NORM_OFFSET, denormalize, norm_code, normalize
from simnet.coding.prior import FactorizedPrior
from simnet.coding.stream_layout import (
    RecordingDecoder,
    SymbolLayout,
    bytes_to_words,
    decode_uints,
    encode_uints,
    words_to_bytes,
)
from simnet.errors import ConfigError, DataError

SMALL_LR_FINETUNE: dict[str, float] = {"lr": 1e-3, "augment_delay_taps": 0.0, "augment_angle_bins": 0.0}
"""Fine-tune defaults of the codecs fine-tuned at Adam 1e-3 without shift augmentation (the CRNet family's,
measured in ``rd_crnet.py``; bit-alloc and csi-inr take them by analogy)."""
SMALL_LR_UPDATE_CODING: dict[str, float] = {"t": 0.001, "sigma_slab": 0.01}
"""The update step that suits a fine-tune at lr 1e-3 (measured for rd-crnet, ``benchmarks/bench_update_step.py``)."""


class RDCodec(nn.Module):
    """Base class of a codec with a factorized latent prior (see the module docstring for the flow).

    Subclasses set ``self.prior`` (a :class:`FactorizedPrior`), implement :meth:`analysis` and
    :meth:`synthesis`, list their BS-side submodules in ``decoder_modules``, call :meth:`_finish_init`
    at the end of ``__init__`` and keep their constructor kwargs in ``self.config``.
    """

    decoder_modules: tuple[str, ...] = ("synthesis_net", "prior")
    finetune_defaults: ClassVar[dict[str, float]] = {}
    """A codec's own fine-tuning ``lr`` / ``augment_*`` defaults (``simnet.learning.finetune.optimisation``)."""
    update_coding_defaults: ClassVar[dict[str, float]] = {}
    """A codec's own update-coding defaults (``UpdateCoding`` keywords, ``simnet.learning.finetune.update_coding``):
    the quantizer step ``t`` must suit the scale of its decoder-side parameters."""
    prior: FactorizedPrior
    norm_code_bits: int = NORM_CODE_BITS
    """Bits of the per-report norm code at the head of each stream; 0 for a codec whose BS view is scale-free
    (``eigen-sgcs`` reports directions): its streams carry no norm code and its codes are all zero."""

    def __init__(self, num_bs_ant: int, num_subcarriers: int) -> None:
        super().__init__()
        for key, value in (("num_bs_ant", num_bs_ant), ("num_subcarriers", num_subcarriers)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"codec {key} = {value!r}: must be a positive integer")
        self.num_bs_ant = num_bs_ant
        self.num_subcarriers = num_subcarriers
        self.config: dict[str, Any] = {}

    # ------------------------------------------------------------------------------ subclass interface
    def analysis(self, h_n: torch.Tensor) -> torch.Tensor:
        """Encoder network: h_n [B, A, S] complex64 -> y [B, C, *latent_spatial] float32."""
        raise NotImplementedError

    def synthesis(self, y_hat: torch.Tensor) -> torch.Tensor:
        """Decoder network: y_hat [B, C, *latent_spatial] float32 -> h_n_hat [B, A, S] complex64."""
        raise NotImplementedError

    def _finish_init(self) -> None:
        with torch.no_grad():
            probe = torch.zeros(1, self.num_bs_ant, self.num_subcarriers, dtype=torch.complex64)
            self.latent_shape: tuple[int, ...] = tuple(self.analysis(probe).shape[1:])
        num_spatial = int(np.prod(self.latent_shape[1:], dtype=np.int64))
        self._channel_index = np.repeat(np.arange(self.latent_shape[0], dtype=np.int64), num_spatial)

    # ------------------------------------------------------------------------------------------ shapes
    @property
    def num_real_dims(self) -> int:
        """2 * num_bs_ant * num_subcarriers: the CSI dimensions that rates are normalised by."""
        return 2 * self.num_bs_ant * self.num_subcarriers

    @property
    def num_latent(self) -> int:
        """Latent symbols per report."""
        return int(self._channel_index.size)

    def _as_tensor(self, h: np.ndarray | torch.Tensor) -> torch.Tensor:
        h_t = torch.as_tensor(h)
        expected = (self.num_bs_ant, self.num_subcarriers)
        if h_t.dim() != 3 or tuple(h_t.shape[1:]) != expected:
            raise DataError(
                f"channel batch has shape {tuple(h_t.shape)}; this codec expects [batch, {expected[0]}, "
                f"{expected[1]}] (num_bs_ant, num_subcarriers)"
            )
        return h_t.to(torch.complex64)

    # ---------------------------------------------------------------------------------------- training
    def forward(
        self, h: np.ndarray | torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, Any]:
        """Training pass (uniform-noise relaxation in train mode, rounding in eval mode).

        Args:
            h: [B, A, S], complex64, channels (any power).
            generator: source of the quantization noise.

        Returns:
            {"h_hat": [B, A, S] complex64 (channel scale), "h_n": [B, A, S] complex64 normalised input,
            "h_n_hat": its reconstruction, "likelihoods": {"y": [B, C, *] float32}, "norm_code": [B] int64}.
        """
        h_t = self._as_tensor(h)
        code = norm_code(h_t)
        h_n = normalize(h_t, code)
        y_tilde, likelihoods = self.prior(self.analysis(h_n), generator)
        h_n_hat = self.synthesis(y_tilde)
        return {
            "h_hat": denormalize(h_n_hat, code),
            "h_n": h_n,
            "h_n_hat": h_n_hat,
            "likelihoods": {"y": likelihoods},
            "norm_code": code,
        }

    # --------------------------------------------------------------------------------------- inference
    @torch.no_grad()
    def quantize(self, h: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """UE side up to the coder: h [B, A, S] -> (norm codes [B] int64, symbols q [B, num_latent] int64)."""
        h_t = self._as_tensor(h)
        code = norm_code(h_t)
        q = self.prior.quantize(self.analysis(normalize(h_t, code)))
        return code.numpy(), q.reshape(q.shape[0], -1).numpy()

    @torch.no_grad()
    def dequantize(self, codes: np.ndarray, q: np.ndarray) -> np.ndarray:
        """BS side after the coder: (codes [B], q [B, num_latent]) -> h_hat [B, A, S] complex64."""
        q_t = torch.as_tensor(q, dtype=torch.int64).reshape(-1, *self.latent_shape)
        h_n_hat = self.synthesis(self.prior.dequantize(q_t))
        return denormalize(h_n_hat, torch.as_tensor(codes, dtype=torch.int64)).numpy()

    def _layout(self) -> SymbolLayout:
        """Coding layout of one report's symbols, rebuilt only when the prior's tables change."""
        tables = self.prior.tables()
        cached: SymbolLayout | None = getattr(self, "_layout_cache", None)
        if cached is None or cached.tables.fingerprint != tables.fingerprint:
            cached = self._layout_cache = SymbolLayout(self._channel_index, tables)
        return cached

    def _report_calls(self, q: np.ndarray) -> list[list[tuple[Any, ...]]]:
        """Per report, the range-coder calls that code its symbols after its norm code (a codec with side
        information adds its own)."""
        return self._layout().plan(q)

    def entropy_encode(self, codes: np.ndarray, q: np.ndarray) -> list[bytes]:
        """The coder alone, one stream per report: (codes [B] int64, q [B, num_latent] int64) -> B streams."""
        plans = self._report_calls(q)
        norm = (np.asarray(codes) + NORM_OFFSET).astype(np.int32)
        streams = []
        for i, calls in enumerate(plans):
            encoder = constriction.stream.queue.RangeEncoder()
            if self.norm_code_bits:
                encoder.encode(norm[i : i + 1], NORM_MODEL)
            for call in calls:
                encoder.encode(*call)
            streams.append(words_to_bytes(encoder.get_compressed()))
        return streams

    def _encode_packed(self, codes: np.ndarray, q: np.ndarray) -> bytes:
        encoder = constriction.stream.queue.RangeEncoder()
        encode_uints(encoder, np.array([len(codes) - 1]))
        if self.norm_code_bits:
            encoder.encode((np.asarray(codes) + NORM_OFFSET).astype(np.int32), NORM_MODEL)
        for calls in self._layout().plan(q):
            for call in calls:
                encoder.encode(*call)
        return words_to_bytes(encoder.get_compressed())

    def _decode_one(self, stream: bytes, packed: bool, layout: SymbolLayout) -> tuple[np.ndarray, np.ndarray]:
        """Parse one stream: (codes [R] int64, q [R, num_latent] int64); DataError unless it is canonical."""
        try:
            decoder = RecordingDecoder(bytes_to_words(stream))
            num_reports = 1
            if packed:
                num_reports = int(decode_uints(decoder, 1)[0]) + 1
                # every report costs at least its norm code (a norm-free report at least a bit, in practice)
                if num_reports > 8 * len(stream) // max(self.norm_code_bits, 1):
                    raise DataError("corrupt bitstream: implausible report count")
            if self.norm_code_bits:
                codes = decoder.decode(NORM_MODEL, num_reports).astype(np.int64) - NORM_OFFSET
            else:
                codes = np.zeros(num_reports, dtype=np.int64)
            q = np.empty((num_reports, layout.size), dtype=np.int64)
            for i in range(num_reports):
                q[i] = layout.decode(decoder)
            canonical = decoder.reencode() == stream
        except DataError:
            raise
        except Exception as err:  # constriction raises plain exceptions on malformed streams
            raise DataError(f"corrupt bitstream: {err}") from None
        if not canonical:
            raise DataError("corrupt bitstream: it is not the stream its decoded symbols encode to")
        return codes, q

    def entropy_decode(self, streams: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`entropy_encode`: (codes [B] int64, q [B, num_latent] int64).

        Raises:
            DataError: a stream is not exactly the stream its decoded symbols encode to.
        """
        if not streams:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.num_latent), dtype=np.int64)
        layout = self._layout()
        decoded = [self._decode_one(s, False, layout) for s in streams]
        return np.concatenate([c for c, _ in decoded]), np.concatenate([q for _, q in decoded])

    def compress(self, h: np.ndarray | torch.Tensor) -> list[bytes]:
        """Encode a batch, one self-contained stream per report.

        Args:
            h: [B, A, S], complex64.

        Returns:
            B byte strings; a report costs ``8 * len(stream)`` bits (norm code included). Stream i depends on
            report i only (``compress(h)[i] == compress(h[i:i+1])[0]``).
        """
        codes, q = self.quantize(h)
        return self.entropy_encode(codes, q)

    def decompress(self, streams: list[bytes]) -> np.ndarray:
        """Decode streams from :meth:`compress` into h_hat: [B, A, S] complex64 (DataError if corrupt)."""
        if not streams:
            return np.zeros((0, self.num_bs_ant, self.num_subcarriers), dtype=np.complex64)
        return self.dequantize(*self.entropy_decode(streams))

    def compress_with_reconstruction(self, h: np.ndarray | torch.Tensor) -> tuple[list[bytes], np.ndarray]:
        """``compress(h)`` and the h_hat the receiver will decode from it, without range-decoding.

        The encoder knows its own symbols, so ``h_hat == decompress(streams)`` exactly (see ``reconstruct``).
        """
        codes, q = self.quantize(h)
        return self.entropy_encode(codes, q), self.dequantize(codes, q)

    def compress_packed(self, h: np.ndarray | torch.Tensor) -> bytes:
        """Encode a batch of reports into one stream (amortises the coder's per-stream overhead)."""
        codes, q = self.quantize(h)
        return self._encode_packed(codes, q)

    def decompress_packed(self, stream: bytes) -> np.ndarray:
        """Inverse of :meth:`compress_packed`: h_hat [B, A, S] complex64."""
        return self.dequantize(*self._decode_one(stream, True, self._layout()))

    def reconstruct(self, h: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """What the BS will decode and what it costs, without the decoder-side parsing.

        Returns:
            (h_hat [B, A, S] complex64, equal to ``decompress(compress(h))``; bits [B] int64, the
            real stream lengths ``8 * len(stream)``).
        """
        streams, h_hat = self.compress_with_reconstruction(h)
        return h_hat, np.asarray([8 * len(s) for s in streams], dtype=np.int64)

    @torch.no_grad()
    def estimate_bits(self, h: np.ndarray | torch.Tensor) -> np.ndarray:
        """Likelihood estimate of each report's cost: -sum log2 p(y_hat) + the norm code's bits, [B] float64."""
        codes, q = self.quantize(h)
        q_t = torch.as_tensor(q).reshape(-1, *self.latent_shape)
        likelihoods = self.prior.likelihood(self.prior.dequantize(q_t)).to(torch.float64)
        return (-torch.log2(likelihoods)).flatten(1).sum(dim=1).numpy() + self.norm_code_bits

    # -------------------------------------------------------------------------------------- BS holdings
    def decoder_parameter_names(self) -> list[str]:
        """Names (as in ``named_parameters()``) of the decoder and prior parameters held by the BS."""
        return [n for n, _ in self.named_parameters() if n.split(".")[0] in self.decoder_modules]

    def update_entropy_tables(self) -> None:
        """Bring the prior's integer coding tables up to date with its parameters (also done lazily when they are
        used): rebuilt, or the process cache's when a copy of the codec built them for the same parameters."""
        self.prior.tables()


def rd_loss(out: dict[str, Any], lmbda: float) -> dict[str, torch.Tensor]:
    """Rate-distortion loss ``lambda * MSE + rate`` of a :meth:`RDCodec.forward` output.

    Conventions: MSE is the mean squared error per real dimension of the normalised channel, which equals
    the NMSE (linear) of each report; the rate is the likelihood estimate of every latent in
    ``out["likelihoods"]`` (y, and a hyperprior's side latent z) in bits per real CSI dimension (2 * A * S per
    report), the unit every simnet table reports.

    Returns:
        {"loss", "mse", "bpd"}: scalar float32 tensors.
    """
    h_n = out["h_n"]
    num_real_dims = 2 * h_n.shape[-1] * h_n.shape[-2]
    mse = (out["h_n_hat"] - h_n).abs().square().flatten(1).sum(1).mean() / num_real_dims
    bits = torch.stack([-torch.log2(lik).flatten(1).sum(1) for lik in out["likelihoods"].values()]).sum(0).mean()
    bpd = bits / num_real_dims
    return {"loss": lmbda * mse + bpd, "mse": mse, "bpd": bpd}
