"""The eType II comparison's bucket table: best eType II, best direction-domain and best H-domain neural row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from simnet.analysis.codebook_study import bucket_of, bucket_table, checkpoint_label, to_markdown
from simnet.codecs import CODECS, load_codec, save_codec


def _row(codec: str, bits: float, score: float) -> dict:
    return {"preset": "o1_like", "codec": codec, "family": codec.split(" ")[0], "num_reports": 10,
            "bits_per_report": bits, "bucket": bucket_of(bits), "spec_payload_bits": float("nan"), "sgcs": score,
            "sgcs_p10": score, "nmse_db": -3.0}


def test_each_bucket_sets_the_best_of_each_kind_beside_etype2():
    df = pd.DataFrame([_row("etype2 pc1", 48, 0.70), _row("etype2 pc2", 60, 0.74), _row("type1", 16, 0.80),
                       _row("eigen-sgcs lambda=0.3", 50, 0.59), _row("rd-crnet lambda=0.1", 110, 0.85),
                       _row("etype2 pc5", 116, 0.82), _row("raw", 120, 0.99),
                       _row("learned-transform lambda=1", 900, 1.0)])
    table = bucket_table(df).set_index("bucket")
    assert list(table.index) == ["small", "medium"]  # 900 bits is over every bucket
    assert table.loc["small", "etype2"] == "etype2 pc2 (60, 0.740)"  # type1 is no eType II row
    assert table.loc["small", "gain_neural"] == "-0.150" and table.loc["small", "h_domain"] == "-"
    assert table.loc["medium", "h_domain"] == "rd-crnet lambda=0.1 (110, 0.850)"  # raw is no neural codec
    assert table.loc["medium", "gain_h_domain"] == "+0.030" and table.loc["medium", "neural"] == "-"
    assert "| o1_like | medium | etype2 pc5 (116, 0.820) | - | - | rd-crnet lambda=0.1 (110, 0.850) | +0.030 |" in (
        to_markdown(df))


def test_a_bit_alloc_checkpoint_is_labelled_by_its_total_bits_and_the_others_by_lambda(tmp_path: Path):
    dims = {"num_bs_ant": 8, "num_subcarriers": 8, "bs_array": (2, 4)}
    budgets = [save_codec(CODECS.make("bit-alloc", total_bits=bits, **dims), tmp_path / f"b{bits}.pt", lmbda=1.0)
               for bits in (48, 64)]  # two rate points trained at the same lambda, as shipped
    lt = save_codec(CODECS.make("learned-transform", num_bs_ant=8, num_subcarriers=8), tmp_path / "lt.pt", lmbda=0.1)
    labels = [checkpoint_label(load_codec(path)) for path in (*budgets, lt)]
    assert labels == ["bit-alloc total_bits=48", "bit-alloc total_bits=64", "learned-transform lambda=0.1"]
