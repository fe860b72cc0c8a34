"""Metrics as accumulators: `update` per batch, `compute` at the end of the split.

Everything is accumulated over the whole split (counts, sums, a confusion matrix, every
angle), so one batch or many give the same value; a metric is never a mean of per-batch
means. The definitions follow MTAN/LibMTL (Liu et al. 2019; Lin & Zhang 2023) so numbers
compare with published tables:

- segmentation: confusion matrix of the labelled pixels (target != ignore);
  `pixel_acc` = its trace / its sum; `miou` = mean over classes of TP / (TP + FP + FN), over
  the classes present in the target or the prediction (LibMTL averages all classes and so
  gives NaN when one never occurs; MTAN skips absent classes too);
- depth (pixels with target != 0): `abs_err` = mean |p - t|, `rel_err` = mean |p - t| / t
  (pixel means over the split, where LibMTL weights per-batch means by batch size);
- normals (pixels whose target is not all zero): angle = acos(clamp(<p/|p|, t>, -1, 1)) in
  degrees; `mean_angle`, `median_angle`, and `within_11.25` / `within_22.5` / `within_30`, the
  fraction of pixels with angle < 11.25°, 22.5°, 30° (x100 for the usual %);
- `accuracy` (argmax = class), `label_accuracy` (multi-label: logit > 0 = label, over every
  labelled (item, label)), `mae`, `mse`, `l1_err` (edges, keypoints: mean |p - t| over finite
  targets).

Directions live in `mtlspec.data.tasks.HIGHER_IS_BETTER`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import torch

from mtlspec.data.tasks import HIGHER_IS_BETTER, TaskInfo, fill_value
from mtlspec.errors import MtlspecError


class Accumulator(Protocol):
    names: tuple[str, ...]

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None: ...

    def compute(self) -> dict[str, float]: ...


def _like(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A regression prediction in the target's shape ([N, 1] and [N] are interchangeable)."""
    if pred.shape != target.shape and pred.numel() == target.numel():
        return pred.reshape(target.shape)
    return pred


def _ratio(num: float, den: float) -> float:
    return num / den if den else float("nan")


class ClassAccuracy:
    """`accuracy`: argmax over classes equals the label, over labelled items."""

    names = ("accuracy",)

    def __init__(self, info: TaskInfo) -> None:
        self.ignore = int(fill_value(info))
        self.correct = self.count = 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        valid = target != self.ignore
        self.correct += int(((pred.argmax(dim=1) == target) & valid).sum())
        self.count += int(valid.sum())

    def compute(self) -> dict[str, float]:
        return {"accuracy": _ratio(self.correct, self.count)}


class LabelAccuracy:
    """`label_accuracy`: (logit > 0) equals the 0/1 label, over labelled (item, label)s."""

    names = ("label_accuracy",)

    def __init__(self, info: TaskInfo) -> None:
        self.ignore = fill_value(info)
        self.correct = self.count = 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        valid = target != self.ignore
        self.correct += int((((pred > 0).to(target.dtype) == target) & valid).sum())
        self.count += int(valid.sum())

    def compute(self) -> dict[str, float]:
        return {"label_accuracy": _ratio(self.correct, self.count)}


class ErrorMean:
    """`mae` / `mse` / `l1_err`: mean |p - t| (or (p - t)²) over finite targets."""

    def __init__(self, info: TaskInfo, name: str = "mae", power: int = 1) -> None:
        self.names, self.power = (name,), power
        self.total, self.count = 0.0, 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        valid = torch.isfinite(target)
        err = (_like(pred, target) - target).abs()[valid].double()
        self.total += float(err.pow(self.power).sum())
        self.count += int(valid.sum())

    def compute(self) -> dict[str, float]:
        return {self.names[0]: _ratio(self.total, self.count)}


