"""MultiDigits, the data-set registry, and the loss/metric registries."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from mtlspec.errors import MtlspecError
from mtlspec.train import losses
from mtlspec.train.data import (
    MULTIDIGITS_TASKS,
    TaskInfo,
    compose_pair,
    dataset_tasks,
    list_datasets,
    load_data,
    register_dataset,
)

ALL = list(MULTIDIGITS_TASKS)


@pytest.fixture(scope="module")
def data():
    return load_data("multidigits", tasks=ALL, seed=3, train_size=300, val_size=80,
                     test_size=120)


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return d.images / 16.0, d.target


def test_registry_lists_multidigits_and_its_nine_tasks():
    assert "multidigits" in list_datasets()
    assert dataset_tasks("multidigits") == tuple(ALL)
    assert len(ALL) == 9
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("multidigits")(lambda **kw: None)
    with pytest.raises(MtlspecError, match="unknown data set 'mnist'"):
        load_data("mnist")


def test_items_have_the_contract_shapes_and_types(data):
    assert data.input_shape == (1, 8, 16)
    assert (len(data.train), len(data.val), len(data.test)) == (300, 80, 120)
    x, y = data.train[5]
    assert x.shape == (1, 8, 16) and x.dtype == torch.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert list(y) == ALL
    for task, info in data.tasks.items():
        if info.kind == "classification":
            assert y[task].dtype == torch.int64 and y[task].shape == ()
            assert int(data.train.targets[task].max()) < info.outputs
        else:
            assert y[task].dtype == torch.float32 and y[task].shape == (1,)
            assert info.outputs == 1


def test_images_and_labels_come_from_the_source_digits(data, digits):
    images, labels = digits
    ds = data.test
    for i in range(len(ds)):
        a, b = ds.sources[i]
        assert np.allclose(ds.x[i, 0, :, :8].numpy(), images[a])
        assert np.allclose(ds.x[i, 0, :, 8:].numpy(), images[b])
        la, lb = labels[a], labels[b]
        t = {k: v[i] for k, v in ds.targets.items()}
        assert (t["left"], t["right"]) == (la, lb)
        assert t["parity"] == (la + lb) % 2 and t["greater"] == int(la > lb)
        assert t["has7"] == int(7 in (la, lb)) and t["max"] == max(la, lb)
        assert t["equal"] == int(la == lb)
        assert float(t["sum"]) == la + lb and float(t["absdiff"]) == abs(la - lb)


def test_test_digit_images_are_never_seen_in_training(data):
    train = set(data.train.sources.ravel())
    val = set(data.val.sources.ravel())
    test = set(data.test.sources.ravel())
    assert not train & test and not train & val and not val & test


def test_splits_are_seeded():
    a = load_data(tasks=["left"], seed=1, train_size=50, val_size=5, test_size=5)
    b = load_data(tasks=["left"], seed=1, train_size=50, val_size=5, test_size=5)
    c = load_data(tasks=["left"], seed=2, train_size=50, val_size=5, test_size=5)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.x, b.test.x)
    assert not torch.equal(a.train.x, c.train.x)


def test_default_tasks_and_task_order_follow_the_request():
    assert list(load_data(train_size=4, val_size=1, test_size=1).tasks) == [
        "left", "right", "parity"]
    picked = load_data(tasks=["sum", "left"], train_size=4, val_size=1, test_size=1)
    assert list(picked.tasks) == ["sum", "left"] and list(picked.train[0][1]) == ["sum", "left"]


def test_overlap_shifts_the_right_digit_and_takes_the_maximum():
    left = np.zeros((1, 8, 8))
    right = np.zeros((1, 8, 8))
    left[0, :, 7] = 0.25
    right[0, :, 0] = 0.5
    right[0, :, 1] = 0.1
    out = compose_pair(left, right, overlap=2)
    assert out.shape == (1, 8, 16)
    assert np.allclose(out[0, :, 6], 0.5) and np.allclose(out[0, :, 7], 0.25)
    assert np.allclose(out[0, :, 14:], 0.0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tasks": ["left", "colour"]}, "unknown task.*colour"),
    ({"tasks": ["left", "left"]}, "distinct"),
    ({"overlap": 8}, "overlap"),
    ({"train_size": 0}, "train_size"),
])
def test_bad_requests_are_clear_errors(kwargs, message):
    with pytest.raises(MtlspecError, match=message):
        load_data("multidigits", **kwargs)


def test_losses_and_metrics_match_hand_computed_values():
    cls = TaskInfo("c", "classification", 3, "cross_entropy", "accuracy", True)
    pred = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    target = torch.tensor([0, 1])
    expected = -(torch.log_softmax(pred, 1)[0, 0] + torch.log_softmax(pred, 1)[1, 1]) / 2
    assert torch.isclose(losses.loss_for(cls)(pred, target), expected)
    assert losses.metric_for(cls)(pred, target) == 0.5
    reg = TaskInfo("r", "regression", 1, "l1", "mae", False)
    p, t = torch.tensor([[1.0], [4.0]]), torch.tensor([[2.0], [2.0]])
    assert losses.loss_for(reg)(p, t).item() == 1.5
    assert losses.metric_for(reg)(p.reshape(2), t) == 1.5  # [N] and [N, 1] both accepted
    mse = TaskInfo("r", "regression", 1, "mse", "mse", False)
    assert losses.loss_for(mse)(p, t).item() == 2.5
    assert losses.metric_for(mse)(p, t) == 2.5


def test_unknown_loss_or_metric_names_the_available_ones():
    bad = TaskInfo("x", "regression", 1, "hinge", "r2", True)
    with pytest.raises(MtlspecError, match=r"unknown loss 'hinge'.*cross_entropy"):
        losses.loss_for(bad)
    with pytest.raises(MtlspecError, match=r"unknown metric 'r2'.*accuracy"):
        losses.metric_for(bad)
    with pytest.raises(ValueError, match="already registered"):
        losses.register_loss("l1")(lambda p, t: p)


@pytest.mark.parametrize("module", ["mtlspec.data.multidigits", "mtlspec.train.losses",
                                    "mtlspec.train.weighting", "mtlspec.train.evaluate",
                                    "mtlspec.train.metrics", "mtlspec.train.shared",
                                    "mtlspec.cli.train", "mtlspec.cli.train_report"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
