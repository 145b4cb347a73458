"""On-disk channel cache: hit, key sensitivity, corrupt-file regeneration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simnet.channels import cached_channels, channel_cache_key, make_source


class CountingSource:
    def __init__(self, inner) -> None:
        self.inner, self.meta, self.calls = inner, inner.meta, 0

    def params(self) -> dict:
        return self.inner.params()

    def channels(self, pos_m: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        self.calls += 1
        return self.inner.channels(pos_m, t_s)


@pytest.fixture()
def source() -> CountingSource:
    return CountingSource(make_source("geometric", preset="o1_like", seed=1, num_subcarriers=8, bs_array=(2, 2)))


def test_hit_miss_and_key(tmp_path, source) -> None:
    pos = np.array([[20.0, 0.0, 1.5], [21.0, 0.0, 1.5]])
    t = np.zeros(2)
    h1 = cached_channels(source, pos, t, tmp_path)
    h2 = cached_channels(source, pos, t, tmp_path)
    assert source.calls == 1
    np.testing.assert_array_equal(h1, h2)
    assert h2.dtype == np.complex64 and h2.flags.writeable and h2.flags.c_contiguous
    assert len(list(tmp_path.glob("*.npy"))) == 1 and len(list(tmp_path.glob("*.json"))) == 1
    cached_channels(source, pos + 0.5, t, tmp_path)
    assert source.calls == 2
    other = make_source("geometric", preset="o1_like", seed=2, num_subcarriers=8, bs_array=(2, 2))
    assert channel_cache_key(other, pos, t) != channel_cache_key(source, pos, t)


@pytest.mark.parametrize("damage", ["truncate", "flip", "append", "sidecar_key", "sidecar_missing", "npy_missing"])
def test_corrupt_file_is_regenerated_with_warning(tmp_path, source, damage: str) -> None:
    pos = np.array([[30.0, 5.0, 1.5]])
    t = np.zeros(1)
    h = cached_channels(source, pos, t, tmp_path)
    (path,) = tmp_path.glob("*.npy")
    sidecar = path.with_suffix(".json")
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(bytes(raw[: len(raw) // 2]))
    elif damage == "flip":  # flip bits inside the stored array: the header still parses, the CRC catches it
        start = bytes(raw).index(h.tobytes()[:32])
        raw[start + 40] ^= 0xFF
        path.write_bytes(bytes(raw))
    elif damage == "append":
        path.write_bytes(bytes(raw) + b"\0" * 8)
    elif damage == "sidecar_key":
        meta = json.loads(sidecar.read_text())
        sidecar.write_text(json.dumps({**meta, "key": "0" * 64}))
    elif damage == "sidecar_missing":
        sidecar.unlink()
    else:
        path.unlink()
    with pytest.warns(RuntimeWarning, match="corrupt"):
        again = cached_channels(source, pos, t, tmp_path)
    assert source.calls == 2
    np.testing.assert_array_equal(again, h)
    assert cached_channels(source, pos, t, tmp_path) is not None and source.calls == 2
