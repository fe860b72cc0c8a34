"""Dense losses and metrics: hand-computed values on small arrays, the same value from one
batch or many, Δm as LibMTL computes it."""

from __future__ import annotations

import math

import pytest
import torch

from mtlspec.data.tasks import HIGHER_IS_BETTER, declare
from mtlspec.errors import MtlspecError
from mtlspec.train import metrics as M
from mtlspec.train.losses import loss_for

SEG = declare("seg", "segmentation", classes=3)
DEPTH = declare("depth", "depth")
NORMAL = declare("normal", "normals")


def _logits(labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Logits [N, K, H, W] whose argmax is `labels` [N, H, W]."""
    return torch.nn.functional.one_hot(labels, classes).permute(0, 3, 1, 2).float()


def _score(info, pred, target):
    acc = M.TaskMetrics(info)
    acc.update(pred, target)
    return acc.compute()


def test_segmentation_miou_and_pixel_accuracy_by_hand():
    # target (-1 = unlabelled)     prediction
    # 0  0  1  -1                  0  1  1  2
    # 2  2  1   0                  2  0  1  0
    target = torch.tensor([[[0, 0, 1, -1], [2, 2, 1, 0]]])
    pred = _logits(torch.tensor([[[0, 1, 1, 2], [2, 0, 1, 0]]]), 3)
    got = _score(SEG, pred, target)
    # 7 labelled pixels, 5 right. class 0: TP 2, FP 1, FN 1 → 2/4; class 1: TP 2, FP 1 → 2/3;
    # class 2: TP 1, FN 1 → 1/2 (the unlabelled pixel's prediction 2 does not count)
    assert got["pixel_acc"] == pytest.approx(5 / 7)
    assert got["miou"] == pytest.approx((2 / 4 + 2 / 3 + 1 / 2) / 3)


def test_miou_leaves_out_classes_absent_from_target_and_prediction():
    four = declare("seg", "segmentation", classes=4)
    target = torch.tensor([[[0, 1]]])
    got = _score(four, _logits(torch.tensor([[[0, 1]]]), 4), target)
    assert got["miou"] == 1.0  # classes 2 and 3 never occur: not averaged in as 0 or NaN


def test_depth_errors_over_pixels_with_depth_only():
    target = torch.tensor([[[[2.0, 4.0, 0.0]]]])  # the 0 pixel has no depth
    pred = torch.tensor([[[[3.0, 3.0, 9.0]]]])
    got = _score(DEPTH, pred, target)
    assert got == {"abs_err": 1.0, "rel_err": pytest.approx((1 / 2 + 1 / 4) / 2)}
    # L1 loss over the same pixels
    assert loss_for(DEPTH)(pred, target).item() == pytest.approx(1.0)


def test_normal_angles_by_hand():
    # three pixels: right on, 90° off (prediction not unit length), 60° off; one without normal
    target = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    pred = torch.tensor([[5.0, 0.0, 0.0], [3.0, 0.0, 0.0],
                         [0.0, math.sin(math.pi / 3), 0.5], [1.0, 0.0, 0.0]])
    as_maps = (pred.T.reshape(1, 3, 1, 4), target.T.reshape(1, 3, 1, 4))
    got = _score(NORMAL, *as_maps)
    assert got["mean_angle"] == pytest.approx(50.0)
    assert got["median_angle"] == pytest.approx(60.0)
    assert got["within_11.25"] == pytest.approx(1 / 3)
    assert got["within_22.5"] == pytest.approx(1 / 3)
    assert got["within_30"] == pytest.approx(1 / 3)
    # loss: 1 - mean cos over the 3 valid pixels = 1 - (1 + 0 + 0.5) / 3
    assert loss_for(NORMAL)(*as_maps).item() == pytest.approx(0.5)


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    target = torch.tensor([[[[1.0, 1.0]], [[0.0, 0.0]], [[0.0, 0.0]]]])
    pred = torch.tensor([[[[1.0, 1.0]], [[0.0, 1.0]], [[0.0, 0.0]]]])  # 0° and 45°
    assert _score(NORMAL, pred, target)["median_angle"] == pytest.approx(22.5)


def test_multilabel_accuracy_and_bce_skip_unlabelled_entries():
    info = declare("attrs", "multi-label", classes=3)
    target = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 1.0]])
    pred = torch.tensor([[2.0, 1.0, 5.0], [-1.0, -3.0, 0.5]])
    assert _score(info, pred, target) == {"label_accuracy": pytest.approx(3 / 5)}
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = sum(bce(pred[i, j], target[i, j]) for i, j in
                   ((0, 0), (0, 1), (1, 0), (1, 1), (1, 2))) / 5
    assert loss_for(info)(pred, target).item() == pytest.approx(expected.item())


def test_edge_l1_and_pixel_cross_entropy_by_hand():
    edge = declare("edge", "edges")
    target = torch.tensor([[[[0.0, 1.0, float("nan")]]]])  # NaN: a missing label
    pred = torch.tensor([[[[0.5, 0.0, 3.0]]]])
    assert _score(edge, pred, target) == {"l1_err": 0.75}
    assert loss_for(edge)(pred, target).item() == pytest.approx(0.75)
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 0.0]], [[0.0, 1.0]]]])  # [1, 3, 1, 2]
    labels = torch.tensor([[[0, -1]]])
    expected = -torch.log_softmax(logits[0, :, 0, 0], 0)[0]
    assert loss_for(SEG)(logits, labels).item() == pytest.approx(expected.item())


def test_a_batch_without_any_label_gives_zero_loss_with_a_gradient():
    pred = torch.randn(2, 3, 2, 2, requires_grad=True)
    for info, target in ((SEG, torch.full((2, 2, 2), -1)), (DEPTH, torch.zeros(2, 1, 2, 2)),
                         (NORMAL, torch.zeros(2, 3, 2, 2))):
        p = pred[:, :info.outputs]
        loss = loss_for(info)(p, target)
        assert loss.item() == 0.0 and torch.isfinite(loss)
        loss.backward()
        assert torch.equal(pred.grad, torch.zeros_like(pred))


@pytest.mark.parametrize("info", [SEG, DEPTH, NORMAL, declare("edge", "edges"),
                                  declare("c", "classification", classes=4),
                                  declare("m", "multi-label", classes=5)])
def test_one_batch_or_many_give_the_same_values(info):
    gen = torch.Generator().manual_seed(0)
    n = 11
    if info.kind == "segmentation":
        target = torch.randint(-1, 3, (n, 5, 6), generator=gen)
        pred = torch.randn(n, 3, 5, 6, generator=gen)
    elif info.kind == "classification":
        target = torch.randint(-1, 4, (n,), generator=gen)
        pred = torch.randn(n, 4, generator=gen)
    elif info.kind == "multi-label":
        target = torch.randint(-1, 2, (n, 5), generator=gen).float()
        pred = torch.randn(n, 5, generator=gen)
    else:
        shape = (n, info.outputs, 5, 6)
        target = torch.rand(shape, generator=gen) * (torch.rand(shape, generator=gen) > 0.2)
        pred = torch.randn(shape, generator=gen)
    whole = _score(info, pred, target)
    acc = M.TaskMetrics(info)
    for chunk in (slice(0, 1), slice(1, 5), slice(5, 11)):
        acc.update(pred[chunk], target[chunk])
    pieces = acc.compute()
    counted = {"miou", "pixel_acc", "accuracy", "label_accuracy", "median_angle",
               "within_11.25", "within_22.5", "within_30"}
    for name, value in whole.items():
        if name in counted:  # counts and order statistics: exactly equal
            assert pieces[name] == value, name
        else:  # sums of floats: equal up to rounding
            assert pieces[name] == pytest.approx(value, rel=1e-12), name


def test_delta_m_as_libmtl_computes_it():
    # LibMTL's count_improvement docstring example: base A [96, 98], B [0.2]; new A [93, 99],
    # B [0.5]; A's metrics higher-better then lower-better, B's higher-better
    M.register_metric_group({"test_a1": True, "test_a2": False},
                            lambda info: None)  # directions only
    M.register_metric_group({"test_b1": True}, lambda info: None)
    got = M.delta_m({"A": {"test_a1": 93, "test_a2": 99}, "B": {"test_b1": 0.5}},
                    {"A": {"test_a1": 96, "test_a2": 98}, "B": {"test_b1": 0.2}})
    a = ((93 - 96) / 96 - (99 - 98) / 98) / 2
    b = (0.5 - 0.2) / 0.2
    assert got == pytest.approx((a + b) / 2 * 100)
    with pytest.raises(MtlspecError, match="Δm is undefined"):
        M.delta_m({"A": {"test_a1": 1.0}}, {"A": {"test_a1": 0.0}})
    with pytest.raises(MtlspecError, match="no task has a metric"):
        M.delta_m({"A": {"test_a1": 1.0}}, {"B": {"test_b1": 1.0}})


def test_metric_directions_agree_between_data_and_train_layers():
    for name, higher in HIGHER_IS_BETTER.items():
        assert M.higher_is_better(name) is higher, name
    assert set(HIGHER_IS_BETTER) <= set(M.list_metrics())
