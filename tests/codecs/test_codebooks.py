"""The NR codebook codecs: bit widths against 38.214/38.212 formulas, exact round trips, SGCS, the engine."""

from __future__ import annotations

from math import ceil, comb, log2

import numpy as np
import pytest

from simnet.codecs import CODECS
from simnet.config import load_scenario
from simnet.errors import DataError
from simnet.sim.beamforming import sgcs
from simnet.sim.engine import run_variant
from simnet.sim.world import build_world
from tests.codecs.conftest import few_path_channels
from tests.paths import TINY

# 38.214 Table 5.2.2.2.5-1 (L, p_v for rank 1, beta), written out again so the test does not read the codec's copy
SPEC_TABLE = {1: (2, 1 / 4, 1 / 4), 2: (2, 1 / 4, 1 / 2), 3: (4, 1 / 4, 1 / 4), 4: (4, 1 / 4, 1 / 2),
              5: (4, 1 / 4, 3 / 4), 6: (4, 1 / 2, 1 / 2), 7: (6, 1 / 4, 1 / 2), 8: (6, 1 / 4, 3 / 4)}


def _clog2(n: int) -> int:
    return ceil(log2(n)) if n > 1 else 0


def spec_bits(n1: int, n2: int, pc: int, n3: int, r: int, k_nz: int) -> int:
    """38.212 eType II rank-1 widths with the single-polarization change (2L -> L, no i_{2,3}), no RI/CQI."""
    num_beams, p_v, beta = SPEC_TABLE[pc]
    m = ceil(p_v * n3 / r)
    k0 = ceil(beta * num_beams * m)
    o1, o2 = (4 if n1 > 1 else 1), (4 if n2 > 1 else 1)
    fd = _clog2(2 * m) + _clog2(comb(2 * m - 1, m - 1)) if n3 > 19 else _clog2(comb(n3 - 1, m - 1))
    return (_clog2(k0) + _clog2(o1 * o2) + _clog2(comb(n1 * n2, num_beams)) + fd + num_beams * m
            + _clog2(k_nz) + 3 * (k_nz - 1) + 4 * (k_nz - 1))


def make(name: str, bs_array=(8, 8), num_subcarriers=64, **kw):
    return CODECS.make(name, num_bs_ant=bs_array[0] * bs_array[1], num_subcarriers=num_subcarriers,
                       bs_array=bs_array, **kw)


CASES = [  # (bs_array (rows, cols), num_subcarriers, subband_size, R, paramCombination)
    *(((8, 8), 64, 4, 1, pc) for pc in range(1, 9)),  # the default system: N3 = 16
    ((2, 4), 48, 2, 1, 4),  # N3 = 24 > 19: windowed FD basis with i_{1,5}
    ((1, 8), 40, 4, 2, 6),  # one row: O2 = 1; R = 2
    ((4, 4), 100, 4, 1, 8),  # N3 = 25, L = 6 on 16 ports
    ((2, 2), 8, 1, 1, 2),
]


