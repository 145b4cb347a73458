"""``type1``: the NR Type I single-panel codebook (38.214 5.2.2.2.1), mode 1, rank 1, single-polarized ports.

    UE: h [B, A, S] --subband directions v_t--> the oversampled DFT beam v_{l,m} maximising
        sum_t |v_{l,m}^H v_t|^2 (wideband) --> i_{1,1} = l, i_{1,2} = m --> bytes
    BS: bytes --> (l, m) --> W_t = v_{l,m} on every subband --> h_hat

Single-polarized adaptation: the specification's rank-1 precoder [v_{l,m}; phi_n v_{l,m}] / sqrt(2 P)
co-phases two polarizations with the per-subband i_2 = n (2 bits per subband); with one polarization there is
nothing to co-phase, so i_2 is not sent and the report is the wideband beam alone:
i_{1,1} [ceil(log2 N1 O1)] then i_{1,2} [ceil(log2 N2 O2)] (MSB first, zero-padded to whole bytes).
"""

from __future__ import annotations

import numpy as np

from simnet.codecs.base import register_codec
from simnet.codecs.nr_codebook import BitReader, BitWriter, CodebookCodec, ceil_log2
from simnet.errors import DataError
from simnet.subbands import SGCS_SUBBAND_SIZE, subband_directions


@register_codec("type1")
class Type1Codec(CodebookCodec):
    """Type I single panel, mode 1, rank 1, single-polarized ports: one wideband 2-D DFT beam per report.

    Args:
        num_bs_ant, num_subcarriers: the system's array size and OFDM grid.
        bs_array: (rows, cols) of the BS array; N1 = cols, N2 = rows.
        subband_size: subcarriers per subband of the directions the beam is fitted to.
    """

    def __init__(self, num_bs_ant: int, num_subcarriers: int, bs_array: tuple[int, int] | list[int],
                 subband_size: int = SGCS_SUBBAND_SIZE) -> None:
        super().__init__(num_bs_ant, num_subcarriers, bs_array, subband_size)
        self.config = {"subband_size": subband_size}

    def field_widths(self) -> dict[str, int]:
        """Bits of the report's fields (before the byte padding)."""
        return {"i11": ceil_log2(self.n1 * self.o1), "i12": ceil_log2(self.n2 * self.o2)}

    def payload_bits(self) -> int:
        return sum(self.field_widths().values())

    def encode_reports(self, h: np.ndarray) -> tuple[list[bytes], np.ndarray]:
        v = subband_directions(h, self.subband_size)  # [B, N3, A]
        power = np.sum(np.abs(np.einsum("lma,bta->blmt", np.conj(self._beams), v)) ** 2, axis=-1)
        best = np.argmax(power.reshape(len(h), -1), axis=-1)
        l_idx, m_idx = np.divmod(best, self.n2 * self.o2)
        wd = self.field_widths()
        streams = []
        for l_b, m_b in zip(l_idx, m_idx):
            out = BitWriter()
            out.put(int(l_b), wd["i11"])
            out.put(int(m_b), wd["i12"])
            streams.append(out.to_bytes())
        w = np.repeat(self._beams[l_idx, m_idx][:, None, :], self.num_subbands, axis=1)
        return streams, w

    def decode_report(self, stream: bytes) -> np.ndarray:
        rd = BitReader(stream)
        wd = self.field_widths()
        l_idx, m_idx = rd.get(wd["i11"]), rd.get(wd["i12"])
        rd.finish()
        if l_idx >= self.n1 * self.o1 or m_idx >= self.n2 * self.o2:
            raise DataError(f"corrupt Type I report: beam ({l_idx}, {m_idx}) is outside the "
                            f"{self.n1 * self.o1} x {self.n2 * self.o2} DFT grid")
        return np.repeat(self._beams[l_idx, m_idx][None, :], self.num_subbands, axis=0)
