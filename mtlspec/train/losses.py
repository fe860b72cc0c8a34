"""Loss and metric registries: a task's `TaskInfo.loss` / `.metric` names an entry here.

A loss maps (prediction, target) to a scalar tensor (batch mean); a metric maps them to a float
(batch mean), so a data set's mean is the size-weighted mean of its batches' values. Predictions
of a regression task may be [N, 1] or [N]; they are reshaped to the target's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from mtlspec.errors import MtlspecError
from mtlspec.registry import registers_into
from mtlspec.train.data import TaskInfo

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
MetricFn = Callable[[torch.Tensor, torch.Tensor], float]


@dataclass(frozen=True)
class Metric:
    """A metric and its direction (for Δ and for picking the best epoch)."""

    fn: MetricFn
    higher_is_better: bool


_LOSSES: dict[str, LossFn] = {}
_METRICS: dict[str, Metric] = {}


# Decorator: register a loss under a name (duplicates rejected), like heads and DAG ops.
register_loss = registers_into(_LOSSES, "loss")


# Decorator: register a metric under a name with its direction (`higher_is_better=`).
register_metric = registers_into(
    _METRICS, "metric", lambda name, fn, *, higher_is_better: Metric(fn, higher_is_better))


def list_losses() -> list[str]:
    return sorted(_LOSSES)


def list_metrics() -> list[str]:
    return sorted(_METRICS)


def _like(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A regression prediction in the target's shape ([N, 1] and [N] are interchangeable)."""
    if pred.shape != target.shape and pred.numel() == target.numel():
        return pred.reshape(target.shape)
    return pred


@register_loss("cross_entropy")
def cross_entropy(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(pred, target)


@register_loss("l1")
def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(_like(pred, target), target)


@register_loss("mse")
def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(_like(pred, target), target)


@register_loss("smooth_l1")
def smooth_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.smooth_l1_loss(_like(pred, target), target)


@register_metric("accuracy", higher_is_better=True)
def accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    return (pred.argmax(dim=1) == target).float().mean().item()


@register_metric("mae", higher_is_better=False)
def mae(pred: torch.Tensor, target: torch.Tensor) -> float:
    return (_like(pred, target) - target).abs().mean().item()


@register_metric("mse", higher_is_better=False)
def mse_metric(pred: torch.Tensor, target: torch.Tensor) -> float:
    return (_like(pred, target) - target).pow(2).mean().item()


def loss_for(info: TaskInfo) -> LossFn:
    """The loss function of a task.

    Raises:
        MtlspecError: the task names an unregistered loss.

    Example:
        >>> loss_for(TaskInfo("left", "classification", 10, "cross_entropy", "accuracy", True))(
        ...     torch.zeros(2, 10), torch.tensor([0, 1])).item() > 0
        True
    """
    try:
        return _LOSSES[info.loss]
    except KeyError:
        raise MtlspecError(f"task {info.name}: unknown loss {info.loss!r}; available: "
                           f"{', '.join(list_losses())}") from None


def metric_for(info: TaskInfo) -> MetricFn:
    """The metric function of a task (a float, batch mean).

    Raises:
        MtlspecError: the task names an unregistered metric.

    Example:
        >>> metric_for(TaskInfo("s", "regression", 1, "l1", "mae", False))(
        ...     torch.zeros(2, 1), torch.ones(2, 1))
        1.0
    """
    try:
        return _METRICS[info.metric].fn
    except KeyError:
        raise MtlspecError(f"task {info.name}: unknown metric {info.metric!r}; available: "
                           f"{', '.join(list_metrics())}") from None
