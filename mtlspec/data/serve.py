"""Serving a data set in batches through `torch.utils.data.DataLoader`.

The order of the items is given (the training loop draws epoch e's permutation from
(seed, e)), and serving can start at any batch of it, so a run stopped mid-epoch resumes with
exactly the batches it would have seen. Augmentation draws its randomness from
(seed, epoch, item index), never from a worker's state: any number of workers gives the same
batches. The loader gets its own torch generator, so iterating never moves the global RNG
(dropout draws from that).

Batches are (x [N, C, H, W], {task: targets [N, ...]}) with missing labels replaced by their
task's ignore value. An error in a worker comes back as a clear `MtlspecError`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from mtlspec.data.tasks import CLASS_KINDS, TaskInfo, fill_value
from mtlspec.errors import MtlspecError

Batch = tuple[torch.Tensor, dict[str, torch.Tensor]]


@dataclass(frozen=True)
class _Failure:
    """A worker's `MtlspecError`, carried back to the main process as plain text."""

    message: str


def collate_items(items: Sequence[Any], infos: Mapping[str, TaskInfo], where: str, *,
                  check: bool = False, declared: Collection[str] | None = None) -> Batch:
    """Stack protocol items into a batch, replacing missing labels by ignore values.

    Args:
        items: `(x, targets)` or `(x, targets, missing)` tuples.
        infos: the tasks to keep (other targets are dropped).
        where: names the items in errors.
        check: check shapes and values first (`mtlspec.data.checks.check_batch`).
        declared: the tasks the data set declares (for `check`).

    Raises:
        MtlspecError: an item is not a protocol item, or (with `check`) is malformed.

    Example:
        >>> from mtlspec.data.tasks import declare
        >>> infos = {"c": declare("c", "classification", classes=3)}
        >>> items = [(torch.zeros(1, 2, 2), {"c": 2}), (torch.zeros(1, 2, 2), {"c": 1},
        ...                                              {"c": True})]
        >>> collate_items(items, infos, "doc")[1]["c"].tolist()
        [2, -1]
    """
    xs, targets, missing = [], {t: [] for t in infos}, {t: [] for t in infos}
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3) or not isinstance(
                item[1], Mapping) or (len(item) == 3 and not isinstance(item[2], Mapping)):
            raise MtlspecError(f"{where}: an item must be (x, {{task: target}}) or (x, "
                               f"{{task: target}}, {{task: missing}}), got {type(item).__name__}")
        if check and declared is not None:
            extra = sorted(set(item[1]) - set(declared))
            if extra:
                raise MtlspecError(f"{where}: targets for task(s) {', '.join(extra)} that the "
                                   f"data set does not declare ({', '.join(sorted(declared))})")
        xs.append(torch.as_tensor(item[0]))
        for task in infos:
            if task not in item[1]:
                raise MtlspecError(f"{where}: no target for task {task} (mark it missing "
                                   "instead of leaving it out)")
            targets[task].append(torch.as_tensor(item[1][task]))
            missing[task].append(bool(item[2].get(task, False)) if len(item) == 3 else False)
    try:
        x = torch.stack(xs)
        batch = {t: torch.stack(v) for t, v in targets.items()}
    except (RuntimeError, TypeError) as err:
        raise MtlspecError(f"{where}: items of different shapes cannot form a batch ({err})"
                           ) from None
    masks = {t: torch.tensor(m, dtype=torch.bool) for t, m in missing.items()}
    if check:
        from mtlspec.data.checks import check_batch

        check_batch(x, batch, infos, where, declared, masks)
    return x.float(), {t: _fold(batch[t], masks[t], info) for t, info in infos.items()}


def _fold(y: torch.Tensor, missing: torch.Tensor, info: TaskInfo) -> torch.Tensor:
    """Targets in their kind's dtype, missing rows set to the ignore value."""
    y = y.long() if info.kind in ("classification", "segmentation") else y.float()
    if missing.any():
        y = y.clone()
        y[missing] = fill_value(info) if info.kind not in CLASS_KINDS else int(fill_value(info))
    return y


class _Served(Dataset):
    """The data set as the loader fetches it: whole batches, augmented and checked."""

    def __init__(self, dataset: Dataset, infos: Mapping[str, TaskInfo], *, augment: Any,
                 seed: int, epoch: int, trusted: bool, declared: Collection[str] | None,
                 name: str) -> None:
        self.dataset, self.infos, self.augment = dataset, dict(infos), augment
        self.seed, self.epoch, self.trusted = seed, epoch, trusted
        self.declared, self.name = declared, name

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]) -> Batch | _Failure:
        try:
            return self._gather(indices)
        except MtlspecError as err:  # crosses the worker boundary as text
            return _Failure(str(err))

    def _gather(self, indices: list[int]) -> Batch:
        where = f"{self.name} items {indices[0]}..{indices[-1]}" if indices else self.name
        gather = getattr(self.dataset, "batch", None)
        if self.augment is None and callable(gather):
            x, y = gather(torch.tensor(indices, dtype=torch.int64))
            y = {t: y[t] for t in self.infos}
            if not self.trusted:
                from mtlspec.data.checks import check_batch

                check_batch(x, y, self.infos, where, self.declared)
            none = torch.zeros(len(x), dtype=torch.bool)
            return x.float(), {t: _fold(v, none, self.infos[t]) for t, v in y.items()}
        items = [self.dataset[i] for i in indices]
        if self.augment is not None:
            items = [self.augment(item, self.infos, augment_rng(self.seed, self.epoch, i))
                     for item, i in zip(items, indices, strict=True)]
        return collate_items(items, self.infos, where, check=not self.trusted,
                             declared=self.declared)


