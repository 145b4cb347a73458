"""``etype2``: the Rel-16 enhanced Type II codebook (38.214 5.2.2.2.5), rank 1, on single-polarized ports.

    UE: h [B, A, S] --subband directions v_t (t < N3)--> L beams of the best orthogonal DFT group (projected
        power) --> c [L, N3] --FD DFT, remap strongest tap to 0--> M_1 taps --> K_NZ <= K0 strongest
        coefficients / strongest one --3-bit amplitude, 16-PSK phase--> bit fields --> bytes
    BS: bytes --> fields --> W_t = sum_i b_i sum_f x_{i,f} exp(j 2 pi t n_3^(f) / N3), normalized --> h_hat

Single-polarized adaptation (the specification's 2L rows become L; every other rule is unchanged):
  K0 = ceil(beta L M_1) (spec: ceil(beta 2L M_1)); the bitmap i_{1,7} has L M_1 bits (spec 2L M_1); the
  strongest coefficient's polarization is the only one, so its reference amplitude is 1 and the 4-bit
  i_{2,3} (the other polarization's reference amplitude) is not sent: every reported amplitude is the
  differential amplitude p^(2) alone (relative to the strongest coefficient); L <= N1 N2; paramCombination
  7 and 8 (L = 6) need N1 N2 >= 16 ports (spec: P_CSI-RS = 32 = 2 x 16) and R = 1.
Subbands: PMI subband t holds ``subband_size`` consecutive subcarriers of simnet's OFDM grid, so
  N3 = ceil(num_subcarriers / subband_size) (the last subband may be shorter); R
  (numberOfPMI-SubbandsPerCQI-Subband) only sets M_v = ceil(p_v N3 / R). For N3 > 19 the taps lie in the
  window of i_{1,5} = M_initial (38.214), as the specification does.
Report fields in order (MSB first, zero-padded to whole bytes; widths from 38.212 Table 6.3.2.1.2-x with
  the changes above; RI and CQI are not part of the precoder and are not sent): part 1: K_NZ - 1
  [ceil(log2 K0)]; part 2: q1 [log2 O1], q2 [log2 O2], i_{1,2} [ceil(log2 C(N1 N2, L))], i_{1,5}
  [ceil(log2 2 M_1), N3 > 19 only], i_{1,6} [ceil(log2 C(N3 - 1, M_1 - 1)), or C(2 M_1 - 1, M_1 - 1) for
  N3 > 19], bitmap [L M_1], i_{1,8} [ceil(log2 K_NZ)], i_{2,4} [3 (K_NZ - 1)], i_{2,5} [4 (K_NZ - 1)].
"""

from __future__ import annotations

from math import ceil, comb

import numpy as np

from simnet.codecs.base import register_codec
from simnet.codecs.nr_codebook import (
    DIFFERENTIAL_AMPLITUDE,
    NUM_PHASES,
    PARAM_COMBINATIONS,
    BitReader,
    BitWriter,
    CodebookCodec,
    ceil_log2,
    combination_from_index,
    combination_index,
)
from simnet.errors import DataError, SimnetError
from simnet.subbands import SGCS_SUBBAND_SIZE, subband_directions

Fields = tuple[np.ndarray, np.ndarray, int, list[int], np.ndarray, np.ndarray, np.ndarray, int]
"""A report: (q [2], beams n [L], M_initial, taps [M_1], bitmap, amplitude k^(2), phase c [L, M_1], i*)."""

_WINDOW_N3 = 19  # above this N3 the FD basis is chosen inside a window of 2 M_1 taps (i_{1,5})


