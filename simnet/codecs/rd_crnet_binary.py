"""``rd-crnet-binary-encoder``: rd-crnet's decoder and prior behind a lightweight binary-weight UE encoder."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from simnet.codecs.base import register_codec
from simnet.codecs.layers import conv2d
from simnet.codecs.rd_crnet import RDCRNet
from simnet.errors import ConfigError

FLOAT_BITS = 32  # a real weight, scale or bias as stored at the UE (float32)


class _BinarizeSTE(torch.autograd.Function):
    """Forward: ``sign(w) * mean|w|`` per output channel, exactly; backward: identity inside ``|w| <= 1``."""

    @staticmethod
    def forward(ctx: Any, w: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(w)
        scale = w.abs().mean(dim=(1, 2, 3), keepdim=True)
        return torch.where(w >= 0, scale, -scale)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= 1.0).to(grad.dtype)


class BinaryConv2d(nn.Conv2d):
    """A convolution with binary weights and a real scale per output channel (BNN-aided CSI feedback, [5] of
    paper 004): ``w_b = sign(w) * mean|w|`` over each output channel's weights.

    Training keeps the real latent weights ``w`` and passes gradients straight through the sign (identity,
    zero where ``|w| > 1``); the forward pass always uses exactly ``+-scale``, so a deployed encoder stores
    only the signs (1 bit each), the per-output scale and the bias (float32 each).
    ``[B, C_in, H, W] -> [B, C_out, H', W']``.
    """

    def binary_weight(self) -> torch.Tensor:
        """w_b [C_out, C_in, kh, kw] float32: +-scale per output channel, straight-through gradient."""
        return _BinarizeSTE.apply(self.weight)  # type: ignore[no-any-return]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.binary_weight(), self.bias, self.stride, self.padding)


def binary_conv2d(n_in: int, n_out: int, kernel: int, gen: torch.Generator, stride: int = 1) -> BinaryConv2d:
    """A 'same'-padded :class:`BinaryConv2d` initialised like :func:`simnet.codecs.layers.conv2d` (linear)."""
    real = conv2d(n_in, n_out, kernel, gen, stride=stride, linear=True)
    conv = torch.nn.utils.skip_init(BinaryConv2d, n_in, n_out, kernel, stride=stride, padding=kernel // 2)
    conv.load_state_dict(real.state_dict())
    return conv


@register_codec("rd-crnet-binary-encoder")
class RDCRNetBinaryEncoder(RDCRNet):
    """The codeword-mimic student of paper 004 in simnet's terms: a tiny UE encoder, rd-crnet's BS side.

    Paper 004's BCRNet binarizes CRNet's encoder FC layer (its largest) and keeps the decoder. rd-crnet's
    encoder has no FC layer, so the student's encoder is a small real convolutional head and one binary
    convolution (the layer that holds most of the encoder's weights) that maps straight to the teacher's
    latent grid; the decoder ``synthesis_net`` and the factorized ``prior`` are rd-crnet's, module for module
    (same ``decoder_modules`` and parameter names: a teacher checkpoint's BS side loads into it, and model
    updates and every policy work as for rd-crnet)::

        h_n [B,A,S] ─angular-delay transform─> x [B,2,A,T] ─unshuffle x2─> [B,8,A/2,T/2]
          ─conv3x3 Fh (real)─LeakyReLU─unshuffle x2─> [B,4Fh,A/4,T/4] ─binary conv kxk─> y [B,C,A/4,T/4]
          ─quantize─> q ─range coder─> bytes      (BS: rd-crnet's synthesis_net and prior, unchanged)

    Real bits: paper 004 mimics float codewords; here the student's pre-quantization latent ``y`` is what
    mimics the teacher's ``y`` (the quantity both decoders were trained to receive, after rounding), and the
    student's reports are rounded and range coded under the prior exactly like rd-crnet's.

    Args:
        num_bs_ant, num_subcarriers, num_delay_taps, num_precursor_taps, bs_array, num_filters,
            num_latent_channels, seed: as :class:`~simnet.codecs.rd_crnet.RDCRNet` (the BS side).
        num_head_filters: Fh, channels of the real head convolution.
        binary_kernel: k, kernel size of the binary convolution (odd), at quarter resolution.
    """

    def __init__(
        self,
        num_bs_ant: int = 64,
        num_subcarriers: int = 64,
        num_delay_taps: int | None = None,
        num_precursor_taps: int = 2,
        bs_array: tuple[int, int] | list[int] | None = None,
        num_filters: int = 16,
        num_latent_channels: int = 8,
        num_head_filters: int = 8,
        binary_kernel: int = 5,
        seed: int = 0,
    ) -> None:
        super().__init__(num_bs_ant, num_subcarriers, num_delay_taps, num_precursor_taps, bs_array, num_filters,
                         num_latent_channels, seed)
        if not isinstance(num_head_filters, int) or not 1 <= num_head_filters <= 256:
            raise ConfigError(f"rd-crnet-binary-encoder num_head_filters = {num_head_filters!r}: must be an "
                              f"integer in [1, 256]")
        if not isinstance(binary_kernel, int) or binary_kernel not in (1, 3, 5, 7, 9):
            raise ConfigError(f"rd-crnet-binary-encoder binary_kernel = {binary_kernel!r}: must be 1, 3, 5, 7 or 9")
        self.config.update({"num_head_filters": num_head_filters, "binary_kernel": binary_kernel})
        gen = torch.Generator().manual_seed(int(seed) + 2)  # its own stream: the BS side stays rd-crnet's
        fh = num_head_filters
        self.analysis_net = nn.Sequential(
            nn.PixelUnshuffle(2), conv2d(8, fh, (3, 3), gen), nn.LeakyReLU(0.3),
            nn.PixelUnshuffle(2), binary_conv2d(4 * fh, num_latent_channels, binary_kernel, gen),
        )  # fmt: skip
        self.analysis_net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self._finish_init()


def encoder_cost(codec: Any) -> dict[str, int]:
    """What a codec's UE encoder network costs per report, counted layer by layer (its convolutions).

    A real convolution costs one multiply and one add per weight and output position (``FlopCounterMode``'s
    convention, biases not counted); a binary one only an add or subtract per weight and output position,
    plus one multiply per output (its scale). The fixed
    angular-delay transform before the network is the same for every rd-crnet encoder and not included.

    Returns:
        {"params": weights + biases, "binary_params": 1-bit weights among them, "size_bits": the deployed
        size (1 bit per binary weight, 32 per real weight, scale and bias), "mults": multiplications per
        report, "flops": multiplications + additions per report}.
    """
    convs = [m for m in codec.analysis_net.modules() if isinstance(m, nn.Conv2d)]
    out_shapes: dict[int, tuple[int, ...]] = {}
    hooks = [m.register_forward_hook(lambda mod, _i, out: out_shapes.__setitem__(id(mod), tuple(out.shape)))
             for m in convs]
    try:
        with torch.no_grad():
            codec.analysis(torch.zeros(1, codec.num_bs_ant, codec.num_subcarriers, dtype=torch.complex64))
    finally:
        for hook in hooks:
            hook.remove()
    cost = {"params": 0, "binary_params": 0, "size_bits": 0, "mults": 0, "flops": 0}
    for conv in convs:
        num_weights = conv.weight.numel()
        num_bias = 0 if conv.bias is None else conv.bias.numel()
        num_out = int(np.prod(out_shapes[id(conv)]))
        macs = num_out * num_weights // conv.out_channels
        cost["params"] += num_weights + num_bias
        if isinstance(conv, BinaryConv2d):
            cost["binary_params"] += num_weights
            cost["size_bits"] += num_weights + FLOAT_BITS * (conv.out_channels + num_bias)
            cost["mults"] += num_out
            cost["flops"] += macs + num_out  # an add/sub per weight and output, a scale multiply per output
        else:
            cost["size_bits"] += FLOAT_BITS * (num_weights + num_bias)
            cost["mults"] += macs
            cost["flops"] += 2 * macs
    return cost
