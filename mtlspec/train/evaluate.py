"""Scoring a model on a split, and checking that a model fits a data set.

`evaluate_all` accumulates every metric of every task over the whole split
(`mtlspec.train.metrics`), so the batch size never changes the numbers; `evaluate` keeps each
task's main metric (what plans and searches compare).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.utils.data import Dataset

from mtlspec.data.protocol import DataSplits
from mtlspec.data.serve import serve, take
from mtlspec.data.tasks import TaskInfo
from mtlspec.errors import MtlspecError
from mtlspec.train.metrics import TaskMetrics


def device_of(model: nn.Module) -> torch.device:
    """Where the model's parameters live (the CPU for a model without any)."""
    return next(iter(model.parameters()), torch.empty(0)).device


def sample_batch(data: DataSplits, n: int, device: torch.device | None = None,
                 infos: Mapping[str, TaskInfo] | None = None
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The first `n` training items as a batch (no augmentation, no RNG drawn)."""
    x, y = take(data.train, range(min(n, len(data.train))), infos or data.tasks,
                trusted=data.trusted, name=f"{data.name} train")
    if device is None or device.type == "cpu":
        return x, y
    return x.to(device), {t: v.to(device) for t, v in y.items()}


def _expected(info: TaskInfo, target: torch.Tensor) -> tuple[int, ...]:
    """The prediction shape per item a target needs."""
    if not info.dense:
        return (info.outputs,)
    return (info.outputs, *target.shape[-2:])


def model_tasks(model: nn.Module, data: DataSplits) -> list[str]:
    """The tasks a model predicts (its `task_names`, else one forward pass), checked
    against the data set: every one must be a data task with a matching output shape.

    Raises:
        MtlspecError: a task the data set lacks, or a head whose output shape does not match.
    """
    x, y = sample_batch(data, 2, device_of(model))
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
        info, got = data.tasks[t], tuple(out[t].shape[1:])
        need = _expected(info, y[t])
        if got == need or (not info.dense and got in ((), (1,)) and need == (1,)):
            continue
        if not info.dense:
            shown = f"({got[0]},)" if len(got) == 1 else str(got)
            raise MtlspecError(
                f"task {t}: the head outputs shape {shown} per item but data set "
                f"{data.name or '?'} needs {info.outputs} ({info.kind}); write "
                + (f"classes={info.outputs}" if info.kind == "classification"
                   else f"out={info.outputs}") + " in the head")
        if len(got) == 3 and got[0] == need[0]:
            raise MtlspecError(
                f"task {t}: the head predicts {got[1]}x{got[2]} maps but the targets of data "
                f"set {data.name or '?'} are {need[1]}x{need[2]}; give the spec the data's "
                "input size or call mtlspec.compile.heads.set_output_size(model, "
                f"({need[1]}, {need[2]}))")
        raise MtlspecError(
            f"task {t}: the head outputs shape {got} per item but data set {data.name or '?'} "
            f"needs {need} ({info.kind}, one prediction per pixel); use a dense head "
            f"(conv or aspp) with {'classes' if info.kind == 'segmentation' else 'out'}="
            f"{info.outputs}")
    return names


def evaluate_all(model: nn.Module, dataset: Dataset, tasks: Mapping[str, TaskInfo], *,
                 batch_size: int = 256, trusted: bool = False, name: str = "",
                 workers: int = 0) -> dict[str, dict[str, float]]:
    """Every metric of every task over a whole split (eval mode, no gradients).

    Example:
        >>> from mtlspec import load_model
        >>> from mtlspec.data import load_data
        >>> data = load_data("scenes", tasks=["segment", "depth"], train_size=2, val_size=2,
        ...                  test_size=4, size=16)
        >>> model = load_model("specs/scenes_resnet.mtl", seed=0)
        >>> from mtlspec.compile.heads import set_output_size
        >>> set_output_size(model, (16, 16))  # the spec says 64x64; these images are 16x16
        4
        >>> scores = evaluate_all(model, data.test, data.tasks)
        >>> {t: sorted(m) for t, m in scores.items()}
        {'segment': ['miou', 'pixel_acc'], 'depth': ['abs_err', 'rel_err']}
    """
    was_training = model.training
    model.eval()
    metrics = {t: TaskMetrics(info) for t, info in tasks.items()}
    try:
        with torch.no_grad():
            for x, y in serve(dataset, tasks, batch_size=batch_size, device=device_of(model),
                              trusted=trusted, name=name, workers=workers):
                out = model(x)
                for t, acc in metrics.items():
                    acc.update(out[t], y[t])
    finally:
        model.train(was_training)
    return {t: acc.compute() for t, acc in metrics.items()}


def evaluate(model: nn.Module, dataset: Dataset, tasks: Mapping[str, TaskInfo], *,
             batch_size: int = 256, **kwargs) -> dict[str, float]:
    """Each task's main metric on a data set (see `evaluate_all`).

    Example:
        >>> from mtlspec import load_model
        >>> from mtlspec.data import load_data
        >>> data = load_data("multidigits", train_size=8, val_size=8, test_size=16)
        >>> scores = evaluate(load_model("specs/conal_multidigits.mtl", seed=0), data.test,
        ...                   data.tasks)
        >>> sorted(scores), all(0 <= v <= 1 for v in scores.values())
        (['left', 'parity', 'right'], True)
    """
    scores = evaluate_all(model, dataset, tasks, batch_size=batch_size, **kwargs)
    return {t: scores[t][info.metric] for t, info in tasks.items()}
