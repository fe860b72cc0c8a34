"""Task declarations: what a task predicts, how it is stored, scored and trained (torch-free).

A data set declares each of its tasks with a `TaskInfo`. The kind fixes the target's layout
(per item, before batching) and the prediction the head must produce:

==============  =========================================  ==============================
kind            target of one item                          prediction of a batch
==============  =========================================  ==============================
classification  int64 scalar, class id; `ignore` = no label  [N, classes] logits
multi-label     float32 [K] of 0/1; `ignore` = no label      [N, K] logits
regression      float32 [C]; NaN = no label                  [N, C]
segmentation    int64 [H, W] class ids; `ignore` pixels      [N, classes, H, W] logits
depth           float32 [1, H, W]; 0 = no depth (MTAN)       [N, 1, H, W]
normals         float32 [3, H, W] unit vectors; 0 = none     [N, 3, H, W] (normalised in loss)
edges           float32 [C, H, W]; NaN = no label            [N, C, H, W]
keypoints       float32 [C, H, W] heatmaps; NaN = no label   [N, C, H, W]
==============  =========================================  ==============================

Normals are in the camera frame with x pointing right in the image, so a horizontal flip
negates their x component. `declare` fills in the standard loss and metrics of a kind.

    >>> t = declare("segment", "segmentation", classes=13)
    >>> t.outputs, t.loss, t.metrics, t.ignore
    (13, 'pixel_cross_entropy', ('miou', 'pixel_acc'), -1)
    >>> declare("normal", "normals").metrics[:2]
    ('mean_angle', 'median_angle')
"""

from __future__ import annotations

from dataclasses import dataclass

from mtlspec.errors import MtlspecError

KINDS = ("classification", "multi-label", "regression", "segmentation", "depth", "normals",
         "edges", "keypoints")
# Kinds with one prediction per pixel: their heads must keep the spatial map (conv, aspp).
DENSE_KINDS = frozenset({"segmentation", "depth", "normals", "edges", "keypoints"})
# Kinds whose `outputs` count classes (spec heads write `classes=`) rather than channels.
CLASS_KINDS = frozenset({"classification", "multi-label", "segmentation"})

# kind → (loss, metrics (the first one is the task's main metric), ignore value, outputs)
_STANDARD: dict[str, tuple[str, tuple[str, ...], float | None, int | None]] = {
    "classification": ("cross_entropy", ("accuracy",), -1, None),
    "multi-label": ("bce", ("label_accuracy",), -1, None),
    "regression": ("masked_l1", ("mae",), None, 1),
    "segmentation": ("pixel_cross_entropy", ("miou", "pixel_acc"), -1, None),
    "depth": ("depth_l1", ("abs_err", "rel_err"), 0, 1),
    "normals": ("normal_cosine", ("mean_angle", "median_angle", "within_11.25", "within_22.5",
                                  "within_30"), 0, 3),
    "edges": ("masked_l1", ("l1_err",), None, 1),
    "keypoints": ("masked_l1", ("l1_err",), None, 1),
}
# Direction of every standard metric (True: higher is better); the train layer's metric
# registry holds the same directions and a test keeps the two equal.
HIGHER_IS_BETTER = {
    "accuracy": True, "label_accuracy": True, "mae": False, "mse": False, "miou": True,
    "pixel_acc": True, "abs_err": False, "rel_err": False, "mean_angle": False,
    "median_angle": False, "within_11.25": True, "within_22.5": True, "within_30": True,
    "l1_err": False,
}


@dataclass(frozen=True)
class TaskInfo:
    """What a task predicts and how it is scored.

    Attributes:
        name: the task's name (a spec's task names must match).
        kind: one of `KINDS`.
        outputs: the head's output size: classes, labels or channels.
        loss: a loss registered in `mtlspec.train.losses`.
        metric: the main metric (picks the best model, feeds plans and Δ on one number).
        higher_is_better: the main metric's direction.
        description: one line for `mtlspec datasets`.
        metrics: every metric reported (the main one first); empty means just `metric`.
        ignore: the target value that marks "no label" (see the module table), or None.
    """

    name: str
    kind: str
    outputs: int
    loss: str
    metric: str
    higher_is_better: bool
    description: str = ""
    metrics: tuple[str, ...] = ()
    ignore: float | None = None

    @property
    def all_metrics(self) -> tuple[str, ...]:
        """The metrics to report, main one first."""
        return self.metrics or (self.metric,)

    @property
    def dense(self) -> bool:
        """True for per-pixel tasks."""
        return self.kind in DENSE_KINDS


def declare(name: str, kind: str, *, classes: int | None = None, channels: int | None = None,
            loss: str | None = None, metrics: tuple[str, ...] | None = None,
            ignore: float | None = None, description: str = "") -> TaskInfo:
    """A task of a kind with the kind's standard loss, metrics and ignore value.

    Args:
        name: the task's name.
        kind: one of `KINDS`.
        classes: class (or label) count; required for classification, multi-label and
            segmentation.
        channels: output channels of the other kinds (default: 1; normals are 3).
        loss, metrics, ignore: override the kind's standard ones.
        description: one line shown by `mtlspec datasets`.

    Raises:
        MtlspecError: unknown kind, missing or useless class count.

    Example:
        >>> declare("smiling", "classification", classes=2).loss
        'cross_entropy'
    """
    if kind not in _STANDARD:
        raise MtlspecError(f"task {name}: unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    std_loss, std_metrics, std_ignore, std_outputs = _STANDARD[kind]
    if kind in CLASS_KINDS:
        if not classes or classes < 1 or channels is not None:
            raise MtlspecError(f"task {name}: a {kind} task needs classes=N (N >= 1)")
        outputs = classes
    else:
        if classes is not None:
            raise MtlspecError(f"task {name}: a {kind} task has channels, not classes")
        outputs = channels if channels is not None else std_outputs
        if kind == "normals" and outputs != 3:
            raise MtlspecError(f"task {name}: normals have 3 channels, not {outputs}")
    chosen = tuple(metrics) if metrics else std_metrics
    unknown = [m for m in chosen if m not in HIGHER_IS_BETTER]
    if metrics and unknown:
        raise MtlspecError(f"task {name}: unknown metric(s) {', '.join(unknown)}; metrics: "
                           f"{', '.join(HIGHER_IS_BETTER)}")
    return TaskInfo(name, kind, int(outputs), loss or std_loss, chosen[0],
                    HIGHER_IS_BETTER[chosen[0]], description, chosen,
                    std_ignore if ignore is None else ignore)


def fill_value(info: TaskInfo) -> float:
    """The target value that stands for a missing label of this task (see the table above)."""
    if info.ignore is not None:
        return info.ignore
    return -1 if info.kind in CLASS_KINDS else float("nan")
