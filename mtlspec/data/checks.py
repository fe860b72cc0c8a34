"""Checks that a data set's items follow the protocol: shapes, dtypes, finite values, class
ids in range. Bad data is a clear `MtlspecError` naming the split, item and task, never a
traceback from deep inside a loss."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import torch

from mtlspec.data.protocol import DataSplits
from mtlspec.data.tasks import CLASS_KINDS, TaskInfo
from mtlspec.errors import MtlspecError

# kind → the target's layout for one item, as error messages quote it
LAYOUTS = {
    "classification": "an integer class id (a scalar)",
    "multi-label": "a float [K] of 0/1 labels",
    "regression": "a float [C]",
    "segmentation": "integer class ids [H, W]",
    "depth": "a float [1, H, W]",
    "normals": "a float [3, H, W]",
    "edges": "a float [C, H, W]",
    "keypoints": "a float [C, H, W]",
}


def expected_shape(info: TaskInfo, size: tuple[int, int]) -> tuple[int, ...]:
    """The target shape of one item of this task for inputs of spatial `size` (H, W).

    Example:
        >>> from mtlspec.data.tasks import declare
        >>> expected_shape(declare("d", "depth"), (4, 6))
        (1, 4, 6)
    """
    if info.kind == "classification":
        return ()
    if info.kind in ("multi-label", "regression"):
        return (info.outputs,)
    if info.kind == "segmentation":
        return tuple(size)
    return (info.outputs, *size)


def check_batch(x: torch.Tensor, targets: Mapping[str, torch.Tensor],
                infos: Mapping[str, TaskInfo], where: str,
                declared: Collection[str] | None = None,
                missing: Mapping[str, torch.Tensor] | None = None) -> None:
    """Check a batch: `x` [N, C, H, W] and each task's targets [N, ...].

    Args:
        x: the inputs.
        targets: task → batched targets as the data set gave them.
        missing: task → bool [N], True where the item has no label (those are not checked).
        infos: the tasks that must be present.
        where: names the data in errors (`nyuv2:/d train items 0-7`).
        declared: every task the data set declares (targets of others are an error);
            None: the keys of `infos`.

    Raises:
        MtlspecError: the first problem found.
    """
    if not torch.is_tensor(x) or x.dim() != 4 or not x.is_floating_point():
        got = f"{tuple(x.shape[1:])} {x.dtype}" if torch.is_tensor(x) else type(x).__name__
        raise MtlspecError(f"{where}: x must be a float tensor [C, H, W], got {got}")
    if not torch.isfinite(x).all():
        raise MtlspecError(f"{where}: x holds NaN or infinite values")
    allowed = set(infos if declared is None else declared)
    extra = sorted(set(targets) - allowed)
    if extra:
        raise MtlspecError(f"{where}: targets for task(s) {', '.join(extra)} that the data set "
                           f"does not declare (declared: {', '.join(sorted(allowed))})")
    for task, info in infos.items():
        if task not in targets:
            raise MtlspecError(f"{where}: no target for task {task} (give a missing-label mask "
                               "instead of leaving it out)")
        y = targets[task]
        if missing is not None and task in missing and torch.is_tensor(y):
            y = y[~missing[task]]
        _check_target(y, info, tuple(x.shape[-2:]), f"{where}, task {task}")


def _check_target(y: torch.Tensor, info: TaskInfo, size: tuple[int, int], where: str) -> None:
    shape = expected_shape(info, size)
    if not torch.is_tensor(y) or tuple(y.shape[1:]) != shape:
        got = tuple(y.shape[1:]) if torch.is_tensor(y) else type(y).__name__
        raise MtlspecError(f"{where}: a {info.kind} target must be {LAYOUTS[info.kind]}, shape "
                           f"{shape} for inputs of size {size[0]}x{size[1]}; got {got}")
    ignore = info.ignore if info.ignore is not None else (-1 if info.kind in CLASS_KINDS
                                                           else None)
    if info.kind in ("classification", "segmentation"):
        ids = y.to(torch.float64)
        if torch.isnan(ids).any() or not torch.equal(ids, ids.round()):
            raise MtlspecError(f"{where}: class ids must be integers (NaN or fractions found)")
        bad = (ids != ignore) & ((ids < 0) | (ids >= info.outputs))
        if bad.any():
            value = int(ids[bad][0])
            raise MtlspecError(f"{where}: class id {value} out of range 0..{info.outputs - 1} "
                               f"(or {ignore:g} for no label)")
        return
    values = y.to(torch.float64)
    if info.kind == "multi-label":
        bad = (values != 0) & (values != 1) & (values != ignore)
        if bad.any():
            raise MtlspecError(f"{where}: multi-label targets must be 0 or 1 (or {ignore:g} for "
                               f"no label), found {float(values[bad][0]):g}")
        return
    if torch.isnan(values).any():
        mark = (f"mark pixels without a value with {info.ignore:g}" if info.ignore is not None
                else "mark a missing label with the item's missing-label mask")
        raise MtlspecError(f"{where}: NaN targets ({mark})")
    if torch.isinf(values).any():
        raise MtlspecError(f"{where}: infinite targets")
    if info.kind == "depth" and (values < 0).any():
        raise MtlspecError(f"{where}: negative depth (0 marks pixels without depth)")


def check_splits(data: DataSplits, declared: Collection[str] | None = None) -> None:
    """Check the first and last item of every split (the loader checks each batch later).

    Raises:
        MtlspecError: an empty split or a malformed item.
    """
    from mtlspec.data.serve import collate_items

    for split in ("train", "val", "test"):
        dataset = getattr(data, split)
        if len(dataset) == 0:
            raise MtlspecError(f"{data.name}: the {split} split is empty")
        for i in sorted({0, len(dataset) - 1}):
            where = f"{data.name}: {split} item {i}"
            collate_items([dataset[i]], data.tasks, where, check=True, declared=declared)
