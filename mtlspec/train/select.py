"""Model selection: which epoch's weights are the best by a validation quantity.

A `Selector` turns an epoch's validation metrics ({task: {metric: value}}) into one score,
higher is better:

- `delta`: Δm (%) against single-task baselines (the default when baselines are given);
- `mean`: the mean over tasks of each task's main metric, negated where lower is better (the
  default otherwise);
- `TASK.METRIC`: one metric of one task, negated where lower is better.

`BestTracker` keeps the best epoch's weights (a copy of the state dict on the CPU), its epoch,
score and validation metrics; its state goes into the training checkpoint, so a resumed run
keeps comparing with the same best.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from mtlspec.data.tasks import TaskInfo
from mtlspec.errors import MtlspecError
from mtlspec.train.metrics import higher_is_better

Scores = Mapping[str, Mapping[str, float]]


class Selector:
    """Scores validation metrics (higher is better).

    Args:
        select: `delta`, `mean`, `TASK.METRIC`, or None (delta with baselines, else mean).
        tasks: the trained tasks' infos.
        baseline: single-task metrics ({task: value} or {task: {metric: value}}) for `delta`.

    Raises:
        MtlspecError: `delta` without baselines, an unknown task or metric.

    Example:
        >>> from mtlspec.data.tasks import declare
        >>> tasks = {"a": declare("a", "classification", classes=10),
        ...          "b": declare("b", "regression", channels=1)}
        >>> Selector(None, tasks).score({"a": {"accuracy": 0.8}, "b": {"mae": 0.4}})
        0.2
        >>> Selector("b.mae", tasks).name, Selector("b.mae", tasks).score({"b": {"mae": 0.4}})
        ('b.mae', -0.4)
    """

    def __init__(self, select: str | None, tasks: Mapping[str, TaskInfo],
                 baseline: Mapping[str, Any] | None = None) -> None:
        self.tasks, self.baseline = dict(tasks), baseline
        self.name = select or ("delta" if baseline else "mean")
        if self.name == "delta":
            known = [t for t in (baseline or {}) if t in tasks]
            if not known:
                raise MtlspecError("--select delta needs --baseline metrics of the trained "
                                   "tasks; or use --select mean or TASK.METRIC")
        elif self.name != "mean":
            task, dot, metric = self.name.partition(".")
            if not dot or task not in tasks:
                raise MtlspecError(f"--select {self.name}: write delta, mean or TASK.METRIC "
                                   f"with a trained task ({', '.join(tasks)})")
            known = tasks[task].metrics or (tasks[task].metric,)
            if metric not in known:
                raise MtlspecError(f"--select {self.name}: task {task} has the metrics "
                                   f"{', '.join(known)}")
            self.task, self.metric = task, metric

    def score(self, val: Scores) -> float:
        """The score of one epoch's validation metrics (NaN never counts as best)."""
        if self.name == "delta":
            from mtlspec.train.delta import relative_delta

            known = {t: v for t, v in (self.baseline or {}).items() if t in self.tasks}
            return float(relative_delta(val, known, self.tasks))
        if self.name == "mean":
            values = [_signed(val[t][info.metric], info.higher_is_better)
                      for t, info in self.tasks.items()]
            return sum(values) / len(values)
        return _signed(val[self.task][self.metric], higher_is_better(self.metric))


def _signed(value: float, higher: bool) -> float:
    return float(value) if higher else -float(value)


class BestTracker:
    """The best epoch so far by a selector's score (ties keep the earlier epoch)."""

    def __init__(self, selector: Selector) -> None:
        self.selector = selector
        self.epoch: int | None = None  # 1-based, as in the history
        self.score = -math.inf
        self.val: dict[str, dict[str, float]] = {}
        self.state: dict[str, torch.Tensor] | None = None

    def update(self, epoch: int, val: Scores, model: torch.nn.Module) -> bool:
        """Record an epoch; True (and a copy of the weights) when it is the best so far."""
        score = self.selector.score(val)
        if not math.isfinite(score) or (self.epoch is not None and score <= self.score):
            return False
        self.epoch, self.score = epoch, score
        self.val = {t: dict(m) for t, m in val.items()}
        self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"select": self.selector.name, "epoch": self.epoch, "score": self.score,
                "val": self.val, "state": self.state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("select") != self.selector.name:
            raise MtlspecError(f"the checkpoint selected by {state.get('select')}, this run by "
                               f"{self.selector.name}; resume with the same --select")
        self.epoch, self.score = state["epoch"], float(state["score"])
        self.val, self.state = dict(state["val"]), state["state"]

    def summary(self) -> dict[str, Any]:
        """What the report says of the best epoch (no weights)."""
        return {"select": self.selector.name, "epoch": self.epoch,
                "score": self.score if self.epoch is not None else None,
                "val_metrics": self.val}
