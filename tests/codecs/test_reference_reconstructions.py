"""Reconstructions pinned to the reference coder: the fast coder changed the bitstream, never h_hat.

``data/reconstruct_reference.npz`` was written by :func:`write_reference` with the per-report coder of
commit 84dafdf (before the vectorised coder). It holds, per case, the norm codes, the latent symbols and
a SHA-256 digest of every report's ``h_hat`` bytes (complex64). Regenerate only on purpose:

    python -m tests.codecs.test_reference_reconstructions

The digests are of float outputs of the (unchanged) networks on this project's CPU/MKL build: a machine
whose BLAS rounds differently could differ in the last bit there while codes and symbols still match.
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
CASES = ["rd-cnn-default", "rd-cnn-lambda64", "rd-cnn-8x8", "rd-cnn-paper-16x16"]


def _codec(case: str) -> RDCodec:
    if case == "rd-cnn-default":
        return load_codec(default_checkpoint())
    if case == "rd-cnn-lambda64":
        return load_codec(next(p for p in shipped_checkpoints() if "lambda64" in p.name))
    if case == "rd-cnn-8x8":
        return CODECS.make("rd-cnn", num_bs_ant=8, num_subcarriers=8, seed=2).eval()
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


def _digests(h_hat: np.ndarray) -> np.ndarray:
    return np.array([hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest() for x in h_hat])


def write_reference(path: Path = REFERENCE) -> None:
    """Record codes, symbols and h_hat digests of every case with the current coder."""
    torch.set_num_threads(2)
    arrays = {}
    for case in CASES:
        codec = _codec(case)
        h = reference_inputs(codec.num_bs_ant, codec.num_subcarriers)
        codes, q = codec.quantize(h)
        h_hat, _ = codec.reconstruct(h)
        np.testing.assert_array_equal(codec.decompress(codec.compress(h)), h_hat)
        arrays[f"{case}/codes"] = codes
        arrays[f"{case}/q"] = q.astype(np.int32)
        arrays[f"{case}/h_hat_sha256"] = _digests(h_hat)
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
    h_dec = codec.decompress(streams)
    h_rec, bits = codec.reconstruct(h)
    np.testing.assert_array_equal(h_dec, h_rec)
    np.testing.assert_array_equal(bits, [8 * len(s) for s in streams])
    np.testing.assert_array_equal(_digests(h_dec), ref[f"{case}/h_hat_sha256"])
    np.testing.assert_array_equal(codec.decompress_packed(codec.compress_packed(h)), h_rec)


def test_reference_inputs_exercise_escapes() -> None:
    ref = np.load(REFERENCE)
    codec = _codec("rd-cnn-default")
    tables = codec.prior.tables()
    idx = ref["rd-cnn-default/q"] - tables.qmin[codec._channel_index]
    assert ((idx < 0) | (idx >= tables.num_symbols[codec._channel_index])).any()


if __name__ == "__main__":
    write_reference()
    print(f"wrote {REFERENCE}")
