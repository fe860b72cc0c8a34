"""Δ: a multi-task model's metrics against single-task models, in percent (MTL papers' Δ_m)."""

from __future__ import annotations

from collections.abc import Mapping

from mtlspec.errors import MtlspecError
from mtlspec.train.data import TaskInfo


def relative_delta(metrics: Mapping[str, float], single: Mapping[str, float],
                   tasks: Mapping[str, TaskInfo]) -> float:
    """Δ in % against single-task models: mean over tasks of ±(M_t − S_t)/S_t · 100, with +
    when higher is better (positive Δ = better than single-task).

    Raises:
        MtlspecError: no task in common, or a single-task metric of 0.

    Example:
        >>> info = TaskInfo("a", "classification", 10, "cross_entropy", "accuracy", True)
        >>> round(relative_delta({"a": 0.9}, {"a": 0.8}, {"a": info}), 6)
        12.5
    """
    common = [t for t in tasks if t in metrics and t in single]
    if not common:
        raise MtlspecError("no task has both a metric and a single-task metric")
    total = 0.0
    for t in common:
        if single[t] == 0:
            raise MtlspecError(f"task {t}: single-task metric is 0; Δ is undefined")
        sign = 1.0 if tasks[t].higher_is_better else -1.0
        total += sign * (metrics[t] - single[t]) / abs(single[t]) * 100
    return total / len(common)
