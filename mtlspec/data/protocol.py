"""The multi-task data set protocol.

A data set is any `torch.utils.data.Dataset` whose item `i` is

    (x, {task: target})                  every task labelled, or
    (x, {task: target}, {task: missing})  `missing[task]` True when the item has no label

with `x` a float32 tensor [C, H, W] and each target laid out as its task's kind says
(`mtlspec.data.tasks`). A missing label is replaced by the task's ignore value when batches
are put together, so losses and metrics skip it. A data set may also offer
`batch(indices) -> (x, {task: target})`, gathering a whole batch at once (in-memory data sets
do; the loader then skips per-item collation).

`DataSplits` bundles the train/val/test data sets with one `TaskInfo` per task; `load_data`
(`mtlspec.data.registry`) returns one for every supported `--data`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mtlspec.data.tasks import TaskInfo


class MultiTaskDataset(Dataset):
    """In-memory multi-task data: `x` [N, C, H, W] float32 and one target tensor per task.

    `batch(indices)` gathers a whole batch with one indexing op per tensor, which the loader
    uses instead of collating items one by one.

    Example:
        >>> d = MultiTaskDataset(torch.zeros(4, 1, 2, 2), {"a": torch.arange(4)})
        >>> d.batch(torch.tensor([3, 1]))[1]["a"].tolist()
        [3, 1]
    """

    def __init__(self, x: torch.Tensor, targets: dict[str, torch.Tensor],
                 sources: np.ndarray | None = None) -> None:
        for task, y in targets.items():
            if len(y) != len(x):
                raise ValueError(f"task {task!r} has {len(y)} targets for {len(x)} inputs")
        self.x = x
        self.targets = targets
        self.sources = sources  # per item, what it was made from (MultiDigits: digit images)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self.x[i], {t: y[i] for t, y in self.targets.items()}

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Inputs and targets of the items at `indices` (a 1-D int64 tensor)."""
        return self.x[indices], {t: y[indices] for t, y in self.targets.items()}

    def subset(self, n: int) -> MultiTaskDataset:
        """The first `n` items."""
        sources = None if self.sources is None else self.sources[:n]
        return MultiTaskDataset(self.x[:n], {t: y[:n] for t, y in self.targets.items()}, sources)

    def select(self, tasks: Sequence[str]) -> MultiTaskDataset:
        """The same items with only `tasks`' targets (shared tensors, no copy)."""
        return MultiTaskDataset(self.x, {t: self.targets[t] for t in tasks}, self.sources)


@dataclass
class DataSplits:
    """Train/val/test splits of one data set and what each task is.

    Attributes:
        train, val, test: data sets following the protocol above.
        tasks: one `TaskInfo` per task, in the order training uses.
        input_shape: (C, H, W) of `x` (None: read from the first training item).
        name: shown in reports (`nyuv2:/data/nyu`).
        options: what built it (seed, sizes, ...), recorded in checkpoints.
        augment: applied to training items only (`mtlspec.data.augment.DenseAugment`).
        trusted: True when the items are known to be well formed (generated here), so the
            loader skips its per-batch checks.
    """

    train: Dataset
    val: Dataset
    test: Dataset
    tasks: dict[str, TaskInfo]
    input_shape: tuple[int, int, int] | None = None
    name: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    augment: Any = None
    trusted: bool = False

    def __post_init__(self) -> None:
        if self.input_shape is None and len(self.train):
            self.input_shape = tuple(self.train[0][0].shape)
