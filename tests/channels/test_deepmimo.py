"""DeepMIMO v4 round trip: geometric rays -> scenario folder -> deepmimo source -> the same H; errors; grid rows."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("deepmimo")

from simnet.channels import DeepMIMOSource, export_deepmimo, far_field_channels, make_source  # noqa: E402
from simnet.errors import DataError  # noqa: E402


def _rel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=(1, 2)) / np.linalg.norm(b, axis=(1, 2))


def _geometric(preset: str):
    return make_source("geometric", preset=preset, seed=3, num_subcarriers=16, bs_array=(4, 4), normalization="none")


def _reader(geo, folder, name: str, **kw) -> DeepMIMOSource:
    return make_source(
        "deepmimo",
        scenario=name,
        scenarios_folder=str(folder),
        num_subcarriers=16,
        bandwidth_hz=geo.meta.bandwidth_hz,
        bs_array=(4, 4),
        bs_heading_deg=geo.cfg.get("bs_heading_deg", 0.0),
        bs_downtilt_deg=geo.cfg.get("bs_tilt_deg", 0.0),
        normalization="none",
        **kw,
    )


def test_static_round_trip_gives_same_h(tmp_path) -> None:
    geo = _geometric("o1_like")
    a, b = geo.tracks(1)[0][[0, -1]]
    pos = a + np.linspace(0.0, 1.0, 20)[:, None] * (b - a)
    t = np.zeros(20)
    export_deepmimo(geo, pos, t, tmp_path, "o1_rt")
    src = _reader(geo, tmp_path, "o1_rt")
    assert isinstance(src, DeepMIMOSource) and src.meta.carrier_hz == geo.meta.carrier_hz
    h = src.channels(pos, t)
    assert h.shape == (20, 16, 16) and h.dtype == np.complex64
    assert _rel(h, far_field_channels(geo, pos, t)).max() < 1e-4
    # the file format is plane-wave and narrowband: near-field curvature and beam squint are all that is lost
    assert _rel(h, geo.channels(pos, t)).max() < 0.1
    # nearest receiver: a sample 1 cm off a receiver point gets that point's channel
    np.testing.assert_array_equal(src.channels(pos[3:4] + 0.01, t[:1]), h[3:4])


def test_dynamic_scenes_advance_with_time(tmp_path) -> None:
    geo = _geometric("o2_dynamic_like")
    start = geo.tracks(1)[0][0]
    pos = start + np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [1.0, 0.0, 0.0]])
    period = geo.scene_period_s
    t = np.array([0.0, 0.05, 1.5]) * period  # scenes 0, 0, 1
    root = export_deepmimo(geo, pos, t, tmp_path, "dyn")
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["scene_0000", "scene_0001"]
    src = _reader(geo, tmp_path, "dyn", scene_period_s=period)
    h = src.channels(pos, t)
    ref = far_field_channels(geo, pos, np.floor(t / period) * period)
    assert _rel(h, ref).max() < 1e-4
    h_later = src.channels(pos[:1], np.array([1.2 * period]))  # same place, next scene: vehicles moved
    assert _rel(h_later, h[:1]).max() > 1e-3
    with pytest.raises(DataError, match="scenes"):
        src.channels(pos[:1], np.array([5.0 * period]))


def test_grid_rows_are_tracks(tmp_path) -> None:
    geo = _geometric("o1_like")
    xs, ys = np.arange(20.0, 24.0), np.array([-5.0, 0.0, 5.0])
    gx, gy = np.meshgrid(xs, ys)  # DeepMIMO order: x fastest, one row per y
    pos = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, 1.5)], axis=1)
    export_deepmimo(geo, pos, np.zeros(len(pos)), tmp_path, "grid")
    src = _reader(geo, tmp_path, "grid", rows=[2, 0])
    tracks = src.tracks(3)
    assert [tr.shape for tr in tracks] == [(4, 3)] * 3
    np.testing.assert_allclose(tracks[0][:, 1], 5.0)
    np.testing.assert_allclose(tracks[1][:, 1], -5.0)
    np.testing.assert_allclose(tracks[0][:, 0], xs)
    np.testing.assert_array_equal(tracks[2], tracks[0])


def test_missing_scenario_is_one_line_data_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("builtins.input", lambda *a: pytest.fail("deepmimo prompted on stdin"))
    with pytest.raises(DataError, match=r"'city_x' not found in .*download it") as err:
        DeepMIMOSource(scenario="city_x", scenarios_folder=str(tmp_path))
    assert "\n" not in str(err.value)


def _as_deepmimo_lays_out_dynamic(root) -> None:
    """Move the top-level params.json into every scene folder and none at the top, as deepmimo ships them."""
    top = root / "params.json"
    for scene in sorted(p for p in root.iterdir() if p.is_dir()):
        (scene / "params.json").write_bytes(top.read_bytes())
    top.unlink()


def test_dynamic_scenario_in_deepmimos_own_layout_loads_the_same(tmp_path) -> None:
    geo = _geometric("o2_dynamic_like")
    start = geo.tracks(1)[0][0]
    pos = start + np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [1.0, 0.0, 0.0]])
    period = geo.scene_period_s
    t = np.array([0.0, 0.5, 1.5]) * period  # scenes 0, 0, 1
    export_deepmimo(geo, pos, t, tmp_path / "simnet", "dyn")
    deepmimo_layout = export_deepmimo(geo, pos, t, tmp_path / "deepmimo", "dyn")
    _as_deepmimo_lays_out_dynamic(deepmimo_layout)
    assert not (deepmimo_layout / "params.json").exists()
    assert sorted(p.relative_to(deepmimo_layout).as_posix() for p in deepmimo_layout.rglob("params.json")) == [
        "scene_0000/params.json", "scene_0001/params.json"]
    h_simnet = _reader(geo, tmp_path / "simnet", "dyn", scene_period_s=period).channels(pos, t)
    src = _reader(geo, tmp_path / "deepmimo", "dyn", scene_period_s=period)
    assert len(src.scenes) == 2
    np.testing.assert_array_equal(src.channels(pos, t), h_simnet)
    assert _rel(h_simnet[2:], h_simnet[1:2]).max() > 1e-3  # the second scene really is another snapshot


def test_a_scenario_without_any_params_json_names_both_places(tmp_path) -> None:
    geo = _geometric("o2_dynamic_like")
    start = geo.tracks(1)[0][0]
    root = export_deepmimo(geo, start[None], np.zeros(1), tmp_path, "dyn")
    (root / "params.json").unlink()
    with pytest.raises(DataError, match="no readable params.json, neither at the top nor in a scene folder"):
        _reader(geo, tmp_path, "dyn")
    (root / "params.json").write_text('{"txrx_sets": 5}')
    with pytest.raises(DataError, match="no valid txrx_sets"):
        _reader(geo, tmp_path, "dyn")