def take(dataset: Dataset, indices: Sequence[int] | torch.Tensor,
         infos: Mapping[str, TaskInfo], *, trusted: bool = False, name: str = "") -> Batch:
    """One batch of the items at `indices`, in this process (no augmentation): what `serve`
    yields, for code that picks its own items (searches, probes).

    Raises:
        MtlspecError: malformed items (unless `trusted`).

    Example:
        >>> from mtlspec.data import load_data
        >>> data = load_data("multidigits", tasks=["left"], train_size=10)
        >>> take(data.train, [3, 1], data.tasks)[1]["left"].shape
        torch.Size([2])
    """
    served = _Served(dataset, infos, augment=None, seed=0, epoch=0, trusted=trusted,
                     declared=None, name=name or type(dataset).__name__)
    return served._gather([int(i) for i in indices])


def augment_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The augmentation randomness of one item in one epoch (independent of workers)."""
    return np.random.default_rng(np.random.SeedSequence([seed, epoch, index]))


class _Order(Sampler):
    """Batches of `order` from batch `start` on."""

    def __init__(self, order: torch.Tensor, batch_size: int, start: int, drop_last: bool):
        self.order, self.batch_size, self.start = order, batch_size, start
        n = len(order)
        self.count = n // batch_size if drop_last else (n + batch_size - 1) // batch_size

    def __len__(self) -> int:
        return max(self.count - self.start, 0)

    def __iter__(self) -> Iterator[list[int]]:
        for b in range(self.start, self.count):
            yield self.order[b * self.batch_size:(b + 1) * self.batch_size].tolist()


def _as_is(batch: Any) -> Any:
    return batch


class Batches:
    """Iterate over (x, targets) batches; `len()` is the number of batches left.

    Built by `serve`; raises `MtlspecError` for bad data found while loading.
    """

    def __init__(self, loader: DataLoader, device: torch.device | None) -> None:
        self.loader, self.device = loader, device

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Batch]:
        move = self.device is not None and self.device.type != "cpu"
        for batch in self.loader:
            if isinstance(batch, _Failure):
                raise MtlspecError(batch.message)
            x, y = batch
            if move:
                blocking = not self.loader.pin_memory
                x = x.to(self.device, non_blocking=not blocking)
                y = {t: v.to(self.device, non_blocking=not blocking) for t, v in y.items()}
            yield x, y


def serve(dataset: Dataset, infos: Mapping[str, TaskInfo], *, batch_size: int,
          order: torch.Tensor | None = None, start_batch: int = 0, epoch: int = 0,
          seed: int = 0, augment: Any = None, workers: int = 0,
          device: torch.device | None = None, trusted: bool = False,
          declared: Collection[str] | None = None, name: str = "",
          drop_last: bool = False) -> Batches:
    """Batches of `dataset` in `order` (default: as stored), through a DataLoader.

    Args:
        dataset: a protocol data set.
        infos: the tasks to serve.
        batch_size: items per batch (the last one may be smaller unless `drop_last`).
        order: a permutation of the item indices (None: 0..n-1).
        start_batch: skip the first batches of `order` (resuming mid-epoch).
        epoch, seed: seed the augmentation (item i of epoch e always gets the same one).
        augment: called as `augment(item, infos, rng)` on each item, or None.
        workers: DataLoader worker processes (0: load in this process).
        device: where batches go; memory is pinned when it is a GPU.
        trusted: skip the per-batch checks (data generated here).
        declared: every task the data set declares (targets of others are an error).
        name: names the data in errors.

    Example:
        >>> from mtlspec.data import load_data
        >>> data = load_data("multidigits", tasks=["left"], train_size=10)
        >>> [len(x) for x, _ in serve(data.train, data.tasks, batch_size=4)]
        [4, 4, 2]
    """
    if order is None:
        order = torch.arange(len(dataset))
    pin = device is not None and device.type == "cuda"
    served = _Served(dataset, infos, augment=augment, seed=seed, epoch=epoch, trusted=trusted,
                     declared=declared, name=name or type(dataset).__name__)
    loader = DataLoader(served, batch_sampler=_Order(order, batch_size, start_batch, drop_last),
                        collate_fn=_as_is, num_workers=workers, pin_memory=pin,
                        generator=torch.Generator())
    return Batches(loader, device)


def serve_splits(data: Any, split: str, **kwargs: Any) -> Batches:
    """`serve` one split of a `DataSplits` with its tasks, name and trust (augmenting only the
    training split)."""
    kwargs.setdefault("augment", data.augment if split == "train" else None)
    return serve(getattr(data, split), kwargs.pop("infos", data.tasks), trusted=data.trusted,
                 declared=kwargs.pop("declared", None), name=f"{data.name} {split}", **kwargs)
