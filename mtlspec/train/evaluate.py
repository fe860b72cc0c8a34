"""Scoring a model on a split (each task's metric, item-weighted), and checking that a model
fits a data set; batches of a map-style data set, moved to the model's device."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

from mtlspec.errors import MtlspecError
from mtlspec.train.data import DataSplits, TaskInfo
from mtlspec.train.losses import metric_for


def device_of(model: nn.Module) -> torch.device:
    """Where the model's parameters live (the CPU for a model without any)."""
    return next(iter(model.parameters()), torch.empty(0)).device


def batch_of(dataset: Dataset, indices: torch.Tensor,
           device: torch.device | None = None) -> tuple[torch.Tensor, dict]:
    gather = getattr(dataset, "batch", None)
    x, y = gather(indices) if callable(gather) else default_collate(
        [dataset[int(i)] for i in indices])
    if device is None or device.type == "cpu":
        return x, y
    return x.to(device), {t: v.to(device) for t, v in y.items()}


def batches(n: int, batch_size: int, order: torch.Tensor, start: int) -> Iterator[torch.Tensor]:
    for b in range(start, (n + batch_size - 1) // batch_size):
        yield order[b * batch_size:(b + 1) * batch_size]


def model_tasks(model: nn.Module, data: DataSplits) -> list[str]:
    """The tasks a model predicts (its `task_names`, else one forward pass), checked
    against the data set: every one must be a data task with a matching output size.

    Raises:
        MtlspecError: a task the data set lacks, or a head whose output size does not match.
    """
    x, _ = batch_of(data.train, torch.arange(min(2, len(data.train))), device_of(model))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        model.train(was_training)
    names = list(getattr(model, "task_names", None) or out)
    missing = [t for t in names if t not in data.tasks]
    if missing:
        raise MtlspecError(
            f"the model predicts task(s) {', '.join(missing)} that data set "
            f"{data.name or '?'} does not have; its tasks: {', '.join(data.tasks)}")
    for t in names:
        info, got = data.tasks[t], out[t].shape
        size = got[1] if len(got) > 1 else 1
        if size != info.outputs or len(got) > 2:
            raise MtlspecError(
                f"task {t}: the head outputs shape {tuple(got[1:])} per item but data set "
                f"{data.name or '?'} needs {info.outputs} ({info.kind}); write "
                + (f"classes={info.outputs}" if info.kind == "classification" else "out=1")
                + " in the head")
    return names


def evaluate(model: nn.Module, dataset: Dataset, tasks: Mapping[str, TaskInfo], *,
             batch_size: int = 256) -> dict[str, float]:
    """Each task's metric on a data set (eval mode, no gradients), item-weighted mean.

    Example:
        >>> from mtlspec import load_model
        >>> from mtlspec.train.data import load_data
        >>> data = load_data("multidigits", tasks=["left", "right", "parity"], train_size=32,
        ...                  val_size=32, test_size=32)
        >>> scores = evaluate(load_model("specs/conal_multidigits.mtl", seed=0), data.test,
        ...                   data.tasks)
        >>> sorted(scores), all(0 <= v <= 1 for v in scores.values())
        (['left', 'parity', 'right'], True)
    """
    was_training = model.training
    model.eval()
    sums = dict.fromkeys(tasks, 0.0)
    n = len(dataset)
    device = device_of(model)
    try:
        with torch.no_grad():
            for idx in batches(n, batch_size, torch.arange(n), 0):
                x, y = batch_of(dataset, idx, device)
                out = model(x)
                for t, info in tasks.items():
                    sums[t] += metric_for(info)(out[t], y[t]) * len(idx)
    finally:
        model.train(was_training)
    return {t: s / max(n, 1) for t, s in sums.items()}
