"""bit-alloc (paper 003): the greedy allocation, the codebooks, the fixed-length payload and its model updates."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from simnet.codecs import CODECS, load_codec
from simnet.codecs.bit_alloc import BitAllocCodec
from simnet.coding.bit_allocation import allocate_bits, kmeans_1d, kmeans_table, uniform_bits
from simnet.coding.updates import apply_update, decoder_state
from simnet.errors import ConfigError, DataError
from simnet.learning.finetune import FinetuneConfig
from simnet.learning.procedures import full_model
from tests.codecs.conftest import few_path_channels

HAND_TABLE = np.array([[10.0, 4.0, 1.0, 0.5],
                       [6.0, 2.0, 1.5, 1.2],
                       [3.0, 2.4, 2.2, 2.0]])
"""Quantization loss of 3 outputs at 0..3 bits (decreasing, convex in the bits)."""


def tiny(total_bits: int = 64, **kwargs: object) -> BitAllocCodec:
    """A bit-alloc codec for 8 antennas (2 x 4) and 8 subcarriers, in eval mode."""
    codec = CODECS.make("bit-alloc", num_bs_ant=8, num_subcarriers=8, bs_array=(2, 4), total_bits=total_bits,
                        **kwargs)
    return codec.eval()


def brute_force_loss(table: np.ndarray, budget: int) -> float:
    """The least total loss over every allocation of ``budget`` bits (exhaustive)."""
    levels = range(table.shape[1])
    best = np.inf
    for bits in itertools.product(levels, repeat=table.shape[0]):
        if sum(bits) == budget:
            best = min(best, float(table[np.arange(len(bits)), bits].sum()))
    return best


def test_greedy_allocation_on_the_hand_case() -> None:
    # from [0, 1, 3]: output 2 gives up a bit (costs 0.2), output 0 takes it (gains 6) -> [1, 1, 2];
    # again 0.2 for 3 -> [2, 1, 1]; then the cheapest loss (0.6, output 2) exceeds the best gain (0.5): stop
    bits = allocate_bits(HAND_TABLE, np.array([0, 1, 3]))
    assert bits.tolist() == [2, 1, 1]
    assert HAND_TABLE[np.arange(3), bits].sum() == pytest.approx(5.4) == brute_force_loss(HAND_TABLE, 4)
    assert allocate_bits(HAND_TABLE, np.array([2, 1, 1])).tolist() == [2, 1, 1]  # a fixed point stays


def test_greedy_allocation_keeps_the_budget_and_is_optimal_on_convex_tables() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        first = rng.uniform(1, 10, (4, 1))
        drops = np.sort(rng.uniform(0.1, 3.0, (4, 4)), axis=1)[:, ::-1]  # decreasing gains: convex
        table = np.concatenate([first, first - np.cumsum(drops, axis=1)], axis=1)
        budget = int(rng.integers(1, 16))
        bits = allocate_bits(table, uniform_bits(4, budget, 4))
        assert bits.sum() == budget and bits.min() >= 0 and bits.max() <= 4
        assert table[np.arange(4), bits].sum() == pytest.approx(brute_force_loss(table, budget))


def test_uniform_bits_and_bad_budgets() -> None:
    assert uniform_bits(4, 10, 8).tolist() == [3, 3, 2, 2]
    with pytest.raises(ConfigError):
        uniform_bits(4, 33, 8)


def test_kmeans_is_lloyd_on_an_exact_case() -> None:
    z = torch.tensor([[-2.0, 0.0], [-1.8, 0.0], [1.0, 5.0], [1.2, 5.0]])
    words, err = kmeans_1d(z, 2)
    torch.testing.assert_close(words, torch.tensor([[-1.9, 1.1], [0.0, 5.0]]))
    torch.testing.assert_close(err, torch.tensor([0.01, 0.0], dtype=torch.float64))
    table = kmeans_table(z, 2)
    assert table.shape == (2, 3) and bool((table[:, 1:] <= table[:, :-1] + 1e-12).all())


def test_adaptive_weights_follow_the_codeword_spacing() -> None:
    codec = tiny(total_bits=16 + 2 * 60, num_outputs=60)  # 2 bits each
    with torch.no_grad():
        codec.codebook[:, :4] = torch.tensor([5.0, -1.0, 2.0, 0.0])  # any order: reports index the sorted words
    z = torch.zeros(3, codec.num_outputs)
    z[:, 0] = torch.tensor([0.2, -3.0, 4.0])
    quant = codec.quantize_outputs(z)
    assert quant["index"][:, 0].tolist() == [1, 0, 3]
    torch.testing.assert_close(quant["z_q"][:, 0], torch.tensor([0.0, -1.0, 5.0]))
    # eq. 7: w^L - w^R inside, twice the one-sided gap at the ends
    torch.testing.assert_close(quant["spacing"][:, 0], torch.tensor([3.0, 2.0, 6.0]))


@pytest.mark.parametrize("total_bits", [16, 24, 64, 101])
def test_payload_is_the_allocation_rounded_up_to_bytes(total_bits: int) -> None:
    codec = tiny(total_bits=total_bits, num_outputs=12)
    h = few_path_channels(5, 8, 8, seed=1)
    streams = codec.compress(h)
    assert [8 * len(s) for s in streams] == [8 * -(-total_bits // 8)] * 5
    assert int(codec.bits.sum()) + 16 == total_bits
    np.testing.assert_array_equal(codec.reconstruct(h)[1], 8 * -(-total_bits // 8))


def test_indices_round_trip_exactly_under_an_uneven_allocation() -> None:
    codec = tiny(total_bits=16 + 30, num_outputs=10)
    codec.bits.copy_(torch.tensor([0, 8, 1, 7, 2, 0, 5, 3, 4, 0]))
    rng = np.random.default_rng(0)
    index = rng.integers(0, 1 << codec.bits.numpy(), (7, 10))
    codes = rng.integers(-32768, 32768, 7)
    streams = codec.pack(codes, index)
    assert all(len(s) == 6 for s in streams)
    got_codes, got_index = codec.unpack(streams)
    np.testing.assert_array_equal(got_codes, codes)
    np.testing.assert_array_equal(got_index, index)


def test_bad_streams_are_one_line_errors() -> None:
    codec = tiny(total_bits=16 + 30, num_outputs=10)  # 46 bits: 2 padding bits
    stream = codec.compress(few_path_channels(1, 8, 8, seed=2))[0]
    for bad in (stream[:-1], stream + b"\0", b""):
        with pytest.raises(DataError, match="has .* bytes") as info:
            codec.decompress([bad])
        assert "\n" not in str(info.value)
    padded = stream[:-1] + bytes([stream[-1] | 1])
    with pytest.raises(DataError, match="padding bit"):
        codec.decompress([padded])


def test_allocation_gives_wider_outputs_more_bits_and_fresh_codebooks() -> None:
    codec = tiny(total_bits=16 + 4 * 8, num_outputs=8)
    z = torch.randn(2000, 8, generator=torch.Generator().manual_seed(0)) * torch.logspace(-1, 1, 8)
    codec.set_codebooks(z)
    learnt = codec.codebook.detach().clone()
    moved = codec.allocate(z)
    bits = codec.bits.numpy()
    assert bits.sum() == 32 and moved > 0
    assert bits[0] < 4 < bits[-1] and (np.diff(bits) >= 0).all()
    changed = bits != 4
    for m in range(8):  # changed outputs: K-means words at their new size; the others keep theirs
        if changed[m]:
            words, _ = kmeans_1d(z[:, m : m + 1], 2 ** int(bits[m]))
            torch.testing.assert_close(codec.codebook[m, : 2 ** int(bits[m])], words[0])
        else:
            assert torch.equal(codec.codebook[m], learnt[m])
    assert tiny(total_bits=48, num_outputs=8, allocation="uniform").allocate(z) == 0


def test_a_full_model_update_carries_the_codebook_and_rebuilds_the_bs_decoder() -> None:
    codec = tiny(total_bits=16 + 4 * 60, num_outputs=60)
    assert "codebook" in codec.decoder_parameter_names() and "bits" not in codec.decoder_parameter_names()
    window = few_path_channels(16, 8, 8, seed=4)
    codec.begin_training(window)  # K-means codebooks of this encoder: what the update then moves
    cfg = FinetuneConfig(steps=4, batch_size=8, lr=3e-2, regularize=False)
    result = full_model(codec, window, np.random.default_rng(0), cfg)
    ue = result.codec.eval()
    assert not torch.equal(ue.codebook, codec.codebook), "the fine-tune did not move a codeword"
    bs = apply_update(copy.deepcopy(codec), result.payload)
    bs_state = decoder_state(bs)
    for name, value in decoder_state(ue).items():
        assert torch.equal(value, bs_state[name]), name
    assert torch.equal(bs.bits, ue.bits)
    h = few_path_channels(6, 8, 8, seed=5)
    streams, h_hat = ue.compress_with_reconstruction(h)
    np.testing.assert_array_equal(bs.eval().decompress(streams), h_hat)


def test_bad_settings_are_one_line_config_errors() -> None:
    for kwargs in ({"allocation": "even"}, {"loss": "l1"}, {"total_bits": 8}, {"num_outputs": 2, "max_bits": 2},
                   {"num_bs_ant": 12}, {"beta": -1.0}):
        with pytest.raises(ConfigError) as info:
            CODECS.make("bit-alloc", **{"num_bs_ant": 8, "num_subcarriers": 8, "bs_array": (2, 4), **kwargs})
        assert "\n" not in str(info.value) and "bit-alloc" in str(info.value)


def test_pretrain_names_checkpoints_by_total_bits(tmp_path: Path) -> None:
    from simnet.learning.pretrain import checkpoint_name, pretrain

    assert checkpoint_name("bit-alloc", 1.0, 256.0) == "bit-alloc_total_bits256.pt"
    with pytest.raises(ConfigError, match="one --lambdas"):
        pretrain(codec_type="bit-alloc", lambdas=[1.0, 4.0], rates=[64], out_dir=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="no rate option"):
        pretrain(codec_type="rd-crnet", lambdas=[1.0], rates=[64], out_dir=tmp_path, progress=False)
    paths = [pretrain(codec_type="bit-alloc", lambdas=[1.0], rates=[64], num_train=24, num_val=8,
                      out_dir=tmp_path / run, progress=False, max_epochs=2, batch_size=12)[0] for run in "ab"]
    assert paths[0].name == "bit-alloc_total_bits64.pt"
    first, second = (load_codec(p) for p in paths)
    assert first.checkpoint_meta["rate"] == {"total_bits": 64} and first.total_bits == 64
    assert int(first.bits.sum()) == 48
    for key, value in first.state_dict().items():  # same seed, same checkpoint (the shipped ones are reproduced)
        assert torch.equal(value, second.state_dict()[key]), key


def test_packed_streams_put_reports_back_to_back() -> None:
    codec = tiny(total_bits=16 + 30, num_outputs=10)  # 46 bits per report
    h = few_path_channels(5, 8, 8, seed=6)
    packed = codec.compress_packed(h)
    assert len(packed) == -(-5 * 46 // 8) == 29
    np.testing.assert_array_equal(codec.decompress_packed(packed), codec.decompress(codec.compress(h)))
    for bad in (packed[:-1], packed + b"\0", b""):
        with pytest.raises(DataError, match="packed stream"):
            codec.decompress_packed(bad)
