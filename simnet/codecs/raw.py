"""``raw``: uncompressed CSI (float16 real and imaginary parts), the no-neural-network reference codec.

It is real (bytes out, bytes in) but learns nothing: the engine tests and the engine-overhead
benchmark use it as a codec whose cost is negligible next to the simulation around it.

    h [B, A, S] complex64 --(/||h||, float16 re/im)--> bytes --(float16 -> complex64, *||h||)--> h_hat
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from simnet.codecs.base import register_codec
from simnet.errors import DataError

_MAGIC = b"RW"


@register_codec("raw")
class RawCodec(torch.nn.Module):
    """Uncompressed CSI: 2 * num_bs_ant * num_subcarriers float16 values plus a float32 norm per report.

    Args:
        num_bs_ant: BS antennas.
        num_subcarriers: OFDM subcarriers.
    """

    finetunable = False
    """No learned weights: there is nothing to fine-tune, so only the ``never`` policy may run it (checked at load)."""

    def __init__(self, num_bs_ant: int, num_subcarriers: int) -> None:
        super().__init__()
        self.num_bs_ant = int(num_bs_ant)
        self.num_subcarriers = int(num_subcarriers)
        self._nbytes = 2 + 4 + 2 * 2 * self.num_bs_ant * self.num_subcarriers

    def forward(self, h: torch.Tensor) -> dict[str, Any]:
        return {"h_hat": h, "likelihoods": {}}

    def compress(self, h: np.ndarray) -> list[bytes]:
        h = np.asarray(h, dtype=np.complex64)
        norm = np.linalg.norm(h.reshape(h.shape[0], -1), axis=1).astype(np.float32)
        x = h / np.maximum(norm, 1e-30)[:, None, None]
        ri = np.stack([x.real, x.imag], axis=-1).astype(np.float16).reshape(h.shape[0], -1)
        return [_MAGIC + n.tobytes() + r.tobytes() for n, r in zip(norm, ri)]

    def compress_with_reconstruction(self, h: np.ndarray) -> tuple[list[bytes], np.ndarray]:
        """``compress(h)`` and ``decompress`` of the result."""
        streams = self.compress(h)
        return streams, self.decompress(streams)

    def decompress(self, streams: list[bytes]) -> np.ndarray:
        if not streams:
            return np.zeros((0, self.num_bs_ant, self.num_subcarriers), dtype=np.complex64)
        bad = [i for i, s in enumerate(streams) if len(s) != self._nbytes or s[:2] != _MAGIC]
        if bad:
            raise DataError(f"raw codec: stream {bad[0]} is corrupt or for another array size "
                            f"({len(streams[bad[0]])} bytes, expected {self._nbytes})")
        buf = np.frombuffer(b"".join(s[2:] for s in streams), dtype=np.uint8).reshape(len(streams), -1)
        norm = buf[:, :4].copy().view(np.float32)[:, 0]
        ri = buf[:, 4:].copy().view(np.float16).astype(np.float32)
        ri = ri.reshape(len(streams), self.num_bs_ant, self.num_subcarriers, 2)
        return ((ri[..., 0] + 1j * ri[..., 1]) * norm[:, None, None]).astype(np.complex64)

    def decoder_parameter_names(self) -> list[str]:
        return []
