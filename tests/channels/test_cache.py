"""On-disk channel cache: hit, key sensitivity, corrupt-file regeneration."""

from __future__ import annotations

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
    return CountingSource(
        make_source("geometric", preset="o1_like", seed=1, num_subcarriers=8, bs_array=(2, 2))
    )


def test_hit_miss_and_key(tmp_path, source) -> None:
    pos = np.array([[20.0, 0.0, 1.5], [21.0, 0.0, 1.5]])
    t = np.zeros(2)
    h1 = cached_channels(source, pos, t, tmp_path)
    h2 = cached_channels(source, pos, t, tmp_path)
    assert source.calls == 1
    np.testing.assert_array_equal(h1, h2)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    cached_channels(source, pos + 0.5, t, tmp_path)
    assert source.calls == 2
    other = make_source("geometric", preset="o1_like", seed=2, num_subcarriers=8, bs_array=(2, 2))
    assert channel_cache_key(other, pos, t) != channel_cache_key(source, pos, t)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_file_is_regenerated_with_warning(tmp_path, source, damage: str) -> None:
    pos = np.array([[30.0, 5.0, 1.5]])
    t = np.zeros(1)
    h = cached_channels(source, pos, t, tmp_path)
    (path,) = tmp_path.glob("*.npz")
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    else:  # flip bits inside the stored array: the zip is still readable, the checksum catches it
        with np.load(path) as f:
            data = f["h"].tobytes()
        start = bytes(raw).index(data[:32])
        raw[start + 40] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.warns(RuntimeWarning, match="corrupt"):
        again = cached_channels(source, pos, t, tmp_path)
    assert source.calls == 2
    np.testing.assert_array_equal(again, h)
    assert cached_channels(source, pos, t, tmp_path) is not None and source.calls == 2
