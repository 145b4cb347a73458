"""Shared parts of the 3GPP NR codebooks (TS 38.214 5.2.2.2): tables, bit fields, DFT beams, the codec base.

Port model (simnet's arrays are single-polarized): the ``(rows, cols)`` UPA of ``system.bs_array`` gives
N1 = cols (horizontal) and N2 = rows (vertical) CSI-RS ports on ONE polarization, and simnet's antenna
index ``col * rows + row`` (quadriga-lib's element order) is the specification's port index
``n1 * N2 + n2`` of the 2-D DFT beam v_{l,m} (38.214 5.2.2.2.1). The codebooks use the specification's
single-polarization half of every structure; each codec module says how its bit fields change.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb
from typing import Any

import numpy as np
import torch

from simnet.errors import DataError, SimnetError
from simnet.subbands import SGCS_SUBBAND_SIZE

PARAM_COMBINATIONS: dict[int, tuple[int, Fraction, Fraction | None, Fraction]] = {
    1: (2, Fraction(1, 4), Fraction(1, 8), Fraction(1, 4)),
    2: (2, Fraction(1, 4), Fraction(1, 8), Fraction(1, 2)),
    3: (4, Fraction(1, 4), Fraction(1, 8), Fraction(1, 4)),
    4: (4, Fraction(1, 4), Fraction(1, 8), Fraction(1, 2)),
    5: (4, Fraction(1, 4), Fraction(1, 4), Fraction(3, 4)),
    6: (4, Fraction(1, 2), Fraction(1, 4), Fraction(1, 2)),
    7: (6, Fraction(1, 4), None, Fraction(1, 2)),
    8: (6, Fraction(1, 4), None, Fraction(3, 4)),
}
"""38.214 Table 5.2.2.2.5-1: paramCombination-r16 -> (L, p_v for ranks 1-2, p_v for ranks 3-4, beta)."""

DIFFERENTIAL_AMPLITUDE = 2.0 ** (-(7 - np.arange(8)) / 2)
"""38.214 Table 5.2.2.2.5-3: k^(2) = 0..7 -> p^(2) = 1/(8 sqrt 2), 1/8, 1/(4 sqrt 2), ..., 1/sqrt 2, 1."""

REFERENCE_AMPLITUDE = np.concatenate([[np.nan], 2.0 ** (-(15 - np.arange(1, 16)) / 8)])
"""38.214 Table 5.2.2.2.5-2: k^(1) = 1..15 -> p^(1) = (1/128)^(1/4), ..., 1 (k^(1) = 0 reserved). Needs a
second polarization; the single-polarized eType II has none to report (see simnet.codecs.etype2)."""

NUM_PHASES = 16
"""eType II phases are 16-PSK (38.214 5.2.2.2.5, phi = exp(j 2 pi c / 16))."""


def ceil_log2(n: int) -> int:
    """Bits of a field that takes ``n`` values: ceil(log2 n), 0 for n <= 1."""
    return int(n - 1).bit_length() if n > 1 else 0


def oversampling(n1: int, n2: int) -> tuple[int, int]:
    """(O1, O2) = (4, 4), with O2 = 1 for a one-row array (N2 = 1), as in 38.214 Table 5.2.2.2.1-2."""
    return (4 if n1 > 1 else 1), (4 if n2 > 1 else 1)


def combination_index(chosen: np.ndarray | list[int], n: int, k: int) -> int:
    """The specification's combinatorial index sum_i C(n - 1 - s_i, k - i) of ``k`` ascending picks s_i < n.

    It is i_{1,2} of 38.214 5.2.2.2.5 (n = N1 N2, k = L, s_i = n^(i)) and, with n = N3 - 1, k = M - 1 and
    s_i = n_3^(f) - 1, i_{1,6}; a bijection onto [0, C(n, k)).
    """
    return int(sum(comb(n - 1 - int(s), k - i) for i, s in enumerate(chosen)))


def combination_from_index(index: int, n: int, k: int) -> list[int]:
    """Inverse of :func:`combination_index` (the greedy search of 38.214 5.2.2.2.3/5.2.2.2.5)."""
    if not 0 <= index < comb(n, k):
        raise DataError(f"combinatorial index {index} out of range [0, C({n}, {k}))")
    picks, rest, top = [], index, n - 1
    for i in range(k):
        r = k - i
        x = top
        while comb(x, r) > rest:  # C(x, r) = 0 for x < r, so this stops at x = r - 1 at the latest
            x -= 1
        rest -= comb(x, r)
        picks.append(n - 1 - x)
        top = x - 1
    return picks


def dft_beams(n1: int, n2: int, o1: int, o2: int) -> np.ndarray:
    """Every oversampled 2-D DFT beam v_{l,m} / sqrt(N1 N2) of 38.214 5.2.2.2.1.

    Returns:
        [N1 O1, N2 O2, N1 N2] complex128: [l, m, n1 * N2 + n2] = exp(j 2 pi (l n1 / (O1 N1) + m n2 / (O2 N2))),
        unit norm.
    """
    u1 = np.exp(2j * np.pi * np.outer(np.arange(n1 * o1), np.arange(n1)) / (o1 * n1))  # [l, n1]
    u2 = np.exp(2j * np.pi * np.outer(np.arange(n2 * o2), np.arange(n2)) / (o2 * n2))  # [m, n2]
    return np.einsum("la,mb->lmab", u1, u2).reshape(n1 * o1, n2 * o2, n1 * n2) / np.sqrt(n1 * n2)


class BitWriter:
    """Fields packed most significant bit first into bytes; the last byte is zero-padded."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def put(self, value: int, width: int) -> None:
        if width == 0:
            return
        if not 0 <= value < (1 << width):
            raise ValueError(f"value {value} does not fit in {width} bits")
        self.bits.extend((int(value) >> (width - 1 - b)) & 1 for b in range(width))

    def to_bytes(self) -> bytes:
        padded = self.bits + [0] * (-len(self.bits) % 8)
        return np.packbits(np.asarray(padded, dtype=np.uint8)).tobytes()


