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


@pytest.mark.parametrize("sidecar_json", ['[1, 2, 3]', '"a string"', "17", "null",
                                          '{"format": 2, "key": "KEY", "shape": "abc", "dtype": "<c8", "crc32": 1}',
                                          '{"format": 2, "key": "KEY", "shape": [1, 2, 2, 8], "dtype": 5, "crc32": 1}',
                                          '{"format": 2, "key": "KEY", "shape": [1, 4, 8], "dtype": "<c8"}'])
def test_a_sidecar_of_the_wrong_shape_is_a_miss_and_is_regenerated(tmp_path, source, sidecar_json: str) -> None:
    pos, t = np.array([[30.0, 5.0, 1.5]]), np.zeros(1)
    h = cached_channels(source, pos, t, tmp_path)
    (sidecar,) = tmp_path.glob("*.json")
    sidecar.write_text(sidecar_json.replace("KEY", sidecar.stem))
    with pytest.warns(RuntimeWarning, match="corrupt"):
        again = cached_channels(source, pos, t, tmp_path)
    assert source.calls == 2
    np.testing.assert_array_equal(again, h)
    assert json.loads(sidecar.read_text())["key"] == sidecar.stem  # rewritten in our own shape


@pytest.mark.parametrize("entry", ["npy", "json"])
def test_a_cache_entry_that_is_a_directory_is_computed_and_not_stored(tmp_path, source, entry: str) -> None:
    pos, t = np.array([[30.0, 5.0, 1.5]]), np.zeros(1)
    key = channel_cache_key(source, pos, t)
    (tmp_path / f"{key}.{entry}").mkdir()
    with pytest.warns(RuntimeWarning, match="is a directory"):
        h = cached_channels(source, pos, t, tmp_path)
    np.testing.assert_array_equal(h, source.inner.channels(pos, t))
    assert (tmp_path / f"{key}.{entry}").is_dir() and source.calls == 1


def test_a_cache_folder_that_is_a_file_falls_back_to_no_cache(tmp_path, source) -> None:
    pos, t = np.array([[30.0, 5.0, 1.5]]), np.zeros(1)
    blocker = tmp_path / "cache"
    blocker.write_text("I am a file")
    for folder, reason in ((blocker, "it is a file"), (blocker / "below", "Not a directory")):
        with pytest.warns(RuntimeWarning, match=f"cache folder .* cannot be used \\({reason}\\); running without"):
            h = cached_channels(source, pos, t, folder)
        np.testing.assert_array_equal(h, source.inner.channels(pos, t))
    assert blocker.read_text() == "I am a file"


def test_a_cache_folder_that_cannot_be_written_falls_back_to_no_cache(tmp_path, source, monkeypatch) -> None:
    import errno
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    pos, t = np.array([[30.0, 5.0, 1.5]]), np.zeros(1)
    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # root ignores chmod 555, so fail the write itself
    with pytest.warns(RuntimeWarning, match="cannot be written \\(Read-only file system\\); running without"):
        h = cached_channels(source, pos, t, tmp_path)
    np.testing.assert_array_equal(h, source.inner.channels(pos, t))
    assert list(tmp_path.iterdir()) == []


def test_cache_files_follow_the_umask(tmp_path, source) -> None:
    import os
    import stat

    pos, t = np.array([[30.0, 5.0, 1.5]]), np.zeros(1)
    for umask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        old = os.umask(umask)
        try:
            folder = tmp_path / f"u{umask:o}"
            cached_channels(source, pos, t, folder)
        finally:
            os.umask(old)
        modes = {p.suffix: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
        assert modes == {".npy": mode, ".json": mode}
