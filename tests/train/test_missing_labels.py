"""Items without some tasks' labels: masked out of the loss and the metrics; a batch with no
label of a task gives it zero loss and no gradient, under every kind of weighting."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import Dataset

from mtlspec.data.protocol import DataSplits
from mtlspec.train.epochs import data_order
from mtlspec.train.evaluate import evaluate_all
from mtlspec.train.loop import train
from mtlspec.train.weighting import make_weighting
from tests.train.tiny import one_thread, tiny_data, tiny_model

BATCH = 16


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    yield from one_thread()


class Missing(Dataset):
    """A data set whose items in `missing` lack the labels of `tasks` (protocol 3-tuples)."""

    def __init__(self, base: Dataset, missing: set[int], tasks: tuple[str, ...]) -> None:
        self.base, self.missing, self.tasks = base, missing, tasks

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        x, y = self.base[i][:2]
        gone = {t: i in self.missing for t in self.tasks}
        # a missing label's value is garbage that must not leak into loss or metric
        y = {t: (torch.tensor(9999) if gone.get(t) and t != "sum" else v) for t, v in y.items()}
        return x, y, gone


def _data(seed: int = 0) -> tuple[DataSplits, list[int]]:
    """`left` and `sum` lack labels on half the training items, all of the first batch."""
    base = tiny_data()
    n = 64
    train_items = torch.utils.data.Subset(base.train, range(n))
    first = data_order(n, seed, 0)[:BATCH].tolist()
    others = [i for i in range(n) if i not in first][::3][:n // 2 - BATCH]
    missing = set(first) | set(others)
    assert len(missing) == n // 2
    val_missing = set(range(0, len(base.val), 2))
    tasks = ("left", "sum")
    return DataSplits(Missing(train_items, missing, tasks), Missing(base.val, val_missing, tasks),
                      base.test, base.tasks, name="half-missing"), sorted(val_missing)


@pytest.mark.parametrize("weighting", ["uniform", "mgda", "upgrad"])
def test_a_task_missing_on_half_the_items_trains_without_nan(weighting):
    data, _ = _data()
    model = tiny_model()
    heads = {t: [p.detach().clone() for p in model.heads[t].parameters()]
             for t in ("left", "right")}
    seen = []

    def first_step(info):
        if info.step == 1:  # the batch without any label of left and sum
            seen.append(info)
            after = {t: list(model.heads[t].parameters()) for t in heads}
            seen.append({t: all(torch.equal(a, b) for a, b in zip(heads[t], after[t],
                                                                  strict=True))
                         for t in heads})

    w = make_weighting(weighting)
    result = train(model, data, weighting=w, epochs=2, batch_size=BATCH, lr=1e-2,
                   on_step=first_step)
    info, unchanged = seen
    assert info.losses["left"] == 0.0 and info.losses["sum"] == 0.0
    assert unchanged == {"left": True, "right": False}  # no gradient reached left's head
    if weighting == "mgda":
        assert info.weights["left"] == 0.0 and info.weights["right"] > 0
    assert all(torch.isfinite(p).all() for p in model.parameters())
    for row in result.history:
        assert all(math.isfinite(v) for v in row["train_loss"].values())
        assert all(math.isfinite(v) for v in row["mean_weights"].values())
    assert all(math.isfinite(v) for v in result.val_metrics.values())


def test_metrics_skip_the_items_without_labels():
    data, val_missing = _data()
    model = tiny_model().eval()
    scores = evaluate_all(model, data.val, data.tasks)
    labelled = [i for i in range(len(data.val)) if i not in val_missing]
    subset = torch.utils.data.Subset(tiny_data().val, labelled)
    expected = evaluate_all(model, subset, data.tasks)
    assert scores["left"] == pytest.approx(expected["left"])
    assert scores["sum"] == pytest.approx(expected["sum"])
    everything = evaluate_all(model, tiny_data().val, data.tasks)
    assert scores["right"] == pytest.approx(everything["right"])  # right is never missing
