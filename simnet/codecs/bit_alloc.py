"""``bit-alloc``: a CsiNet-class autoencoder with paper 003's quantization module (K-means codebooks per output,
greedy bit allocation under a total budget) and a fixed-length payload."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from simnet.codecs.angular_delay import angular_delay_pair, default_bs_array
from simnet.codecs.base import register_codec
from simnet.codecs.common import SMALL_LR_FINETUNE, SMALL_LR_UPDATE_CODING
from simnet.codecs.layers import conv2d, dense
from simnet.codecs.normalization import NORM_CODE_BITS, NORM_OFFSET, denormalize, norm_code, normalize
from simnet.coding.bit_allocation import allocate_bits, kmeans_1d, kmeans_table, uniform_bits
from simnet.errors import ConfigError, DataError

ALLOCATIONS = ("greedy", "uniform")
LOSSES = ("adaptive-log", "adaptive-mse", "log", "mse")


class _Refine(nn.Module):
    """CsiNet's RefineNet unit: three 3x3 convolutions with a residual connection, ``[B,C,H,W] -> [B,C,H,W]``."""

    def __init__(self, channels: int, gen: torch.Generator) -> None:
        super().__init__()
        c = channels
        self.net = nn.Sequential(conv2d(c, 2 * c, 3, gen), nn.LeakyReLU(0.3), conv2d(2 * c, c, 3, gen),
                                 nn.LeakyReLU(0.3), conv2d(c, c, 3, gen, linear=True))
        self.act = nn.LeakyReLU(0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.net(x))


