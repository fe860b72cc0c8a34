"""Δ: a multi-task model's metrics against single-task models, in percent (MTL papers' Δ_m)."""

from __future__ import annotations

from collections.abc import Mapping

from mtlspec.data.tasks import TaskInfo
from mtlspec.train.metrics import delta_m


def relative_delta(metrics: Mapping[str, float] | Mapping[str, Mapping[str, float]],
                   single: Mapping[str, float] | Mapping[str, Mapping[str, float]],
                   tasks: Mapping[str, TaskInfo]) -> float:
    """Δ in % against single-task models (`delta_m`): per task the mean of ±(M − S)/S · 100
    over its metrics (+ when higher is better), then the mean over tasks. A flat
    {task: value} means each task's main metric.

    Raises:
        MtlspecError: no task in common, or a single-task metric of 0.

    Example:
        >>> info = TaskInfo("a", "classification", 10, "cross_entropy", "accuracy", True)
        >>> round(relative_delta({"a": 0.9}, {"a": 0.8}, {"a": info}), 6)
        12.5
    """
    def nested(values):
        return {t: (dict(v) if isinstance(v, Mapping) else {tasks[t].metric: float(v)})
                for t, v in values.items() if t in tasks}

    return delta_m(nested(metrics), nested(single))
