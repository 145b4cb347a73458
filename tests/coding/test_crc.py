"""Report CRCs (TS 38.212 5.1): known vectors, a bitwise reference, every single-bit error caught, and the
uplink/BS side: CRC bits counted exactly, a failed check is a lost report that keeps the previous CSI."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from simnet.coding.crc import GENERATORS, crc, nr_uci_crc, passes, protect
from simnet.config import PolicySpec, load_scenario
from simnet.errors import ConfigError
from simnet.sim.engine import run_variant
from simnet.sim.uplink import Packet, Uplink
from simnet.sim.world import World
from tests.paths import TINY
from tests.sim.test_engine import CSI_BITS, _world


def _bitwise_reference(data: bytes, name: str) -> int:
    """Long division of a(D) * D^L by g(D), one bit at a time, straight from TS 38.212 5.1."""
    length, poly = GENERATORS[name]
    generator = (1 << length) | poly
    bits = [(byte >> (7 - k)) & 1 for byte in data for k in range(8)] + [0] * length
    for i in range(len(bits) - length):
        if bits[i]:
            for j in range(length + 1):
                bits[i + j] ^= (generator >> (length - j)) & 1
    return int("".join(map(str, bits[-length:])), 2) if length else 0


def test_known_vectors() -> None:
    # by hand: a = 1000 0000, a(D) D^6 = D^13 = D^4 + D^3 + D^2 + 1 mod D^6 + D^5 + 1
    assert crc(b"\x80", "crc6") == 0b011101
    # gCRC16 with a zero register, unreflected, is CRC-16/XMODEM: its catalogued check value
    assert crc(b"123456789", "crc16") == 0x31C3
    for name in GENERATORS:
        assert crc(b"", name) == 0 and crc(bytes(7), name) == 0  # a zero message has a zero remainder


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_table_driven_crc_equals_the_bitwise_reference(name: str) -> None:
    rng = np.random.default_rng(1)
    for num_bytes in (1, 2, 3, 5, 17, 64):
        for _ in range(5):
            data = rng.integers(0, 256, num_bytes, dtype=np.uint8).tobytes()
            assert crc(data, name) == _bitwise_reference(data, name), (name, data.hex())
    assert _bitwise_reference(b"\x80", "crc6") == 0b011101


def test_nr_uci_rule_picks_the_crc_length_by_payload_size() -> None:
    assert [nr_uci_crc(a) for a in (0, 11, 12, 19, 20, 1000)] == [None, None, "crc6", "crc6", "crc11", "crc11"]
    assert protect(b"\x01", "nr").name is None  # 8 bits: NR sends no CRC below 12
    assert protect(b"\x01\x02", "nr").num_bits == 6
    assert protect(b"\x01\x02\x03", "nr").num_bits == 11
    assert protect(b"\x01\x02\x03", "none").num_bits == 0
    with pytest.raises(ValueError, match="allowed: none, nr"):
        protect(b"x", "crc32")


def _flip(payload: bytes, value: int, length: int, bit: int) -> tuple[bytes, int]:
    """Flip bit ``bit`` of the transmitted sequence payload || CRC (MSB first)."""
    if bit < 8 * len(payload):
        flipped = bytearray(payload)
        flipped[bit // 8] ^= 0x80 >> (bit % 8)
        return bytes(flipped), value
    return payload, value ^ (1 << (length - 1 - (bit - 8 * len(payload))))


@pytest.mark.parametrize("report_crc", ["nr", *sorted(GENERATORS)])
def test_every_single_bit_error_of_a_protected_report_is_detected(report_crc: str) -> None:
    from simnet.codecs import default_checkpoint, load_codec
    from tests.codecs.conftest import few_path_channels

    codec = load_codec(default_checkpoint())
    for stream in codec.compress(few_path_channels(2, codec.num_bs_ant, codec.num_subcarriers, seed=9)):
        check = protect(stream, report_crc)
        assert check.num_bits == GENERATORS["crc11" if report_crc == "nr" else report_crc][0]
        assert passes(stream, check)
        for bit in range(8 * len(stream) + check.num_bits):
            payload, value = _flip(stream, check.value, check.num_bits, bit)
            assert not passes(payload, dataclasses.replace(check, value=value)), bit


def test_report_crc_is_validated_in_the_scenario(tmp_path) -> None:
    text = TINY.read_text().replace("discipline: fifo}", "discipline: fifo, report_crc: crc32}")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match="report_crc"):
        load_scenario(bad)


def _with_crc(world: World, report_crc: str) -> World:
    sc = world.scenario
    return dataclasses.replace(world, scenario=dataclasses.replace(
        sc, uplink=dataclasses.replace(sc.uplink, report_crc=report_crc)))


def test_crc_bits_are_counted_exactly_in_every_csi_packet() -> None:
    plain = run_variant(_world(), PolicySpec(label="never", type="never"))
    assert {p["bits"] for p in plain["packets"] if p["kind"] == "csi"} == {CSI_BITS}
    assert "crc_ok" not in plain["reports"][0] and "crc_bits" not in plain["reports"][0]
    for report_crc, length in (("nr", 11), ("crc24c", 24)):
        rec = run_variant(_with_crc(_world(), report_crc), PolicySpec(label="never", type="never"))
        assert {p["bits"] for p in rec["packets"] if p["kind"] == "csi"} == {CSI_BITS + length}
        assert {(r["latent_bits"], r["crc_bits"], r["crc_ok"]) for r in rec["reports"]} == {
            (CSI_BITS + length, length, True)}
        assert rec["uplink_busy_s"] == pytest.approx(plain["uplink_busy_s"] * (CSI_BITS + length) / CSI_BITS)
        # an error-free uplink loses nothing: the CSI the BS uses is the same as without a CRC
        assert [s["nmse"] for s in rec["slots"]] == [s["nmse"] for s in plain["slots"]]


class OneBitErrorUplink(Uplink):
    """Flips one payload bit of UE 0's third CSI report on the air."""

    def _deliver(self, packet: Packet) -> None:
        if packet.kind == "csi" and packet.ue == 0 and packet.meta["report"] == 2:
            damaged = bytearray(packet.payload)
            damaged[5] ^= 0x10
            packet.payload = bytes(damaged)
        super()._deliver(packet)


def test_a_report_that_fails_its_crc_is_lost_and_the_previous_csi_stays(monkeypatch) -> None:
    monkeypatch.setattr("simnet.sim.engine.Uplink", OneBitErrorUplink)
    rec: dict[str, Any] = run_variant(_with_crc(_world(), "nr"), PolicySpec(label="never", type="never"))
    ue0 = sorted((r for r in rec["reports"] if r["ue"] == 0), key=lambda r: r["report"])
    assert [r["crc_ok"] for r in ue0] == [k != 2 for k in range(len(ue0))]
    lost, before, after = ue0[2], ue0[1], ue0[3]
    assert np.isnan(lost["nmse_report"]) and np.isnan(lost["cosine_sim"]) and lost["latent_bits"] == CSI_BITS + 11
    served = [s for s in rec["slots"] if s["ue"] == 0 and lost["t_deliver_s"] <= s["t_s"] < after["t_deliver_s"]]
    assert served  # slots between the lost report and the next one use report 1's CSI
    for s in served:
        assert s["age_s"] == pytest.approx(s["t_s"] - before["t_measure_s"], abs=1e-12)