@register_codec("bit-alloc")
class BitAllocCodec(nn.Module):
    """Paper 003 in simnet's terms: encoder outputs quantized by their own K-means codebooks, bits allocated.

    The encoder maps the truncated angular-delay image to M real outputs z; output m is quantized to the
    nearest of its 2^b_m codewords (paper eq. 1) and sent as that word's index in b_m bits; the BS looks the
    words up and decodes. The allocation b (a buffer, sum = ``total_bits`` - 16) and the codebooks (a parameter,
    ``codebook`` [M, 2^max_bits], the first 2^b_m entries of row m in use) are model state: pretraining sets
    them (:mod:`simnet.learning.bit_alloc`), and ``codebook`` is decoder-side (the BS holds it), so a full-model
    update carries its change beside the decoder's. Fine-tuning keeps the allocation (it is integer: no
    gradient moves it), so every update rebuilds the UE's codebook at the BS exactly::

        h [B,A,S] ─norm code─> h_n ─IDFT over S, keep T taps, DFT over the array─> x [B,2,A,T] ─unshuffle x2─>
          ─conv3x3 F─conv3x3/2 F─conv3x3/2 F─> [B,F,A/8,T/8] ─FC─> z [B,M] ─nearest codeword─> indices
        bytes = norm code (16 bits) | index_1 (b_1 bits) | ... | index_M (b_M bits) | zero padding to a byte
        indices ─codebook─> z_q [B,M] ─FC─> [B,F,A/8,T/8] ─(conv3x3 4F, shuffle x2) x2─RefineNet x2─
          conv3x3 8─shuffle x2─> x_hat [B,2,A,T] ─inverse transform─> h_n_hat ─x norm─> h_hat

    Training (train mode) passes the codeword forward and the gradient straight through to z, and to the
    chosen codeword through the decoder; eval mode uses the codeword alone. Bits per report are exactly
    ``8 * ceil(total_bits / 8)`` for every report (the norm code included, as in every simnet stream).

    Args:
        num_bs_ant: A (a multiple of 8: three halvings).
        num_subcarriers: S.
        num_delay_taps: T kept (a multiple of 8, <= S); None: min(32, S) rounded down to 8.
        num_precursor_taps: taps kept from the end of the delay axis (wrapped negative delays).
        bs_array: (rows, cols) of the BS array; None: square if A is a square.
        num_filters: F, channels of the convolutions.
        total_bits: bits per report, the 16-bit norm code included (the paper's MB plus the norm code).
        num_outputs: M encoder outputs; None: (total_bits - 16) / 4 rounded up (4 bits each when uniform).
        max_bits: most bits one output may get (its codebook has 2^max_bits slots).
        allocation: ``greedy`` (paper III-A, re-run after every training epoch) or ``uniform`` (fixed).
        loss: the training loss: ``adaptive-log`` (paper eq. 8), ``adaptive-mse`` (eq. 8 without the log: the
            paper's Proposed-var2), ``log`` (log reconstruction loss, fixed beta: Proposed-var1's loss) or ``mse``
            (eq. 4: squared error plus beta times the quantization loss).
        beta: the quantization-loss weight (the paper's well-tuned range is 0.01-0.25).
        seed: seed of the explicit generator that initialises the weights.
    """

    decoder_modules: ClassVar[tuple[str, ...]] = ("synthesis_fc", "synthesis_net", "codebook")
    rate_option: ClassVar[str] = "total_bits"
    """The constructor option that sets the rate (``simnet pretrain --rates``; checkpoints are named by it)."""
    finetune_defaults: ClassVar[dict[str, float]] = SMALL_LR_FINETUNE
    """rd-crnet's fine-tuning settings (a convolutional codec of the same size and learning rate)."""
    update_coding_defaults: ClassVar[dict[str, float]] = SMALL_LR_UPDATE_CODING
    """rd-crnet's update step (the same lr, so the same reach of a 30-step fine-tune), measured for this codec too
    (``benchmarks/results/update_step_bit_alloc_csi_inr.json``, 256 bits, 30 steps on 80 track samples, NMSE of
    the next 200): quadriga_track never -0.99 dB, genie -1.37; t 0.001 -1.13 dB at 8.2 kbit, 0.002 -1.19 at 26
    kbit, 0.01 -1.31 at 122 kbit, 0.05 -0.67 at 67 kbit; on o2_dynamic_like the genie gains 0.01 dB and t 0.001
    is the cheapest no-gain update (19 kbit). The smallest step is the cheapest per dB gained."""
    norm_code_bits: int = NORM_CODE_BITS
    bits: torch.Tensor

    def __init__(
        self,
        num_bs_ant: int = 64,
        num_subcarriers: int = 64,
        num_delay_taps: int | None = None,
        num_precursor_taps: int = 2,
        bs_array: tuple[int, int] | list[int] | None = None,
        num_filters: int = 16,
        total_bits: int = 256,
        num_outputs: int | None = None,
        max_bits: int = 8,
        allocation: str = "greedy",
        loss: str = "adaptive-log",
        beta: float = 0.1,
        seed: int = 0,
    ) -> None:
        super().__init__()
        name = "bit-alloc"
        for key, value in (("num_bs_ant", num_bs_ant), ("num_subcarriers", num_subcarriers)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"codec {key} = {value!r}: must be a positive integer")
        if num_delay_taps is None:
            num_delay_taps = max(8, min(32, num_subcarriers) // 8 * 8)
        if num_bs_ant % 8 or num_delay_taps % 8:
            raise ConfigError(f"{name} needs num_bs_ant and num_delay_taps divisible by 8 (three halvings), got "
                              f"{num_bs_ant} antennas and {num_delay_taps} taps")
        _integer(name, "num_filters", num_filters, 1, 256)
        _integer(name, "max_bits", max_bits, 1, 12)
        _integer(name, "total_bits", total_bits, NORM_CODE_BITS, 1 << 16)
        latent_bits = total_bits - NORM_CODE_BITS
        if num_outputs is None:
            num_outputs = max(1, math.ceil(latent_bits / 4))
        _integer(name, "num_outputs", num_outputs, 1, 4096)
        if latent_bits > num_outputs * max_bits:
            raise ConfigError(f"{name} total_bits = {total_bits}: {latent_bits} bits after the norm code do not fit "
                              f"{num_outputs} outputs of at most {max_bits} bits")
        if allocation not in ALLOCATIONS:
            raise ConfigError(f"{name} allocation = {allocation!r}: must be one of {', '.join(ALLOCATIONS)}")
        if loss not in LOSSES:
            raise ConfigError(f"{name} loss = {loss!r}: must be one of {', '.join(LOSSES)}")
        if isinstance(beta, bool) or not isinstance(beta, int | float) or not 0.0 <= beta <= 1e3:
            raise ConfigError(f"{name} beta = {beta!r}: must be a number in [0, 1000]")
        self.num_bs_ant, self.num_subcarriers = num_bs_ant, num_subcarriers
        bs_array = default_bs_array(num_bs_ant) if bs_array is None else bs_array
        self.to_angular_delay, self.from_angular_delay = angular_delay_pair(
            num_bs_ant, num_subcarriers, num_delay_taps, num_precursor_taps, bs_array, name)
        self.config: dict[str, Any] = {
            "num_bs_ant": num_bs_ant, "num_subcarriers": num_subcarriers, "num_delay_taps": num_delay_taps,
            "num_precursor_taps": num_precursor_taps, "bs_array": [int(v) for v in bs_array],
            "num_filters": num_filters, "total_bits": total_bits, "num_outputs": num_outputs, "max_bits": max_bits,
            "allocation": allocation, "loss": loss, "beta": float(beta), "seed": seed,
        }  # fmt: skip
        self.total_bits, self.num_outputs, self.max_bits = total_bits, num_outputs, max_bits
        self.allocation, self.loss, self.beta = allocation, loss, float(beta)
        self.num_bytes = (total_bits + 7) // 8
        self.latent_shape: tuple[int, ...] = (num_outputs,)
        gen = torch.Generator().manual_seed(int(seed))
        f = num_filters
        self._grid = (f, num_bs_ant // 8, num_delay_taps // 8)
        num_features = int(np.prod(self._grid))
        self.analysis_net = nn.Sequential(
            nn.PixelUnshuffle(2), conv2d(8, f, 3, gen), nn.LeakyReLU(0.3),
            conv2d(f, f, 3, gen, stride=2), nn.LeakyReLU(0.3),
            conv2d(f, f, 3, gen, stride=2), nn.LeakyReLU(0.3),
        )  # fmt: skip
        self.analysis_fc = dense(num_features, num_outputs, gen, linear=True)
        self.synthesis_fc = dense(num_outputs, num_features, gen)
        self.synthesis_net = nn.Sequential(
            nn.LeakyReLU(0.3),
            conv2d(f, 4 * f, 3, gen), nn.PixelShuffle(2), nn.LeakyReLU(0.3),
            conv2d(f, 4 * f, 3, gen), nn.PixelShuffle(2), nn.LeakyReLU(0.3),
            _Refine(f, gen), _Refine(f, gen),
            conv2d(f, 8, 3, gen, linear=True), nn.PixelShuffle(2),
        )  # fmt: skip
        self.analysis_net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.synthesis_net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        bits = uniform_bits(num_outputs, latent_bits, max_bits)
        self.register_buffer("bits", torch.as_tensor(bits, dtype=torch.int64))
        self.codebook = nn.Parameter(torch.zeros(num_outputs, 2**max_bits))
        with torch.no_grad():  # until K-means sees encoder outputs: unit-Gaussian quantiles per output
            self.codebook.copy_(self.gaussian_codebook(self.bits))

    # ------------------------------------------------------------------------------------------ codebooks
    def gaussian_codebook(self, bits: torch.Tensor) -> torch.Tensor:
        """[M, 2^max_bits] float32: row m holds the unit-Gaussian quantiles at (i + 0.5) / 2^b_m, then zeros."""
        out = torch.zeros(self.num_outputs, 2**self.max_bits)
        normal = torch.distributions.Normal(0.0, 1.0)
        for b in torch.unique(bits).tolist():
            k = 2 ** int(b)
            words = normal.icdf((torch.arange(k, dtype=torch.float32) + 0.5) / k)
            out[bits == b, :k] = words
        return out

    @property
    def num_words(self) -> torch.Tensor:
        """[M] int64: codewords in use per output, 2^b_m."""
        return torch.ones_like(self.bits) << self.bits

    def sorted_codebook(self, codebook: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The words in use, ascending per output, unused slots at +inf: ([M, K] float32, [M, K] bool in use),
        K = 2^max(b). An index in a report is a word's rank in this order."""
        words = self.codebook if codebook is None else codebook
        width = 2 ** int(self.bits.max())
        used = torch.arange(width)[None, :] < self.num_words[:, None]
        masked = torch.where(used, words[:, :width], torch.full_like(words[:, :width], torch.inf))
        return masked.sort(dim=1).values, used

    def quantize_outputs(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Nearest codeword of every output (paper eq. 1) and the adaptive weights of eq. 7.

        Args:
            z: [B, M] float32 encoder outputs.

        Returns:
            {"index": [B, M] int64 rank of the word, "z_q": [B, M] float32 the word (differentiable in the
            codebook), "spacing": [B, M] float32 ``w^L - w^R`` around the word (twice the one-sided gap at an
            end word, 0 for an output with a single word), detached}.
        """
        words, used = self.sorted_codebook()
        dist = (z[:, :, None] - words[None].detach()).abs()
        index = dist.argmin(dim=2)
        batch_words = words[None].expand(len(z), -1, -1)
        z_q = batch_words.gather(2, index[:, :, None])[:, :, 0]
        with torch.no_grad():
            last = (self.num_words - 1)[None, :].expand_as(index)
            below = batch_words.gather(2, (index - 1).clamp_min(0)[:, :, None])[:, :, 0]
            above = batch_words.gather(2, torch.minimum(index + 1, last)[:, :, None])[:, :, 0]
            inner = torch.where(index > 0, z_q - below, 0.0) + torch.where(index < last, above - z_q, 0.0)
            one_sided = (index == 0) ^ (index == last)
            spacing = torch.where(one_sided, 2.0 * inner, inner)
            spacing = torch.where(last == 0, torch.zeros_like(spacing), spacing)
        return {"index": index, "z_q": z_q, "spacing": spacing.detach()}

    # --------------------------------------------------------------------------- alternating training
    @torch.no_grad()
    def encoder_outputs(self, h: np.ndarray | torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """z of a data set in eval mode: h [N, A, S] -> [N, M] float32 (the paper's sample sets phi_m)."""
        was_training = self.training
        self.eval()
        device = self.codebook.device
        parts = []
        for i in range(0, len(h), batch_size):
            h_t = self._as_tensor(h[i : i + batch_size]).to(device)
            parts.append(self.analysis(normalize(h_t, norm_code(h_t))).cpu())
        self.train(was_training)
        return torch.cat(parts)

    @torch.no_grad()
    def set_codebooks(self, z: torch.Tensor, outputs: torch.Tensor | None = None) -> None:
        """K-means codebooks (2^b_m words each, ascending, unused slots zero) for ``outputs`` (default: all)."""
        which = torch.ones(self.num_outputs, dtype=torch.bool) if outputs is None else outputs.cpu()
        fresh = self.codebook.detach().cpu().clone()
        for b in torch.unique(self.bits[which]).tolist():
            rows = which & (self.bits.cpu() == b)
            words, _ = kmeans_1d(z[:, rows], 2 ** int(b))
            fresh[rows] = 0.0
            fresh[rows, : 2 ** int(b)] = words
        self.codebook.copy_(fresh.to(self.codebook.device))

    @torch.no_grad()
    def allocate(self, z: torch.Tensor) -> int:
        """Paper III-A on samples z [N, M]: re-run the greedy allocation from the current one and give every
        output whose bit count changed a fresh K-means codebook (the others keep their learnt words).

        Returns:
            the number of outputs whose bit count changed (0 for ``allocation: uniform``).
        """
        if self.allocation == "uniform":
            return 0
        table = kmeans_table(z, self.max_bits)
        new = torch.as_tensor(allocate_bits(table.numpy(), self.bits.cpu().numpy()), dtype=torch.int64)
        changed = new != self.bits.cpu()
        self.bits.copy_(new.to(self.bits.device))
        if changed.any():
            self.set_codebooks(z, changed)
        return int(changed.sum())

    def begin_training(self, h_train: np.ndarray) -> None:
        """Pretraining hook (``simnet pretrain``): K-means codebooks for the initial encoder, then an allocation."""
        z = self.encoder_outputs(h_train[:2000])
        self.set_codebooks(z)
        self.allocate(z)

    def end_epoch(self, h_train: np.ndarray) -> None:
        """Pretraining hook after every epoch: the allocation stage of the paper's alternating training."""
        self.allocate(self.encoder_outputs(h_train[:2000]))

    # ---------------------------------------------------------------------------------------- networks
    def analysis(self, h_n: torch.Tensor) -> torch.Tensor:
        """Encoder: h_n [B, A, S] complex64 -> z [B, M] float32."""
        re, im = self.to_angular_delay(h_n.real, h_n.imag)
        x = torch.stack([re, im], dim=1).contiguous(memory_format=torch.channels_last)
        return self.analysis_fc(self.analysis_net(x).flatten(1))

    def synthesis(self, z_q: torch.Tensor) -> torch.Tensor:
        """Decoder: z_q [B, M] float32 -> h_n_hat [B, A, S] complex64."""
        y = self.synthesis_fc(z_q).reshape(len(z_q), *self._grid).contiguous(memory_format=torch.channels_last)
        x = self.synthesis_net(y).contiguous()
        re, im = self.from_angular_delay(x[:, 0], x[:, 1])
        return torch.complex(re, im)

    def _as_tensor(self, h: np.ndarray | torch.Tensor) -> torch.Tensor:
        h_t = torch.as_tensor(h)
        expected = (self.num_bs_ant, self.num_subcarriers)
        if h_t.dim() != 3 or tuple(h_t.shape[1:]) != expected:
            raise DataError(f"channel batch has shape {tuple(h_t.shape)}; this codec expects [batch, {expected[0]}, "
                            f"{expected[1]}] (num_bs_ant, num_subcarriers)")
        return h_t.to(torch.complex64)

    # ---------------------------------------------------------------------------------------- training
    def forward(self, h: np.ndarray | torch.Tensor, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Training pass (straight-through codewords in train mode, the codewords alone in eval mode).

        Args:
            h: [B, A, S] complex64 channels (any power).
            generator: unused (quantization here draws no noise); accepted like every trainer passes it.

        Returns:
            {"h_hat": [B, A, S] complex64, "h_n", "h_n_hat": normalised input and its reconstruction,
            "z": [B, M] encoder outputs, "z_q": [B, M] their codewords, "spacing": [B, M] the eq. 7 spacings,
            "likelihoods": {} (the payload is fixed-length: no rate term), "norm_code": [B] int64}.
        """
        h_t = self._as_tensor(h)
        code = norm_code(h_t)
        h_n = normalize(h_t, code)
        z = self.analysis(h_n)
        quant = self.quantize_outputs(z)
        z_hat = quant["z_q"] + (z - z.detach()) if self.training else quant["z_q"]
        h_n_hat = self.synthesis(z_hat)
        return {"h_hat": denormalize(h_n_hat, code), "h_n": h_n, "h_n_hat": h_n_hat, "z": z, "z_q": quant["z_q"],
                "spacing": quant["spacing"], "likelihoods": {}, "norm_code": code}

    def rd_loss(self, out: dict[str, Any], lmbda: float) -> dict[str, torch.Tensor]:
        """The codec's training loss (``simnet pretrain`` calls it; ``lmbda`` does not enter: the rate is fixed).

        ``adaptive-log`` (paper eq. 8): log(mean ||h_n_hat - h_n||^2) + mean sum_m beta'_m (z_q,m - z_m)^2,
        beta'_m = beta * spacing (eq. 7); ``adaptive-mse``: the same without the log; ``log``: the log with
        beta'_m = beta; ``mse`` (eq. 4): mean ||h_n_hat - h_n||^2 + beta * mean sum_m (z_q,m - z_m)^2. Norms
        are over the real dimensions of the normalised channel (whose squared norm is 2 A S).

        Returns:
            {"loss", "mse" (NMSE per real dimension, linear), "bpd" (the fixed bits per real dimension),
            "quant" (mean squared quantization error per output)}.
        """
        h_n = out["h_n"]
        dims = 2 * h_n.shape[-1] * h_n.shape[-2]
        err = (out["h_n_hat"] - h_n).abs().square().flatten(1).sum(1).mean()
        sq = (out["z_q"] - out["z"]).square()
        weights = out["spacing"] if self.loss.startswith("adaptive") else torch.ones_like(sq)
        quant = (self.beta * weights * sq).sum(1).mean()
        loss = (torch.log(err) if self.loss in ("adaptive-log", "log") else err) + quant
        bpd = torch.tensor(8.0 * self.num_bytes / dims)
        return {"loss": loss, "mse": err / dims, "bpd": bpd, "quant": sq.mean()}

    # --------------------------------------------------------------------------------------- inference
    @torch.no_grad()
    def quantize(self, h: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """UE side: h [B, A, S] -> (norm codes [B] int64, word indices [B, M] int64)."""
        h_t = self._as_tensor(h)
        code = norm_code(h_t)
        index = self.quantize_outputs(self.analysis(normalize(h_t, code)))["index"]
        return code.numpy(), index.numpy()

    @torch.no_grad()
    def dequantize(self, codes: np.ndarray, index: np.ndarray) -> np.ndarray:
        """BS side: (codes [B], indices [B, M]) -> h_hat [B, A, S] complex64."""
        words, _ = self.sorted_codebook()
        idx = torch.as_tensor(index, dtype=torch.int64)
        z_q = words[None].expand(len(idx), -1, -1).gather(2, idx[:, :, None])[:, :, 0]
        return denormalize(self.synthesis(z_q), torch.as_tensor(codes, dtype=torch.int64)).numpy()

    def _bit_plan(self) -> tuple[np.ndarray, np.ndarray]:
        """Per payload bit after the norm code: (owning output [L] int64, shift [L] int64), MSB first."""
        bits = self.bits.numpy()
        owner = np.repeat(np.arange(self.num_outputs), bits)
        ends = np.cumsum(bits)
        shift = ends[owner] - 1 - np.arange(len(owner))
        return owner, shift

    def _bit_rows(self, codes: np.ndarray, index: np.ndarray) -> np.ndarray:
        """[B, total_bits] uint8: each report's norm code (16 bits) then its indices, MSB first."""
        owner, shift = self._bit_plan()
        norm = (np.asarray(codes, dtype=np.int64) + NORM_OFFSET)[:, None]
        norm_bits = (norm >> np.arange(NORM_CODE_BITS - 1, -1, -1)) & 1
        word_bits = (np.asarray(index, dtype=np.int64)[:, owner] >> shift) & 1
        return np.concatenate([norm_bits, word_bits], axis=1).astype(np.uint8)

    def _from_bit_rows(self, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`_bit_rows`: [B, total_bits] -> (codes [B] int64, indices [B, M] int64)."""
        bits = bits.astype(np.int64)
        codes = (bits[:, :NORM_CODE_BITS] << np.arange(NORM_CODE_BITS - 1, -1, -1)).sum(1) - NORM_OFFSET
        owner, shift = self._bit_plan()
        weights = bits[:, NORM_CODE_BITS:] << shift
        owner_onehot = (owner[:, None] == np.arange(self.num_outputs)[None, :]).astype(np.int64)  # [L, M]
        return codes, weights @ owner_onehot

    def pack(self, codes: np.ndarray, index: np.ndarray) -> list[bytes]:
        """The fixed-length code: (codes [B], indices [B, M]) -> B streams of ``ceil(total_bits / 8)`` bytes."""
        rows = self._bit_rows(codes, index)
        pad = np.zeros((len(rows), 8 * self.num_bytes - self.total_bits), dtype=np.uint8)
        return [row.tobytes() for row in np.packbits(np.concatenate([rows, pad], axis=1), axis=1)]

    def unpack(self, streams: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`pack`: (codes [B] int64, indices [B, M] int64).

        Raises:
            DataError: a stream of another length, or with a padding bit set.
        """
        for i, s in enumerate(streams):
            if len(s) != self.num_bytes:
                raise DataError(f"bit-alloc stream {i} has {len(s)} bytes; this codec's reports are exactly "
                                f"{self.num_bytes} bytes ({self.total_bits} bits)")
        raw = np.frombuffer(b"".join(streams), dtype=np.uint8).reshape(len(streams), self.num_bytes)
        bits = np.unpackbits(raw, axis=1)
        if bits[:, self.total_bits :].any():
            raise DataError("corrupt bit-alloc stream: a padding bit after the last codeword index is set")
        return self._from_bit_rows(bits[:, : self.total_bits])

    def compress_packed(self, h: np.ndarray | torch.Tensor) -> bytes:
        """A batch of reports in one stream: their ``total_bits`` codes back to back, zero bits to a byte."""
        rows = self._bit_rows(*self.quantize(h)).reshape(-1)
        return np.packbits(rows).tobytes()  # packbits pads the last byte with zeros

    def decompress_packed(self, stream: bytes) -> np.ndarray:
        """Inverse of :meth:`compress_packed`: h_hat [R, A, S] complex64 (R from the length: padding < 8 bits)."""
        num_reports = 8 * len(stream) // self.total_bits
        if num_reports < 1 or len(stream) != -(-num_reports * self.total_bits // 8):
            raise DataError(f"bit-alloc packed stream of {len(stream)} bytes is not a whole number of "
                            f"{self.total_bits}-bit reports")
        bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))
        if bits[num_reports * self.total_bits :].any():
            raise DataError("corrupt bit-alloc packed stream: a padding bit after the last report is set")
        rows = bits[: num_reports * self.total_bits].reshape(num_reports, self.total_bits)
        return self.dequantize(*self._from_bit_rows(rows))

    def compress(self, h: np.ndarray | torch.Tensor) -> list[bytes]:
        """Encode a batch: B streams of ``ceil(total_bits / 8)`` bytes (the norm code and every index)."""
        return self.pack(*self.quantize(h))

    def decompress(self, streams: list[bytes]) -> np.ndarray:
        """Decode streams from :meth:`compress` into h_hat [B, A, S] complex64 (DataError if malformed)."""
        if not streams:
            return np.zeros((0, self.num_bs_ant, self.num_subcarriers), dtype=np.complex64)
        return self.dequantize(*self.unpack(streams))

    def compress_with_reconstruction(self, h: np.ndarray | torch.Tensor) -> tuple[list[bytes], np.ndarray]:
        """``compress(h)`` and the h_hat the BS decodes from it (the UE knows its indices)."""
        codes, index = self.quantize(h)
        return self.pack(codes, index), self.dequantize(codes, index)

    def reconstruct(self, h: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(h_hat [B, A, S] complex64 as decoded, bits [B] int64 = ``8 * len(stream)``)."""
        streams, h_hat = self.compress_with_reconstruction(h)
        return h_hat, np.asarray([8 * len(s) for s in streams], dtype=np.int64)

    @torch.no_grad()
    def estimate_bits(self, h: np.ndarray | torch.Tensor) -> np.ndarray:
        """Bits of each report [B] float64: the payload is fixed-length, so the estimate is the real length."""
        return np.full(len(self._as_tensor(h)), 8.0 * self.num_bytes)

    @property
    def num_real_dims(self) -> int:
        """2 * num_bs_ant * num_subcarriers."""
        return 2 * self.num_bs_ant * self.num_subcarriers

    # -------------------------------------------------------------------------------------- BS holdings
    def decoder_parameter_names(self) -> list[str]:
        """The BS's tensors: the decoder and the codebooks (the allocation ``bits`` is a fixed buffer)."""
        return [n for n, _ in self.named_parameters() if n.split(".")[0] in self.decoder_modules]

    def update_entropy_tables(self) -> None:
        """Nothing to rebuild: the words are looked up from ``codebook`` and ``bits`` at every call."""


def _integer(name: str, key: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{name} {key} = {value!r}: must be an integer in [{lo}, {hi}]")
