"""Fine-tunes of several UEs computed as one batch give the run the one-by-one fine-tunes give."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest

from simnet.config import load_scenario
from simnet.learning import batched
from simnet.sim.engine import run_variant
from simnet.sim.world import World, build_world
from tests.paths import TINY_CELL

POLICIES = [{"type": "periodic", "interval_m": 1.0, "steps": 3, "batch_size": 4},
            {"type": "genie", "interval_m": 1.0, "steps": 3, "batch_size": 4}]


@pytest.fixture(scope="module")
def world() -> World:
    # four pedestrians, staggered: each crosses 1 m within 200 ms of the others, inside the 300 ms of compute
    sc = load_scenario(TINY_CELL, overrides={
        "ues": {"count": 4, "speeds_mps": [1.4], "window_max": 8, "seconds_per_step": 0.1},
        "codec": {"type": "learned-transform", "bs_array": [2, 2]}, "policies": POLICIES})
    return build_world(sc)


def _run(world: World, index: int, batch: bool) -> dict[str, Any]:
    sc = world.scenario
    sc = dataclasses.replace(sc, ues=dataclasses.replace(sc.ues, batch_finetunes=batch))
    return run_variant(dataclasses.replace(world, scenario=sc), sc.policies[index])


@pytest.mark.parametrize("index", [0, 1], ids=["periodic", "genie"])
def test_batched_fine_tunes_give_the_run_of_one_by_one_fine_tunes(world: World, index: int,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real = batched.batched_finetune

    def spy(codecs: Any, *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(codecs))
        return real(codecs, *args, **kwargs)

    monkeypatch.setattr(batched, "batched_finetune", spy)
    alone = _run(world, index, batch=False)
    assert not sizes  # off by default: one by one
    together = _run(world, index, batch=True)
    assert sizes and max(sizes) >= 2 and sum(sizes) == len(alone["finetunes"])  # batches of several UEs ran
    ft_a, ft_b = pd.DataFrame(alone["finetunes"]), pd.DataFrame(together["finetunes"])
    exact = ["ue", "t_start_s", "t_done_s", "num_window", "num_steps", "update_bits", "info_num_nonzero"]
    pd.testing.assert_frame_equal(ft_a[exact], ft_b[exact])
    floats = [c for c in ft_a.columns if c.startswith("info_") and c not in exact]
    np.testing.assert_allclose(ft_b[floats].to_numpy(float), ft_a[floats].to_numpy(float), rtol=1e-4, atol=1e-6)
    assert len(ft_a) >= 4 and ft_a["info_loss_last"].ne(ft_a["info_loss_first"]).all()  # they did train
    for table in ("packets", "reports"):
        a, b = pd.DataFrame(alone[table]), pd.DataFrame(together[table])
        ints = [c for c in a.columns if a[c].dtype.kind in "iub"]
        pd.testing.assert_frame_equal(a[ints], b[ints])
        fl = [c for c in a.columns if a[c].dtype.kind == "f"]
        np.testing.assert_allclose(b[fl].to_numpy(), a[fl].to_numpy(), rtol=1e-4, atol=1e-6)


def test_a_policy_that_learns_from_results_or_a_codec_vmap_cannot_run_stays_one_by_one(world: World) -> None:
    from policies import POLICIES as REGISTRY

    periodic = REGISTRY.get("periodic")(interval_m=1.0)
    assert periodic.batched_procedure(world.codec) == "full-model"
    from simnet.codecs.raw import RawCodec

    assert periodic.batched_procedure(RawCodec(4, 8)) is None
    drift = REGISTRY.get("drift")()
    assert drift.batched_procedure(world.codec) is None
