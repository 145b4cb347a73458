"""Layers shared by the convolutional codecs, initialised from an explicit generator."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def conv2d(n_in: int, n_out: int, kernel: int | tuple[int, int], gen: torch.Generator, stride: int = 1,
           linear: bool = False) -> nn.Conv2d:
    """'Same'-padded conv (stride 1; stride 2 halves), He-uniform init (LeCun-uniform for a linear output).

    Weights are drawn from ``gen`` (uniform in +-sqrt(6 / fan_in), or +-sqrt(3 / fan_in) when ``linear``),
    biases start at zero: the same seed gives the same network on every machine.
    """
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    conv = torch.nn.utils.skip_init(nn.Conv2d, n_in, n_out, (kh, kw), stride=stride, padding=(kh // 2, kw // 2))
    bound = float(np.sqrt((3.0 if linear else 6.0) / (n_in * kh * kw)))
    with torch.no_grad():
        conv.weight.copy_((torch.rand(conv.weight.shape, generator=gen) * 2 - 1) * bound)
        assert conv.bias is not None
        conv.bias.zero_()
    return conv


def dense(n_in: int, n_out: int, gen: torch.Generator, linear: bool = False) -> nn.Linear:
    """A fully connected layer with the same initialisation rule as :func:`conv2d` (weights from ``gen``)."""
    layer = torch.nn.utils.skip_init(nn.Linear, n_in, n_out)
    bound = float(np.sqrt((3.0 if linear else 6.0) / n_in))
    with torch.no_grad():
        layer.weight.copy_((torch.rand(layer.weight.shape, generator=gen) * 2 - 1) * bound)
        layer.bias.zero_()
    return layer
