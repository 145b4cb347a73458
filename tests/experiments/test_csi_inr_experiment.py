"""The paper 002 experiment (csi_inr_rd) on a tiny run: real streams, one model at many bit depths, paper tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.paths import ROOT


def test_csi_inr_quick_run_writes_the_rd_table_beside_the_paper(tmp_path: Path) -> None:
    from simnet.cli import run_sim_main
    from simnet.codecs import CODECS, save_codec

    codec = CODECS.make("csi-inr", seed=1, num_latent=8, hidden=16, num_layers=2).eval()
    ckpt = save_codec(codec, tmp_path / "inr.pt", lmbda=1.0)  # untrained: the runner, not the model, is tested
    path = ROOT / "scenarios" / "paper" / "002_csi_inr.yaml"
    sets = [f"experiment.checkpoint={ckpt}", "experiment.num_test=4"]
    out = tmp_path / "a"
    args = [str(path), "--out", str(out), "--quiet", "--quick", "--no-plots", "--cache-dir", str(tmp_path / "c")]
    assert run_sim_main(args + [a for s in sets for a in ("--set", s)]) == 0
    table = pd.read_csv(out / "table.csv")
    depth = table[table.curve.str.startswith("csi-inr bit depth")]
    assert list(depth.bit_depth) == [3, 8]
    bits = table.bits_per_dim * 2 * 64 * 64 * 4
    assert np.allclose(bits, np.round(bits / 32) * 32)  # whole 32-bit words of real streams, 4 reports
    assert depth.bits_per_dim.iloc[0] < depth.bits_per_dim.iloc[1]
    assert list(depth.paper_coding_gain) == [0.2459, 0.0773]  # paper 002 Table III (n = 32) beside ours
    steps = table[table.curve.str.startswith("csi-inr inner steps")]
    assert list(steps.inner_steps) == [1, 3] and steps.encode_ms_per_report.iloc[1] > 0
    assert set(table.codec) == {"csi-inr", "learned-transform"}
    text = (out / "table.md").read_text()
    assert "Verdict, quantization" in text and "Verdict, flexibility" in text