@pytest.mark.parametrize("bs_array,num_sc,size,r,pc", CASES)
def test_etype2_bit_widths_match_the_specification(bs_array, num_sc, size, r, pc):
    codec = make("etype2", bs_array, num_sc, param_combination=pc, subband_size=size,
                 pmi_subbands_per_cqi_subband=r)
    n1, n2, n3 = bs_array[1], bs_array[0], -(-num_sc // size)
    for k_nz in sorted({1, codec.k0 // 2 or 1, codec.k0}):
        assert codec.payload_bits(k_nz) == spec_bits(n1, n2, pc, n3, r, k_nz)
    h = few_path_channels(6, codec.num_bs_ant, num_sc, seed=pc)
    for stream in codec.compress(h):
        k_nz = int(codec.parse(stream)[4].sum())
        assert 1 <= k_nz <= codec.k0
        assert len(stream) == ceil(spec_bits(n1, n2, pc, n3, r, k_nz) / 8)


def test_default_system_paramcombination_4_is_104_bits():
    # L = 4, M_1 = ceil(16/4) = 4, K0 = 8: 3 + 4 + ceil(log2 C(64,4)) = 20 + ceil(log2 C(15,3)) = 9 + 16 + 3 + 49
    assert make("etype2", param_combination=4).payload_bits() == 104


@pytest.mark.parametrize("bs_array,num_sc,size,r,pc", CASES)
def test_etype2_round_trip_is_exact(bs_array, num_sc, size, r, pc):
    codec = make("etype2", bs_array, num_sc, param_combination=pc, subband_size=size,
                 pmi_subbands_per_cqi_subband=r)
    h = few_path_channels(5, codec.num_bs_ant, num_sc, seed=10 + pc)
    streams, h_ue = codec.compress_with_reconstruction(h)
    assert streams == codec.compress(h)  # deterministic
    assert all(codec.pack(codec.parse(s)) == s for s in streams)  # re-encoding the decoded indices
    np.testing.assert_array_equal(codec.decompress(streams), h_ue)


def test_type1_round_trip_and_bits():
    codec = make("type1")
    assert codec.payload_bits() == 5 + 5  # ceil(log2 8*4) twice; the 2-bit i_2 co-phase needs two polarizations
    h = few_path_channels(5, 64, 64, seed=1)
    streams, h_ue = codec.compress_with_reconstruction(h)
    assert all(len(s) == 2 for s in streams)
    np.testing.assert_array_equal(codec.decompress(streams), h_ue)
    assert np.all(sgcs(h, h_ue) > 0.2)


@pytest.mark.parametrize("name", ["etype2", "type1"])
def test_corrupt_streams_are_rejected(name):
    codec = make(name, param_combination=4) if name == "etype2" else make(name)
    stream = codec.compress(few_path_channels(1, 64, 64, seed=3))[0]
    for bad in (stream[:-1], stream + b"\x00", stream[:-1] + bytes([stream[-1] | 1])):
        if bad[-1:] == stream[-1:] and len(bad) == len(stream):
            continue  # the last bit was already a field bit set to 1: not a padding change
        with pytest.raises(DataError):
            codec.decompress([bad])


def single_path(num: int, rows: int, cols: int, num_sc: int, seed: int) -> np.ndarray:
    """[num, rows*cols, num_sc]: one plane wave off the DFT grid, index col * rows + row, random delay."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(num):
        u, v, tau = rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(0, 0.3)
        a = np.exp(1j * np.pi * u * np.arange(cols))[:, None] * np.exp(1j * np.pi * v * np.arange(rows))[None]
        out.append(np.outer(a.ravel(), np.exp(-2j * np.pi * tau * np.arange(num_sc))))
    return np.asarray(out, dtype=np.complex64)


def test_etype2_sgcs_on_a_single_path_grows_towards_one_with_l_and_beta():
    h = single_path(12, 4, 4, 32, seed=5)
    score = {pc: float(sgcs(h, make("etype2", (4, 4), 32, param_combination=pc).decompress(
        make("etype2", (4, 4), 32, param_combination=pc).compress(h))).mean()) for pc in (1, 3, 4, 7, 8)}
    assert score[1] < score[3] - 0.005  # L = 2 -> 4 at beta = 1/4
    assert score[3] <= score[4] + 1e-3 and score[4] <= score[7] + 1e-3 <= score[8] + 2e-3
    assert score[8] > 0.98
    assert float(sgcs(h, make("type1", (4, 4), 32).decompress(make("type1", (4, 4), 32).compress(h))).mean()) \
        < score[8]


def test_etype2_runs_in_the_simulator_with_sgcs_columns():
    scenario = load_scenario(TINY, overrides={"codec": {"type": "etype2", "param_combination": 2}})
    world = build_world(scenario, cache_dir=None)
    rec = run_variant(world, scenario.policies[0])
    assert rec["reports"] and rec["slots"]
    expected = ceil(world.codec.payload_bits() / 8) * 8  # K0 = 1 on 4 ports x 2 subbands: always one coefficient
    assert {p["bits"] for p in rec["packets"]} == {expected}
    assert all(0.0 <= r["sgcs_report"] <= 1.0 + 1e-9 for r in rec["reports"])
    assert np.mean([r["sgcs_report"] for r in rec["reports"]]) > 0.5
    assert all(0.0 <= s["sgcs"] <= 1.0 + 1e-9 for s in rec["slots"])
