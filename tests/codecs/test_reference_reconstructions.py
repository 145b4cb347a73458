"""Reconstructions pinned to a reference: what must be exact on every CPU is compared exactly, floats not.

``data/reconstruct_reference.npz`` was written by :func:`write_reference`. It holds, per case, the norm
codes, the latent symbols and a SHA-256 digest of every report's bitstream (integers and bytes: identical on
every CPU and float path, so compared exactly), and every report's ``h_hat`` (complex64), compared with a
tolerance: the decoder's float output depends on the CPU's float kernels (AVX512, AVX2 and the plain
``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41`` path differ in the last bits of the conv decoder,
measured up to 9e-7 relative). The codes and symbols are those of the per-report coder of commit 84dafdf
(before the vectorised coder); the streams and ``h_hat`` were re-recorded when the float digests were
replaced by tolerances. Regenerate only on purpose:

    python -m tests.codecs.test_reference_reconstructions
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from simnet.codecs import CODECS, default_checkpoint, load_codec, shipped_checkpoints
from simnet.codecs.common import RDCodec
from tests.codecs.conftest import few_path_channels

REFERENCE = Path(__file__).parent / "data" / "reconstruct_reference.npz"
CASES = ["learned-transform-default", "learned-transform-lambda64", "learned-transform-8x8", "rd-cnn-paper-16x16"]


def _codec(case: str) -> RDCodec:
    if case == "learned-transform-default":
        return load_codec(default_checkpoint())
    if case == "learned-transform-lambda64":
        return load_codec(next(p for p in shipped_checkpoints() if "lambda64" in p.name))
    if case == "learned-transform-8x8":
        return CODECS.make("learned-transform", num_bs_ant=8, num_subcarriers=8, seed=2).eval()
    return CODECS.make("rd-cnn-paper", num_bs_ant=16, num_subcarriers=16, seed=1).eval()


def reference_inputs(num_bs_ant: int, num_subcarriers: int) -> np.ndarray:
    """[7, A, S] complex64: sparse few-path channels, white noise, an all-zero report, and one-bin channels.

    A one-bin channel (a single DFT beam at delay 0) puts all its energy into one angular-delay bin,
    whose latent then lies far outside its table: it exercises the escape code.
    """
    rng = np.random.default_rng(11)
    shape = (num_bs_ant, num_subcarriers)
    white = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * 1e-4
    one_bin = np.ones(shape) * 3e-5
    beam = np.outer(np.exp(2j * np.pi * np.arange(num_bs_ant) / num_bs_ant), np.ones(num_subcarriers)) * 1e-2
    h = np.concatenate(
        [few_path_channels(3, *shape, seed=7), white[None], np.zeros((1, *shape)), one_bin[None], beam[None]]
    )
    return h.astype(np.complex64)


RTOL = 1e-5
"""Largest relative error ||h_hat - h_ref|| / ||h_ref|| per report allowed across float paths (9e-7 seen)."""


def _stream_digests(streams: list[bytes]) -> np.ndarray:
    return np.array([hashlib.sha256(s).hexdigest() for s in streams])


def assert_close_per_report(h_hat: np.ndarray, h_ref: np.ndarray, rtol: float = RTOL) -> None:
    """Each report's reconstruction within ``rtol`` of the reference, relative to the reference's norm."""
    assert h_hat.shape == h_ref.shape and h_hat.dtype == h_ref.dtype
    err = np.linalg.norm((h_hat - h_ref).reshape(len(h_ref), -1), axis=1)
    scale = np.linalg.norm(h_ref.reshape(len(h_ref), -1), axis=1)
    bad = err > rtol * scale + 1e-12
    assert not bad.any(), f"reports {np.flatnonzero(bad).tolist()} differ by {(err / np.maximum(scale, 1e-30))[bad]}"


def write_reference(path: Path = REFERENCE) -> None:
    """Record codes, symbols, stream digests and reconstructions of every case with the current coder."""
    torch.set_num_threads(2)
    arrays = {}
    for case in CASES:
        codec = _codec(case)
        h = reference_inputs(codec.num_bs_ant, codec.num_subcarriers)
        codes, q = codec.quantize(h)
        streams = codec.compress(h)
        h_hat = codec.decompress(streams)
        arrays[f"{case}/codes"] = codes
        arrays[f"{case}/q"] = q.astype(np.int32)
        arrays[f"{case}/stream_sha256"] = _stream_digests(streams)
        arrays[f"{case}/h_hat"] = h_hat
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)


@pytest.mark.parametrize("case", CASES)
def test_reconstructions_match_the_reference_coder(case: str) -> None:
    ref = np.load(REFERENCE)
    codec = _codec(case)
    h = reference_inputs(codec.num_bs_ant, codec.num_subcarriers)
    codes, q = codec.quantize(h)
    np.testing.assert_array_equal(codes, ref[f"{case}/codes"])
    np.testing.assert_array_equal(q, ref[f"{case}/q"])
    streams = codec.compress(h)
    np.testing.assert_array_equal(_stream_digests(streams), ref[f"{case}/stream_sha256"])
    h_dec = codec.decompress(streams)
    h_rec, bits = codec.reconstruct(h)
    np.testing.assert_array_equal(h_dec, h_rec)  # one machine, one float path: exact
    np.testing.assert_array_equal(bits, [8 * len(s) for s in streams])
    assert_close_per_report(h_dec, ref[f"{case}/h_hat"])
    np.testing.assert_array_equal(codec.decompress_packed(codec.compress_packed(h)), h_rec)


def test_the_tolerance_catches_a_changed_decoder() -> None:
    """Scaling the last synthesis layer by 1e-4 (symbols and streams unchanged) fails the float check."""
    ref = np.load(REFERENCE)
    codec = _codec("rd-cnn-paper-16x16")
    h = reference_inputs(codec.num_bs_ant, codec.num_subcarriers)
    with torch.no_grad():
        codec.synthesis_net[6].weight.mul_(1 + 1e-4)
    with pytest.raises(AssertionError):
        assert_close_per_report(codec.decompress(codec.compress(h)), ref["rd-cnn-paper-16x16/h_hat"])


def test_reference_inputs_exercise_escapes() -> None:
    ref = np.load(REFERENCE)
    codec = _codec("learned-transform-default")
    tables = codec.prior.tables()
    idx = ref["learned-transform-default/q"] - tables.qmin[codec._channel_index]
    assert ((idx < 0) | (idx >= tables.num_symbols[codec._channel_index])).any()


if __name__ == "__main__":
    write_reference()
    print(f"wrote {REFERENCE}")
