"""The factorized prior's coding tables: built once per parameter set, shared by every copy of a codec."""

from __future__ import annotations

import copy

import numpy as np
import torch

from simnet.coding.prior import FactorizedPrior


def test_coding_tables_are_shared_by_copies_and_rebuilt_when_the_parameters_change(monkeypatch):
    prior = FactorizedPrior(6, seed=3)
    built = []
    original = FactorizedPrior.update_tables
    monkeypatch.setattr(FactorizedPrior, "update_tables", lambda self: built.append(1) or original(self))
    first = prior.tables()
    copies = [copy.deepcopy(FactorizedPrior(6, seed=3)) for _ in range(3)]  # same parameters, no tables yet
    assert all(c.tables() is first for c in copies) and len(built) == 1
    assert not first.pmf.flags.writeable  # shared: nobody may change them in place
    with torch.no_grad():
        copies[0].biases[0].add_(0.25)
    changed = copies[0].tables()
    assert len(built) == 2 and changed is not first and not np.array_equal(changed.medians, first.medians)
    assert copies[1].tables() is first
