"""Gradient-conflict diagnostics on compiled trees and CoNAL supernets."""

from __future__ import annotations

import pytest
import torch

from mtlspec.compile import compile
from mtlspec.errors import MtlspecError
from mtlspec.search.conal.conflicts import dataset_batches, gradient_conflicts, shared_modules
from mtlspec.search.conal.spec import layout_from_branch_points, tree_spec
from mtlspec.search.conal.supernet import build_supernet
from mtlspec.spec import load, validate
from mtlspec.train.data import load_data
from mtlspec.train.losses import loss_for

TASKS = ["left", "right", "parity"]


@pytest.fixture(scope="module")
def base():
    return validate(load("specs/conal_multidigits.mtl"))


@pytest.fixture(scope="module")
def data():
    return load_data("multidigits", train_size=32, val_size=64, test_size=8)


def _tree(base, points):
    torch.manual_seed(0)
    return compile(tree_spec(base, layout_from_branch_points(TASKS, points, 5)))


def test_shared_modules_of_trees_and_supernets(base):
    all_shared = _tree(base, dict.fromkeys(TASKS, 5))
    assert [tasks for _, _, tasks in shared_modules(all_shared)] == [tuple(TASKS)] * 5
    searched = _tree(base, {"left": 3, "right": 3, "parity": 1})
    names = [name for name, _, _ in shared_modules(searched)]
    assert names == ["block 1 {left, right, parity}", "block 2 {left, right}",
                     "block 3 {left, right}"]
    assert shared_modules(_tree(base, dict.fromkeys(TASKS, 0))) == []
    assert len(shared_modules(build_supernet(base))) == 5
    with pytest.raises(MtlspecError, match="shared modules"):
        shared_modules(torch.nn.Linear(2, 2))


def test_ratios_count_pairs_and_leave_the_model_untouched(base, data):
    model = _tree(base, {"left": 3, "right": 3, "parity": 1}).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = {t: loss_for(data.tasks[t]) for t in TASKS}
    rows = gradient_conflicts(model, dataset_batches(data.val, batches=2, batch_size=16),
                              losses)
    assert [r.pairs for r in rows] == [3 * 2, 1 * 2, 1 * 2]  # pairs per batch × batches
    assert all(0.0 <= r.ratio <= 1.0 for r in rows)
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_opposite_losses_always_conflict_and_equal_losses_never(base, data):
    model = _tree(base, dict.fromkeys(TASKS, 5))
    model.heads["right"].load_state_dict(model.heads["left"].state_dict())  # same predictions
    ce = loss_for(data.tasks["left"])

    def run(sign: float) -> list:
        losses = {"left": ce, "right": lambda p, y: sign * ce(p, y),
                  "parity": lambda p, y: 0.0 * ce(p, y)}  # zero gradient: never a conflict
        # right scored against left's targets: its gradient is exactly ±left's
        batches = [(x, {**y, "right": y["left"]})
                   for x, y in dataset_batches(data.val, batches=1, batch_size=32)]
        return gradient_conflicts(model, batches, losses)

    assert [r.negative for r in run(-1.0)] == [1] * 5
    assert [r.negative for r in run(1.0)] == [0] * 5
