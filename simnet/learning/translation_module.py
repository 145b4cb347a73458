"""Translation / retranslation modules around a frozen backbone codec (Liu et al. 2024, core paper's [30]).

    h --T--> h' --backbone encoder--> bytes --backbone decoder--> h_hat' --R--> h_hat
        (UE)                                                           (BS: R is a model update)

``T`` and ``R`` are small residual convolution stacks on the per-sample normalised real/imag image
``[B, 2, A, S]``: ``x + conv(act(conv(act(conv(x)))))``; the last convolution starts at zero, so a fresh
wrapper is the backbone exactly, and the other weights start from a fixed agreed generator (seed 0), so
the BS can build the same fresh wrapper without being sent anything. Only ``R``'s parameters travel, as a
coded update (``updates.py``, ``names=`` the ``retranslate.*`` tensors). The original's sparsity-aligning
search is not reproduced (it is a brute-force loop the paper itself calls prohibitive).
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np
import torch
from torch import nn

_INIT_SEED = 0  # agreed by UE and BS: the fresh modules are a function of the architecture alone


class Residual2d(nn.Module):
    """Scale-equivariant residual conv stack on complex [B, A, S] tensors.

    Args:
        num_channels: hidden channels.
    """

    def __init__(self, num_channels: int) -> None:
        super().__init__()
        convs = [nn.Conv2d(2, num_channels, 3, padding=1),
                 nn.Conv2d(num_channels, num_channels, 3, padding=1),
                 nn.Conv2d(num_channels, 2, 3, padding=1)]
        self.net = nn.Sequential(convs[0], nn.LeakyReLU(0.1), convs[1], nn.LeakyReLU(0.1), convs[2])
        gen = torch.Generator().manual_seed(_INIT_SEED)
        with torch.no_grad():
            for i, conv in enumerate(convs):
                bound = 1.0 / float(np.sqrt(conv.weight[0].numel())) if i < 2 else 0.0
                conv.weight.copy_((torch.rand(conv.weight.shape, generator=gen) * 2 - 1) * bound)
                assert conv.bias is not None
                conv.bias.zero_()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """h: [B, A, S] complex64 -> [B, A, S] complex64."""
        norm = h.abs().square().flatten(1).sum(1).sqrt().clamp_min(1e-30)[:, None, None]
        x = torch.view_as_real(h / norm).permute(0, 3, 1, 2)
        y = (x + self.net(x)).permute(0, 2, 3, 1).contiguous()
        return torch.view_as_complex(y) * norm


class TranslatedCodec(nn.Module):
    """A backbone codec wrapped in translation (UE) and retranslation (BS) modules; same codec interface.

    Args:
        backbone: the codec to wrap (its parameters are kept, normally frozen).
        num_channels: hidden channels of each module.
    """

    def __init__(self, backbone: Any, num_channels: int = 16) -> None:
        super().__init__()
        self.backbone = backbone
        self.num_channels = int(num_channels)
        self.translate = Residual2d(num_channels)
        self.retranslate = Residual2d(num_channels)
        self.num_bs_ant = backbone.num_bs_ant
        self.num_subcarriers = backbone.num_subcarriers
        if hasattr(backbone, "lmbda"):
            self.lmbda = backbone.lmbda
        self.checkpoint_meta = dict(getattr(backbone, "checkpoint_meta", {}) or {})

    def forward(self, h: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, Any]:
        """h: [B, A, S] complex64 -> the backbone's output dict with the retranslated ``h_hat``."""
        takes_gen = "generator" in inspect.signature(self.backbone.forward).parameters
        kwargs = {"generator": generator} if takes_gen and generator is not None else {}
        out = dict(self.backbone(self.translate(h), **kwargs))
        h_hat = out["h_hat"]
        if not torch.is_complex(h_hat):
            h_hat = torch.view_as_complex(h_hat.contiguous())
        out["h_hat"] = self.retranslate(h_hat)
        for key in ("h_n", "h_n_hat"):  # the backbone's, of the translated input: not this codec's
            out.pop(key, None)
        return out

    def compress(self, h: np.ndarray) -> list[bytes]:
        """h: [B, A, S] complex64 -> one stream per sample (the backbone's format)."""
        with torch.no_grad():
            h_t = self.translate(torch.from_numpy(np.ascontiguousarray(h, dtype=np.complex64)))
        return self.backbone.compress(h_t.numpy())

    def compress_with_reconstruction(self, h: np.ndarray) -> tuple[list[bytes], np.ndarray]:
        """``compress(h)`` and the h_hat ``decompress`` will return for it."""
        with torch.no_grad():
            h_t = self.translate(torch.from_numpy(np.ascontiguousarray(h, dtype=np.complex64)))
        streams, h_hat = self.backbone.compress_with_reconstruction(h_t.numpy())
        with torch.no_grad():
            h_hat_t = torch.from_numpy(np.ascontiguousarray(h_hat, dtype=np.complex64))
            return streams, self.retranslate(h_hat_t).numpy()

    def decompress(self, streams: list[bytes]) -> np.ndarray:
        """Streams -> h_hat [B, A, S] complex64."""
        h_hat = np.ascontiguousarray(self.backbone.decompress(streams), dtype=np.complex64)
        with torch.no_grad():
            return self.retranslate(torch.from_numpy(h_hat)).numpy()

    def decoder_parameter_names(self) -> list[str]:
        names = [f"backbone.{n}" for n in self.backbone.decoder_parameter_names()]
        return names + [n for n, _ in self.retranslate.named_parameters(prefix="retranslate")]

    def retranslation_names(self) -> list[str]:
        """The tensors a translation update carries."""
        return [n for n, _ in self.retranslate.named_parameters(prefix="retranslate")]


def wrap_translation(codec: Any, num_channels: int = 16) -> TranslatedCodec:
    """A fresh wrapper around a deep copy of ``codec`` (identical at UE and BS for the same codec)."""
    return TranslatedCodec(copy.deepcopy(codec), num_channels)