class BitReader:
    """Reads what :class:`BitWriter` wrote; :meth:`finish` insists the padding is exactly the zero bits."""

    def __init__(self, stream: bytes) -> None:
        self.bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8)).astype(np.int64)
        self.pos = 0

    def get(self, width: int) -> int:
        if self.pos + width > self.bits.size:
            raise DataError("corrupt codebook report: the stream is shorter than its fields")
        chunk = self.bits[self.pos : self.pos + width]
        self.pos += width
        return int(sum(int(b) << (width - 1 - i) for i, b in enumerate(chunk)))

    def finish(self) -> None:
        rest = self.bits[self.pos :]
        if rest.size >= 8 or rest.any():
            raise DataError("corrupt codebook report: bytes or non-zero padding after the last field")


class CodebookCodec(torch.nn.Module):
    """Base of the NR codebook codecs: no parameters, nothing to train, real bit-field reports.

    The BS view of a report is h_hat[:, k] = conj(w_j) on every subcarrier k of PMI subband j, so MRT on
    h_hat transmits the reported precoder w_j (unit norm per subcarrier: a codebook reports a direction,
    not a channel, so NMSE against h is not a meaningful score for it; SGCS is).

    Subclasses implement :meth:`encode_reports` (h -> streams and the precoders W the BS will rebuild)
    and :meth:`decode_report` (stream -> W of one report).
    """

    trainable = False
    """No model update exists for a codebook: only the ``never`` policy may run it (checked at load)."""

    def __init__(self, num_bs_ant: int, num_subcarriers: int, bs_array: tuple[int, int] | list[int],
                 subband_size: int = SGCS_SUBBAND_SIZE) -> None:
        super().__init__()
        rows, cols = (int(x) for x in bs_array)
        if rows * cols != num_bs_ant:
            raise SimnetError(f"bs_array = {list(bs_array)} has {rows * cols} ports but num_bs_ant = "
                              f"{num_bs_ant}; give the system's bs_array")
        if not isinstance(subband_size, int) or not 1 <= subband_size <= num_subcarriers:
            raise SimnetError(f"subband_size = {subband_size!r}: must be an integer in [1, "
                              f"{num_subcarriers}] (subcarriers per PMI subband)")
        self.num_bs_ant, self.num_subcarriers = int(num_bs_ant), int(num_subcarriers)
        self.n1, self.n2 = cols, rows
        self.o1, self.o2 = oversampling(self.n1, self.n2)
        self.subband_size = subband_size
        self.num_subbands = -(-num_subcarriers // subband_size)  # N3
        self._beams = dft_beams(self.n1, self.n2, self.o1, self.o2)

    # ----------------------------------------------------------------------------- subclass interface
    def encode_reports(self, h: np.ndarray) -> tuple[list[bytes], np.ndarray]:
        """h [B, A, S] -> (B streams, W [B, N3, A] complex128 as the BS will rebuild it)."""
        raise NotImplementedError

    def decode_report(self, stream: bytes) -> np.ndarray:
        """One stream -> W [N3, A] complex128 (DataError if it is not a valid report)."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------- codec interface
    def _check(self, h: np.ndarray) -> np.ndarray:
        h = np.asarray(h)
        if h.ndim != 3 or h.shape[1:] != (self.num_bs_ant, self.num_subcarriers):
            raise DataError(f"channel batch has shape {h.shape}; this codec expects [batch, {self.num_bs_ant}, "
                            f"{self.num_subcarriers}] (num_bs_ant, num_subcarriers)")
        return h

    def precoders_to_h_hat(self, w: np.ndarray) -> np.ndarray:
        """W [B, N3, A] -> the BS view h_hat [B, A, S] complex64 (conj(w_j) on subband j's subcarriers)."""
        sb = np.arange(self.num_subcarriers) // self.subband_size
        return np.conj(np.swapaxes(w[:, sb, :], 1, 2)).astype(np.complex64)

    def forward(self, h: Any) -> dict[str, Any]:
        """No training pass exists; returns the BS view so generic evaluation code can call it."""
        h_np = h.numpy() if isinstance(h, torch.Tensor) else h
        return {"h_hat": torch.as_tensor(self.compress_with_reconstruction(h_np)[1]), "likelihoods": {}}

    def compress(self, h: np.ndarray) -> list[bytes]:
        """Encode a batch h [B, A, S] (complex) into B reports; a report costs ``8 * len(stream)`` bits."""
        return self.encode_reports(self._check(h))[0]

    def compress_with_reconstruction(self, h: np.ndarray) -> tuple[list[bytes], np.ndarray]:
        """``compress(h)`` and the h_hat [B, A, S] that ``decompress`` returns for it."""
        streams, w = self.encode_reports(self._check(h))
        return streams, self.precoders_to_h_hat(w)

    def decompress(self, streams: list[bytes]) -> np.ndarray:
        """Streams -> h_hat [B, A, S] complex64 (DataError if one is corrupt)."""
        if not streams:
            return np.zeros((0, self.num_bs_ant, self.num_subcarriers), dtype=np.complex64)
        return self.precoders_to_h_hat(np.stack([self.decode_report(s) for s in streams]))

    def reconstruct(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(h_hat [B, A, S], bits [B] int64 = 8 * len(stream)), like the neural codecs' ``reconstruct``."""
        streams, h_hat = self.compress_with_reconstruction(h)
        return h_hat, np.asarray([8 * len(s) for s in streams], dtype=np.int64)

    def decoder_parameter_names(self) -> list[str]:
        return []
