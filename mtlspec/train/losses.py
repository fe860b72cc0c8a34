"""Loss registry: a task's `TaskInfo.loss` names an entry here.

A loss maps (prediction, target) to a scalar tensor. Losses that take an `ignore` keyword get
the task's ignore value bound by `loss_for`; they average over the labelled elements only and
return an exact 0 (still connected to the prediction) when a batch has none, so a batch
without any label of a task does not stop training. Definitions follow MTAN/LibMTL:

- `cross_entropy` / `pixel_cross_entropy`: cross-entropy over labelled items / pixels;
- `depth_l1`: mean |p - t| over pixels with a depth (target != 0);
- `normal_cosine`: 1 - mean cos(p/|p|, t) over pixels with a normal (target not all zero);
- `masked_l1`: mean |p - t| over finite targets (edges, keypoints, regression);
- `bce`: binary cross-entropy with logits over labelled (item, label)s;
- `l1`, `mse`, `smooth_l1`: means over finite targets (MultiDigits' regression tasks).

Metrics are accumulators in `mtlspec.train.metrics`; `metric_for` and `register_metric` stay
here for callers that score one batch at a time.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import torch
from torch.nn import functional as F

from mtlspec.data.tasks import TaskInfo, fill_value
from mtlspec.errors import MtlspecError
from mtlspec.registry import registers_into
from mtlspec.train.metrics import (
    TaskMetrics,
    _like,
    higher_is_better,
    list_metrics,
    register_metric_group,
)

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
MetricFn = Callable[[torch.Tensor, torch.Tensor], float]
__all__ = ["higher_is_better", "list_losses", "list_metrics", "loss_for", "metric_for",
           "register_loss", "register_metric"]

_LOSSES: dict[str, LossFn] = {}

# Decorator: register a loss under a name (duplicates rejected), like heads and DAG ops.
register_loss = registers_into(_LOSSES, "loss")


def list_losses() -> list[str]:
    return sorted(_LOSSES)


def _masked_mean(values: torch.Tensor, valid: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """Mean of `values` where `valid`; an exact 0 tied to `pred` when nothing is valid."""
    count = valid.sum()
    if not count:
        return pred.sum() * 0.0
    return torch.where(valid, values, torch.zeros_like(values)).sum() / count


@register_loss("cross_entropy")
def cross_entropy(pred: torch.Tensor, target: torch.Tensor, ignore: int = -1) -> torch.Tensor:
    if bool((target == ignore).all()):
        return pred.sum() * 0.0
    return F.cross_entropy(pred, target, ignore_index=int(ignore))


@register_loss("pixel_cross_entropy")
def pixel_cross_entropy(pred: torch.Tensor, target: torch.Tensor,
                        ignore: int = -1) -> torch.Tensor:
    return cross_entropy(pred, target, ignore)


@register_loss("depth_l1")
def depth_l1(pred: torch.Tensor, target: torch.Tensor, ignore: float = 0.0) -> torch.Tensor:
    valid = (target != ignore) & torch.isfinite(target)
    return _masked_mean((_like(pred, target) - target.nan_to_num()).abs(), valid, pred)


@register_loss("normal_cosine")
def normal_cosine(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    valid = (target != 0).any(dim=1) & torch.isfinite(target).all(dim=1)
    cos = (F.normalize(pred, dim=1) * target.nan_to_num()).sum(dim=1)
    return 1.0 - _masked_mean(cos, valid, pred) if valid.any() else pred.sum() * 0.0


@register_loss("masked_l1")
def masked_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    valid = torch.isfinite(target)
    return _masked_mean((_like(pred, target) - target.nan_to_num()).abs(), valid, pred)


@register_loss("bce")
def bce(pred: torch.Tensor, target: torch.Tensor, ignore: float = -1) -> torch.Tensor:
    valid = target != ignore
    losses = F.binary_cross_entropy_with_logits(pred, target.clamp(0, 1), reduction="none")
    return _masked_mean(losses, valid, pred)


# Plain means over the labelled (finite) targets: a missing label is NaN (`fill_value`).
@register_loss("l1")
def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    diff = _like(pred, target) - target.nan_to_num()
    return _masked_mean(diff.abs(), torch.isfinite(target), pred)


@register_loss("mse")
def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    diff = _like(pred, target) - target.nan_to_num()
    return _masked_mean(diff.square(), torch.isfinite(target), pred)


@register_loss("smooth_l1")
def smooth_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    losses = F.smooth_l1_loss(_like(pred, target), target.nan_to_num(), reduction="none")
    return _masked_mean(losses, torch.isfinite(target), pred)


def loss_for(info: TaskInfo) -> LossFn:
    """The loss function of a task (its ignore value bound when the loss takes one).

    Raises:
        MtlspecError: the task names an unregistered loss.

    Example:
        >>> loss_for(TaskInfo("left", "classification", 10, "cross_entropy", "accuracy", True))(
        ...     torch.zeros(2, 10), torch.tensor([0, 1])).item() > 0
        True
    """
    try:
        fn = _LOSSES[info.loss]
    except KeyError:
        raise MtlspecError(f"task {info.name}: unknown loss {info.loss!r}; available: "
                           f"{', '.join(list_losses())}") from None
    if "ignore" in inspect.signature(fn).parameters:
        ignore = fill_value(info)
        return functools.partial(fn, ignore=int(ignore) if info.kind in (
            "classification", "segmentation") else ignore)
    return fn


class _BatchMean:
    """An accumulator for a metric given as a batch-mean function: the item-weighted mean."""

    def __init__(self, name: str, fn: MetricFn) -> None:
        self.names, self.fn = (name,), fn
        self.total, self.count = 0.0, 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        self.total += self.fn(pred, target) * len(target)
        self.count += len(target)

    def compute(self) -> dict[str, float]:
        return {self.names[0]: self.total / self.count if self.count else float("nan")}


def register_metric(name: str, *, higher_is_better: bool) -> Callable[[MetricFn], MetricFn]:
    """Decorator: register a batch-mean metric `fn(pred, target) -> float` (item-weighted over
    a split) with its direction (duplicates rejected)."""

    def decorate(fn: MetricFn) -> MetricFn:
        register_metric_group({name: higher_is_better}, lambda info: _BatchMean(name, fn))
        return fn

    return decorate


def metric_for(info: TaskInfo) -> MetricFn:
    """The task's main metric on one batch, as a function (pred, target) → float.

    Raises:
        MtlspecError: the task names an unregistered metric.

    Example:
        >>> metric_for(TaskInfo("s", "regression", 1, "l1", "mae", False))(
        ...     torch.zeros(2, 1), torch.ones(2, 1))
        1.0
    """
    TaskMetrics(info)  # an unknown metric fails here

    def batch_metric(pred: torch.Tensor, target: torch.Tensor) -> float:
        metrics = TaskMetrics(info)
        metrics.update(pred, target)
        return metrics.compute()[info.metric]

    return batch_metric
