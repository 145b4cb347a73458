"""Sionna RT source: the one-line error without the extra; with it, a tiny trace matches Sionna's own CFR."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from simnet.channels import make_source
from simnet.channels.lsp import SPEED_OF_LIGHT_MPS
from simnet.channels.sionna_rt import SCENES
from simnet.errors import ConfigError

K = 8
# a 3 m piece of street in the open square north of the munich BS: 4 receivers (1 m apart), all in line of sight
TINY = {
    "scene": "munich",
    "num_subcarriers": K,
    "bs_array": (4, 4),
    "bs_heading_deg": 80.0,  # a turned and tilted array: Sionna's own tilted array must give the same H
    "bs_downtilt_deg": 20.0,
    "tracks_m": [[[0.0, 60.0], [3.0, 60.0]]],
    "spacing_m": 1.0,
    "max_depth": 2,
    "samples_per_src": 10_000,
    "batch_size": 3,  # two traces: the batching is exercised
    "normalization": "none",
}


def test_simnet_channels_does_not_import_sionna() -> None:
    code = "import sys, simnet.channels as c; assert 'sionna_rt' in c.CHANNEL_SOURCES; print('sionna' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_extra_gives_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("sionna", "sionna.rt"):  # a None entry makes the import fail, whether or not sionna is installed
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ConfigError) as err:
        make_source("sionna_rt", scene="munich")
    assert str(err.value) == (
        "channel type 'sionna_rt' needs the optional extra: pip install 'simnet[raytracing]' and the Debian "
        "package libllvm19"
    )


@pytest.fixture
def rt():
    return pytest.importorskip("sionna.rt", reason="sionna-rt not installed (optional extra: simnet[raytracing])")


def test_unknown_scene_lists_the_known_ones(rt) -> None:
    with pytest.raises(ConfigError, match="etoile, munich"):
        make_source("sionna_rt", scene="paris")


def test_trace_matches_sionna_cfr_and_is_cached(rt, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_source("sionna_rt", trace_folder=str(tmp_path), **TINY)
    rx = src.rx_positions()
    assert rx.shape == (4, 3) and np.allclose(rx[:, 2], 1.5)
    np.testing.assert_allclose(src.tracks(2)[1], [[0.0, 60.0, 1.5], [3.0, 60.0, 1.5]])
    h = src.channels(rx, np.zeros(len(rx)))
    assert h.shape == (4, 16, K) and h.dtype == np.complex64
    assert np.all(np.linalg.norm(h, axis=(1, 2)) > 0)

    # Sionna's own frequency response with the same UPA as a synthetic array (centred at the BS position, turned
    # by the heading, pitched down by the downtilt)
    upa = rt.PlanarArray(num_rows=4, num_cols=4, pattern="iso", polarization="V")
    _, paths = src.trace_rays(rx, tx_array=upa)  # one batch of 4 > batch_size 3: the last batch's Paths
    freq_hz = np.arange(K) * src.meta.bandwidth_hz / K
    h_rt = np.asarray(paths.cfr(frequencies=freq_hz, normalize_delays=False, out_type="numpy"))[:, 0, 0, :, 0, :]
    m = np.arange(16)
    h_rt = h_rt[:, (m // 4) * 4 + 3 - m % 4]  # Sionna counts rows from the top, simnet from the bottom
    tau_ref = np.linalg.norm(rx[3:] - src.bs_pos_m, axis=1) / SPEED_OF_LIGHT_MPS  # the reader's relative delays
    h_rt = h_rt * np.exp(2j * np.pi * freq_hz * tau_ref[:, None])[:, None]
    rel = np.linalg.norm(h[3:] - h_rt, axis=(1, 2)) / np.linalg.norm(h_rt, axis=(1, 2))
    assert rel.max() < 5e-3  # float32 ray data; without the carrier-phase correction this is ~1

    # a second source with the same parameters reads the traced folder: no new trace, same H
    def no_trace(*args, **kwargs):
        raise AssertionError("traced again")

    again = make_source("sionna_rt", trace_folder=str(tmp_path), **TINY)
    monkeypatch.setattr(again, "trace_rays", no_trace)
    assert again.params() == src.params() and again.scenario == src.scenario
    np.testing.assert_array_equal(again.channels(rx, np.zeros(len(rx))), h)
    # the deterministic solver: a fresh trace in another folder gives the same rays
    fresh = make_source("sionna_rt", trace_folder=str(tmp_path / "other"), **TINY)
    np.testing.assert_array_equal(fresh.channels(rx, np.zeros(len(rx))), h)
    assert make_source("sionna_rt", trace_folder=str(tmp_path), **{**TINY, "seed": 1}).scenario != src.scenario


def test_downtilt_turns_the_array_towards_the_ground(rt, tmp_path) -> None:
    # one receiver in the square north of the munich BS, line of sight only: H is one plane wave from below
    ue = np.array([1.5, 60.0, 1.5])
    d = ue - np.asarray(SCENES["munich"]["bs_pos_m"])
    heading = float(np.degrees(np.arctan2(d[1], d[0])))
    depression = float(np.degrees(np.arctan2(-d[2], np.hypot(d[0], d[1]))))  # ~33 deg below the horizon
    gain = {}
    for tilt in (depression, -depression):
        track = [ue[:2].tolist(), (ue[:2] + [0.5, 0.0]).tolist()]  # one receiver (spacing 1 m)
        kwargs = {**TINY, "tracks_m": [track], "max_depth": 0, "bs_heading_deg": heading, "bs_downtilt_deg": tilt}
        src = make_source("sionna_rt", trace_folder=str(tmp_path), **kwargs)
        h = src.channels(ue[None], np.zeros(1))[0].astype(np.complex128)  # [16, K]
        beam = h.sum(axis=0) / np.sqrt(len(h))  # the unit-norm broadside beam (all weights equal)
        gain[tilt] = np.mean(np.abs(beam) ** 2) / np.mean(np.abs(h) ** 2)  # over one element's power
    assert gain[depression] == pytest.approx(16.0, rel=1e-3)  # array normal on the receiver: full array gain
    assert gain[-depression] < 4.0  # tilted up, the broadside beam misses it


def test_diffraction_reaches_shadowed_receivers_and_pathless_ones_are_reported(rt, tmp_path) -> None:
    # the south end of munich's west street: outdoors, but no LOS and no reflection chain of depth <= 3
    kwargs = {**TINY, "tracks_m": [[[-55.0, -40.0], [-54.0, -37.0]]], "max_depth": 3}
    off = make_source("sionna_rt", trace_folder=str(tmp_path), diffraction=False, **kwargs)
    rx = off.rx_positions()
    with pytest.warns(RuntimeWarning, match=r"^sionna_rt munich: 4 of 4 receivers have no traced path and get H = 0"):
        h = off.channels(rx, np.zeros(len(rx)))
    assert not np.any(h)
    np.testing.assert_allclose(off.rx_without_paths_m, rx, atol=1e-5)  # float32 positions in the scenario files
    on = make_source("sionna_rt", trace_folder=str(tmp_path), **kwargs)  # diffraction by default
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: every receiver has a path
        h = on.channels(rx, np.zeros(len(rx)))
    assert np.all(np.linalg.norm(h, axis=(1, 2)) > 0) and len(on.rx_without_paths_m) == 0