class Segmentation:
    """`miou`, `pixel_acc` from a confusion matrix over the labelled pixels of the split."""

    names = ("miou", "pixel_acc")

    def __init__(self, info: TaskInfo) -> None:
        self.classes = info.outputs
        self.confusion = torch.zeros(self.classes, self.classes, dtype=torch.int64)

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        valid = (target >= 0) & (target < self.classes)
        truth, guess = target[valid], pred.argmax(dim=1)[valid]
        counts = torch.bincount((truth * self.classes + guess).cpu(),
                                minlength=self.classes ** 2)
        self.confusion += counts.reshape(self.classes, self.classes)

    def compute(self) -> dict[str, float]:
        h = self.confusion.double()
        tp = h.diag()
        union = h.sum(0) + h.sum(1) - tp
        present = union > 0
        miou = float((tp[present] / union[present]).mean()) if present.any() else float("nan")
        return {"miou": miou, "pixel_acc": _ratio(float(tp.sum()), float(h.sum()))}


class Depth:
    """`abs_err`, `rel_err` over the pixels with a depth (target != 0)."""

    names = ("abs_err", "rel_err")

    def __init__(self, info: TaskInfo) -> None:
        self.ignore = fill_value(info)
        self.abs = self.rel = 0.0
        self.count = 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        valid = (target != self.ignore) & torch.isfinite(target)
        p, t = _like(pred, target)[valid].double(), target[valid].double()
        err = (p - t).abs()
        self.abs += float(err.sum())
        self.rel += float((err / t).sum())
        self.count += int(valid.sum())

    def compute(self) -> dict[str, float]:
        return {"abs_err": _ratio(self.abs, self.count), "rel_err": _ratio(self.rel, self.count)}