@register_codec("etype2")
class EType2Codec(CodebookCodec):
    """Rel-16 eType II, rank 1, single-polarized ports (see the module docstring for the bit fields).

    Args:
        num_bs_ant, num_subcarriers: the system's array size and OFDM grid.
        bs_array: (rows, cols) of the BS array; N1 = cols, N2 = rows.
        param_combination: paramCombination-r16, 1..8 (38.214 Table 5.2.2.2.5-1).
        subband_size: subcarriers per PMI subband.
        pmi_subbands_per_cqi_subband: R in {1, 2}.
    """

    def __init__(self, num_bs_ant: int, num_subcarriers: int, bs_array: tuple[int, int] | list[int],
                 param_combination: int = 4, subband_size: int = SGCS_SUBBAND_SIZE,
                 pmi_subbands_per_cqi_subband: int = 1) -> None:
        super().__init__(num_bs_ant, num_subcarriers, bs_array, subband_size)
        if param_combination not in PARAM_COMBINATIONS:
            raise SimnetError(f"param_combination = {param_combination!r}: must be one of 1..8 "
                              f"(38.214 Table 5.2.2.2.5-1)")
        r = pmi_subbands_per_cqi_subband
        if r not in (1, 2):
            raise SimnetError(f"pmi_subbands_per_cqi_subband = {r!r}: must be 1 or 2 (R of 38.214)")
        self.num_beams, p_v, _, beta = PARAM_COMBINATIONS[param_combination]  # L
        num_ports = self.n1 * self.n2
        if self.num_beams > num_ports:
            raise SimnetError(f"param_combination = {param_combination}: L = {self.num_beams} beams need "
                              f"at least {self.num_beams} ports, the array has {num_ports}")
        if param_combination in (7, 8) and (num_ports < 16 or r == 2):
            raise SimnetError(f"param_combination = {param_combination}: needs >= 16 ports and "
                              f"pmi_subbands_per_cqi_subband = 1 (38.214 5.2.2.2.5)")
        self.param_combination, self.r = param_combination, r
        n3 = self.num_subbands
        self.num_taps = int(ceil(p_v * n3 / r))  # M_1 = ceil(p_v N3 / R), p_v a Fraction so this is exact
        self.k0 = int(ceil(beta * self.num_beams * self.num_taps))  # ceil(beta L M_1)
        self.windowed = n3 > _WINDOW_N3
        m = self.num_taps
        self._i16_choices = (comb(2 * m - 1, m - 1) if self.windowed else comb(n3 - 1, m - 1))
        self.config = {"param_combination": param_combination, "subband_size": subband_size,
                       "pmi_subbands_per_cqi_subband": r}

    # --------------------------------------------------------------------------------------- bit widths
    def field_widths(self, k_nz: int) -> dict[str, int]:
        """Bits of every report field for ``k_nz`` non-zero coefficients (before the byte padding)."""
        m = self.num_taps
        return {
            "k_nz": ceil_log2(self.k0), "q1": ceil_log2(self.o1), "q2": ceil_log2(self.o2),
            "i12": ceil_log2(comb(self.n1 * self.n2, self.num_beams)),
            "i15": ceil_log2(2 * m) if self.windowed else 0, "i16": ceil_log2(self._i16_choices),
            "bitmap": self.num_beams * m, "i18": ceil_log2(k_nz), "amplitude": 3 * (k_nz - 1),
            "phase": 4 * (k_nz - 1),
        }

    def payload_bits(self, k_nz: int | None = None) -> int:
        """Report bits for ``k_nz`` (default K0, what the UE sends) coefficients, before byte padding."""
        return sum(self.field_widths(self.k0 if k_nz is None else k_nz).values())

    # --------------------------------------------------------------------------------------------- UE
    def _select_beams(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """v [B, N3, A] -> (q [B, 2] rotation, n [B, L] ascending beam indices n1 + N1 n2, c [B, L, N3]).

        In each orthogonal group (q1, q2) the L beams of most projected power are the candidates; the group
        kept is the one whose K0 strongest delay-domain coefficients capture the most power (with few
        coefficients, the group with the most power over all L beams can be a worse choice). The returned
        coefficients are phase-aligned per subband (the strongest beam's coefficient real and positive).
        """
        n1, n2, o1, o2 = self.n1, self.n2, self.o1, self.o2
        # group (q1, q2) holds the orthogonal beams l = O1 n1 + q1, m = O2 n2 + q2
        groups = self._beams.reshape(n1, o1, n2, o2, -1).transpose(1, 3, 2, 0, 4)  # [q1, q2, n2, n1, A]
        groups = groups.reshape(o1 * o2, n1 * n2, -1)  # beam index n = N1 n2 + n1
        c_all = np.einsum("gna,bta->bgnt", np.conj(groups), v)  # [B, G, N1N2, N3]
        power = np.sum(np.abs(c_all) ** 2, axis=-1)
        top = np.sort(np.argsort(-power, axis=-1, kind="stable")[..., : self.num_beams], axis=-1)  # [B, G, L]
        c = np.take_along_axis(c_all, top[..., None], axis=2)  # [B, G, L, N3]
        # the eigenvectors' common phase per subband is arbitrary: align the strongest beam to real > 0
        ref = np.argmax(np.sum(np.abs(c) ** 2, axis=-1), axis=-1)  # [B, G]
        ref_c = np.take_along_axis(c, ref[..., None, None], axis=2)  # [B, G, 1, N3]
        c = c * np.exp(-1j * np.angle(ref_c))
        energy = np.abs(np.fft.fft(c, axis=-1)).reshape(*c.shape[:2], -1) ** 2
        score = -np.sort(-energy, axis=-1)[..., : self.k0].sum(-1)  # [B, G]
        g = np.argmax(score, axis=-1)
        rows = np.arange(len(v))
        return np.stack([g // o2, g % o2], axis=-1), top[rows, g], c[rows, g]

    def _select_taps(self, energy: np.ndarray) -> tuple[list[int], int]:
        """energy [N3] (strongest tap at 0) -> (M_1 taps, 0 first, and M_initial)."""
        m = self.num_taps
        if not self.windowed:
            rest = 1 + np.argsort(-energy[1:], kind="stable")[: m - 1]
            return [0, *sorted(int(x) for x in rest)], 0
        best: tuple[float, list[int], int] = (-1.0, [0], 0)
        for m_init in range(0, -2 * m, -1):
            cand = self._window(m_init)
            pick = sorted(np.argsort(-energy[cand], kind="stable")[: m - 1])
            taps = [0, *(cand[i] for i in pick)]
            total = float(energy[taps].sum())
            if total > best[0]:
                best = (total, taps, m_init)
        return best[1], best[2]

    def _window(self, m_init: int) -> list[int]:
        """The 2 M_1 - 1 candidate taps of window M_initial other than tap 0, in window order."""
        n3 = self.num_subbands
        return [(m_init + j) % n3 for j in range(2 * self.num_taps) if (m_init + j) % n3 != 0]

    def encode_reports(self, h: np.ndarray) -> tuple[list[bytes], np.ndarray]:
        v = subband_directions(h, self.subband_size)  # [B, N3, A]
        q, n, c = self._select_beams(v)
        c_tap = np.fft.fft(c, axis=-1) / self.num_subbands  # c_t = sum_n c_tap[n] exp(j 2 pi t n / N3)
        streams, w = [], []
        for b in range(len(h)):
            i_star, n_star = np.unravel_index(np.argmax(np.abs(c_tap[b])), c_tap[b].shape)
            tap = np.roll(c_tap[b], -int(n_star), axis=-1)  # the strongest coefficient moves to tap 0
            taps, m_init = self._select_taps(np.sum(np.abs(tap) ** 2, axis=0))
            x = tap[:, taps] / (tap[i_star, 0] if tap[i_star, 0] != 0 else 1.0)
            x[i_star, 0] = 1.0  # exactly, also for an all-zero channel
            fields = (q[b], n[b], m_init, taps, *self._quantize(x, int(i_star)))
            streams.append(self.pack(fields))
            w.append(self.precoders(fields))
        return streams, np.stack(w)

    def _quantize(self, x: np.ndarray, i_star: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """x [L, M] (x[i*, 0] = 1 the largest) -> (bitmap, amplitude index, phase index [L, M], i*).

        The bitmap keeps the K_NZ strongest coefficients, K_NZ <= K0 (38.214 lets the UE report fewer).
        """
        # a coefficient below half the smallest amplitude is closer to 0 than to any level: not reported
        k_nz = min(self.k0, int(np.count_nonzero(np.abs(x) >= DIFFERENTIAL_AMPLITUDE[0] / 2)))
        order = np.argsort(-np.abs(x).ravel(), kind="stable")[:k_nz]  # i* at tap 0 is the largest: kept
        bitmap = np.zeros(x.size, dtype=bool)
        bitmap[order] = True
        bitmap = bitmap.reshape(x.shape)
        with np.errstate(divide="ignore"):
            k2 = np.clip(np.rint(7 + 2 * np.log2(np.abs(x))), 0, 7).astype(np.int64)  # nearest in dB
        phase = np.mod(np.rint(np.angle(x) * NUM_PHASES / (2 * np.pi)), NUM_PHASES).astype(np.int64)
        return bitmap, np.where(bitmap, k2, 0), np.where(bitmap, phase, 0), i_star

    def pack(self, fields: Fields) -> bytes:
        """The report's fields -> its bytes (see the module docstring for the layout)."""
        q, n, m_init, taps, bitmap, k2, phase, i_star = fields
        k_nz = int(bitmap.sum())
        wd = self.field_widths(k_nz)
        out = BitWriter()
        out.put(k_nz - 1, wd["k_nz"])
        out.put(int(q[0]), wd["q1"])
        out.put(int(q[1]), wd["q2"])
        out.put(combination_index(n, self.n1 * self.n2, self.num_beams), wd["i12"])
        if self.windowed:
            out.put(m_init if m_init == 0 else m_init + 2 * self.num_taps, wd["i15"])
            cand = self._window(m_init)
            out.put(combination_index([cand.index(t) for t in taps[1:]], 2 * self.num_taps - 1,
                                      self.num_taps - 1), wd["i16"])
        else:
            out.put(combination_index([t - 1 for t in taps[1:]], self.num_subbands - 1, self.num_taps - 1),
                    wd["i16"])
        for bit in bitmap.ravel():  # beam-major, tap inner, as i_{1,7} of 38.214
            out.put(int(bit), 1)
        flat = np.flatnonzero(bitmap.ravel())
        strongest = i_star * bitmap.shape[1]  # (i*, f = 0)
        out.put(int(np.searchsorted(flat, strongest)), wd["i18"])
        others = flat[flat != strongest]
        for value in k2.ravel()[others]:
            out.put(int(value), 3)
        for value in phase.ravel()[others]:
            out.put(int(value), 4)
        return out.to_bytes()

    # --------------------------------------------------------------------------------------------- BS
    def precoders(self, fields: Fields) -> np.ndarray:
        """The reported W [N3, A] complex128, unit norm per subband."""
        q, n, _, taps, bitmap, k2, phase, i_star = fields
        x = DIFFERENTIAL_AMPLITUDE[k2] * np.exp(2j * np.pi * phase / NUM_PHASES) * bitmap
        x[i_star, 0] = 1.0
        l_idx = self.o1 * (n % self.n1) + int(q[0])
        m_idx = self.o2 * (n // self.n1) + int(q[1])
        beams = self._beams[l_idx, m_idx]  # [L, A]
        y = np.exp(2j * np.pi * np.outer(np.arange(self.num_subbands), taps) / self.num_subbands)  # [N3, M]
        w = (y @ x.T) @ beams  # [N3, A]
        return w / np.maximum(np.linalg.norm(w, axis=-1, keepdims=True), 1e-30)

    def decode_report(self, stream: bytes) -> np.ndarray:
        return self.precoders(self.parse(stream))

    def parse(self, stream: bytes) -> Fields:
        """Bytes -> the report's fields (DataError unless ``pack`` of them gives the same bytes)."""
        rd = BitReader(stream)
        k_nz = rd.get(ceil_log2(self.k0)) + 1
        if k_nz > self.k0:
            raise DataError(f"corrupt eType II report: K_NZ = {k_nz} exceeds K0 = {self.k0}")
        wd = self.field_widths(k_nz)
        q = np.array([rd.get(wd["q1"]), rd.get(wd["q2"])])
        n = np.array(combination_from_index(rd.get(wd["i12"]), self.n1 * self.n2, self.num_beams))
        m = self.num_taps
        m_init = 0
        if self.windowed:
            i15 = rd.get(wd["i15"])
            m_init = i15 if i15 == 0 else i15 - 2 * m
            cand = self._window(m_init)
            taps = [0, *(cand[j] for j in combination_from_index(rd.get(wd["i16"]), 2 * m - 1, m - 1))]
        else:
            taps = [0, *(t + 1 for t in combination_from_index(rd.get(wd["i16"]), self.num_subbands - 1, m - 1))]
        bitmap = np.array([rd.get(1) for _ in range(self.num_beams * m)], dtype=bool).reshape(self.num_beams, m)
        if int(bitmap.sum()) != k_nz:
            raise DataError(f"corrupt eType II report: the bitmap has {int(bitmap.sum())} ones, K_NZ = {k_nz}")
        flat = np.flatnonzero(bitmap.ravel())
        i18 = rd.get(wd["i18"])
        if i18 >= k_nz or flat[i18] % m != 0:
            raise DataError("corrupt eType II report: the strongest-coefficient indicator is not at tap 0")
        strongest = int(flat[i18])
        others = flat[flat != strongest]
        k2 = np.zeros(bitmap.size, dtype=np.int64)
        phase = np.zeros(bitmap.size, dtype=np.int64)
        k2[others] = [rd.get(3) for _ in others]
        phase[others] = [rd.get(4) for _ in others]
        rd.finish()
        shape = bitmap.shape
        return q, n, m_init, taps, bitmap, k2.reshape(shape), phase.reshape(shape), strongest // m
