"""The codec interface shared by every neural CSI codec."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from simnet.registry import Registry


@runtime_checkable
class Codec(Protocol):
    """A neural CSI codec: encoder at the UE, decoder (and latent prior) at the BS.

    Every codec is a ``torch.nn.Module`` with this interface. Bits are always ``8 * len(bytes)`` of a
    real bitstream.

    forward(h) -> {"h_hat": Tensor [B, A, S, 2] or complex, "likelihoods": {"y": Tensor}}  (training)
    compress(h) -> list[bytes]       one self-contained stream per sample
    decompress(streams) -> h_hat     bit-exact inverse of compress for the latents
    decoder_parameter_names() -> the parameters the BS holds (decoder + entropy model); a model
        update carries exactly these.

    Optional: ``load_options`` (a class attribute: the constructor options a scenario's ``codec:`` block may
    set beside ``checkpoint``, those that need no retraining, e.g. csi-inr's ``bit_depth``) and
    ``with_settings(**options)`` (the loaded codec with them applied, same weights).
    """

    num_bs_ant: int
    num_subcarriers: int

    def forward(self, h: torch.Tensor) -> dict[str, Any]: ...

    def compress(self, h: np.ndarray) -> list[bytes]:
        """Encode a batch.

        Args:
            h: [B, num_bs_ant, num_subcarriers], complex64.

        Returns:
            B byte strings, each a complete stream for one report.
        """
        ...

    def decompress(self, streams: list[bytes]) -> np.ndarray:
        """Decode a batch of streams into h_hat: [B, num_bs_ant, num_subcarriers], complex64."""
        ...

    def compress_with_reconstruction(self, h: np.ndarray) -> tuple[list[bytes], np.ndarray]:
        """``compress(h)`` plus the h_hat that ``decompress`` will return for it (the UE's own view)."""
        ...

    def decoder_parameter_names(self) -> list[str]: ...


CODECS: Registry[type] = Registry("codec")
register_codec = CODECS.register
CODECS.rename(
    "rd-cnn", "learned-transform",
    "it is a per-bin learned transform coder, not a CNN; the core paper's convolutional codec is 'rd-cnn-paper'",
)  # fmt: skip