class Normals:
    """Angle errors (degrees) over the pixels with a normal (target not all zero)."""

    names = ("mean_angle", "median_angle", "within_11.25", "within_22.5", "within_30")

    def __init__(self, info: TaskInfo) -> None:
        self.angles: list[torch.Tensor] = []

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        angles = normal_angles(pred, target)
        self.angles.append(angles.float().cpu())

    def compute(self) -> dict[str, float]:
        a = torch.cat(self.angles) if self.angles else torch.zeros(0)
        if not len(a):
            return dict.fromkeys(self.names, float("nan"))
        # the median of an even count is the mean of the two middle values (numpy's, LibMTL's)
        middle = a.sort().values[(len(a) - 1) // 2:len(a) // 2 + 1].double().mean()
        return {"mean_angle": float(a.double().mean()), "median_angle": float(middle),
                **{f"within_{limit:g}": float((a < limit).double().mean())
                   for limit in (11.25, 22.5, 30)}}


def normal_angles(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Angles in degrees between normalised predictions and targets, at the valid pixels
    (target finite and not all zero), flattened.

    Example:
        >>> p = torch.tensor([[[[1.0]], [[1.0]], [[0.0]]]])  # (1, 1, 0) → 45° from x
        >>> t = torch.tensor([[[[1.0]], [[0.0]], [[0.0]]]])
        >>> round(normal_angles(p, t).item(), 4)
        45.0
    """
    valid = (target != 0).any(dim=1) & torch.isfinite(target).all(dim=1)
    unit = torch.nn.functional.normalize(pred.double(), dim=1)
    cos = (unit * target.double()).sum(dim=1)[valid].clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cos))


# group name → (factory, the metric names it computes)
_GROUPS: dict[str, Callable[[TaskInfo], Accumulator]] = {
    "accuracy": ClassAccuracy,
    "label_accuracy": LabelAccuracy,
    "mae": lambda info: ErrorMean(info, "mae", 1),
    "mse": lambda info: ErrorMean(info, "mse", 2),
    "l1_err": lambda info: ErrorMean(info, "l1_err", 1),
    "segmentation": Segmentation,
    "depth": Depth,
    "normals": Normals,
}
_METRIC_GROUP: dict[str, str] = {
    "accuracy": "accuracy", "label_accuracy": "label_accuracy", "mae": "mae", "mse": "mse",
    "l1_err": "l1_err", "miou": "segmentation", "pixel_acc": "segmentation",
    "abs_err": "depth", "rel_err": "depth", **dict.fromkeys(Normals.names, "normals"),
}
_DIRECTIONS: dict[str, bool] = dict(HIGHER_IS_BETTER)


def register_metric_group(names: dict[str, bool],
                          factory: Callable[[TaskInfo], Accumulator]) -> None:
    """Register an accumulator computing the metrics `names` ({name: higher_is_better}).

    Raises:
        ValueError: a metric name is already registered.
    """
    taken = sorted(set(names) & set(_METRIC_GROUP))
    if taken:
        raise ValueError(f"metric(s) {', '.join(taken)} already registered")
    group = "+".join(names)
    _GROUPS[group] = factory
    for name, higher in names.items():
        _METRIC_GROUP[name], _DIRECTIONS[name] = group, higher


def list_metrics() -> list[str]:
    return sorted(_METRIC_GROUP)


def higher_is_better(metric: str) -> bool:
    """The direction of a registered metric."""
    return _DIRECTIONS[metric]


class TaskMetrics:
    """Every metric of one task, accumulated over a split.

    Example:
        >>> from mtlspec.data.tasks import declare
        >>> m = TaskMetrics(declare("d", "depth"))
        >>> m.update(torch.full((1, 1, 1, 2), 2.0), torch.tensor([[[[1.0, 4.0]]]]))
        >>> m.compute()
        {'abs_err': 1.5, 'rel_err': 0.75}
    """

    def __init__(self, info: TaskInfo) -> None:
        unknown = [m for m in info.all_metrics if m not in _METRIC_GROUP]
        if unknown:
            raise MtlspecError(f"task {info.name}: unknown metric {unknown[0]!r}; "
                               f"available: {', '.join(list_metrics())}")
        self.info = info
        groups = dict.fromkeys(_METRIC_GROUP[m] for m in info.all_metrics)
        self.accumulators = [_GROUPS[g](info) for g in groups]

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        pred = pred.detach()
        for acc in self.accumulators:
            acc.update(pred, target)

    def compute(self) -> dict[str, float]:
        values: dict[str, float] = {}
        for acc in self.accumulators:
            values.update(acc.compute())
        return {m: values[m] for m in self.info.all_metrics}


def delta_m(results: dict[str, dict[str, float]], baseline: dict[str, dict[str, float]]
            ) -> float:
    """Δm in % (Maninis et al. 2019, as LibMTL's `count_improvement` computes it): for each task
    the mean over its metrics of ±(M - B) / B x 100 (+ when higher is better), then the mean
    over tasks. Positive means better than the baseline (the single-task models).

    Args:
        results: task → metric → value of the multi-task model.
        baseline: the same for the single-task models; tasks or metrics missing from either
            side are left out.

    Raises:
        MtlspecError: nothing in common, or a baseline value of 0 (Δ undefined).

    Example:
        >>> # seg: mean(+10 %, 0 %) = +5 %; depth: -25 %; Δm = mean(5, -25) = -10 %
        >>> round(delta_m({"seg": {"miou": 0.55, "pixel_acc": 0.8}, "depth": {"abs_err": 0.5}},
        ...               {"seg": {"miou": 0.5, "pixel_acc": 0.8}, "depth": {"abs_err": 0.4}}), 9)
        -10.0
    """
    per_task = []
    for task, values in results.items():
        base = baseline.get(task, {})
        terms = []
        for metric, value in values.items():
            if metric not in base:
                continue
            if base[metric] == 0 or not math.isfinite(base[metric]):
                raise MtlspecError(f"task {task}: the baseline {metric} is {base[metric]}; "
                                   "Δm is undefined")
            sign = 1.0 if higher_is_better(metric) else -1.0
            terms.append(sign * (value - base[metric]) / abs(base[metric]) * 100)
        if terms:
            per_task.append(sum(terms) / len(terms))
    if not per_task:
        raise MtlspecError("no task has a metric in both the results and the baseline")
    return sum(per_task) / len(per_task)
