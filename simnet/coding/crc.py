"""CRCs of 3GPP TS 38.212 5.1 for CSI reports, and the UCI rule (6.3.1.2.1) for choosing one.

A CRC of length L over the A payload bits a_0..a_{A-1} (a_0 first: the MSB of the first byte) is the
remainder of a(D) * D^L divided by the generator g(D), with a zero register, no reflection and no final XOR,
so that a_0 D^{A+L-1} + ... + a_{A-1} D^L + p_0 D^{L-1} + ... + p_{L-1} is divisible by g(D). Every
generator here has more than one term, so every single-bit error of payload or CRC is detected; a random
bit string passes with probability 2^-L.

    report bytes ──crc(L, g)──> p (L bits)     uplink packet: A = 8 * len(bytes) payload bits + L CRC bits
    BS: crc(received bytes) == received p ?  yes -> decode   no -> lost report (the previous CSI stays)

Why hand-written: of the PyPI CRC packages, ``crcmod`` takes only 8/16/24/32/64-bit generators and ``crc``
(pure Python) shifts a byte into the register at ``width - 8`` and so breaks for CRC6; ``anycrc`` takes any
width but is a compiled extension, a binary dependency for the ~20 lines below whose speed does not matter
here (a report is tens of bytes; the table-driven loop costs microseconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

# TS 38.212 5.1: name -> (L, g(D) without its D^L term, bit i = coefficient of D^i)
GENERATORS: dict[str, tuple[int, int]] = {
    "crc6": (6, 0b10_0001),  # D^6 + D^5 + 1
    "crc11": (11, 0b110_0010_0001),  # D^11 + D^10 + D^9 + D^5 + 1
    "crc16": (16, 0x1021),  # D^16 + D^12 + D^5 + 1
    "crc24c": (24, 0xB2B117),  # D^24 + D^23 + D^21 + D^20 + D^17 + D^15 + D^13 + D^12 + D^8 + D^4 + D^2 + D + 1
}
REPORT_CRCS = ("none", "nr", *GENERATORS)
"""Values of ``uplink.report_crc``: no CRC, the NR UCI rule (:func:`nr_uci_crc`), or one fixed generator."""


@cache
def _table(name: str) -> tuple[int, ...]:
    """Byte-wise table of ``name`` in a register of max(L, 8) bits (a shorter CRC runs shifted up)."""
    length, poly = GENERATORS[name]
    width = max(length, 8)
    poly <<= width - length
    top, mask = 1 << (width - 1), (1 << width) - 1
    table = []
    for byte in range(256):
        reg = byte << (width - 8)
        for _ in range(8):
            reg = ((reg << 1) ^ poly) & mask if reg & top else (reg << 1) & mask
        table.append(reg)
    return tuple(table)


def crc(data: bytes, name: str) -> int:
    """The L CRC bits of ``data`` (8 * len(data) payload bits, MSB of byte 0 first) as an int, p_0 its MSB."""
    length, _ = GENERATORS[name]
    width = max(length, 8)
    table, mask = _table(name), (1 << width) - 1
    reg = 0
    for byte in data:
        reg = ((reg << 8) & mask) ^ table[(reg >> (width - 8)) ^ byte]
    return reg >> (width - length)


def nr_uci_crc(num_payload_bits: int) -> str | None:
    """TS 38.212 6.3.1.2.1: CRC6 for 12 <= A <= 19 payload bits, CRC11 for A >= 20, none below 12.

    (Code-block segmentation of very long UCI, two CRC11 blocks when A >= 1013 or A >= 360 with a large
    rate-matched size, is not modelled: a report carries one CRC11.)
    """
    if num_payload_bits >= 20:
        return "crc11"
    if num_payload_bits >= 12:
        return "crc6"
    return None


@dataclass(frozen=True)
class ReportCheck:
    """The CRC a CSI report carries: which generator (or none) and its value."""

    name: str | None
    value: int = 0

    @property
    def num_bits(self) -> int:
        """L: the CRC bits the report adds to the uplink packet."""
        return GENERATORS[self.name][0] if self.name else 0


def protect(payload: bytes, report_crc: str) -> ReportCheck:
    """The CRC to send with ``payload`` under ``uplink.report_crc`` (one of :data:`REPORT_CRCS`)."""
    if report_crc not in REPORT_CRCS:
        raise ValueError(f"report_crc = {report_crc!r}; allowed: {', '.join(REPORT_CRCS)}")
    name = nr_uci_crc(8 * len(payload)) if report_crc == "nr" else None if report_crc == "none" else report_crc
    return ReportCheck(name, crc(payload, name) if name else 0)


def passes(payload: bytes, check: ReportCheck) -> bool:
    """Whether the received ``payload`` matches its received CRC (always True without a CRC)."""
    return check.name is None or crc(payload, check.name) == check.value
