"""MultiDigits: MultiMNIST made from scikit-learn's bundled `load_digits` (no download).

1797 8x8 images; two digits side by side (optionally overlapping) in a 1x8x16 image. The digit
images themselves are divided between train, val and test, so a test image never contains a
digit image seen in training. Nine image-level tasks (`MULTIDIGITS_TASKS`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import torch

from mtlspec.data.protocol import DataSplits, MultiTaskDataset
from mtlspec.data.registry import register_dataset
from mtlspec.data.tasks import TaskInfo
from mtlspec.errors import MtlspecError

_CLS = "classification"
_REG = "regression"


def _cls(name: str, classes: int, description: str) -> TaskInfo:
    return TaskInfo(name, _CLS, classes, "cross_entropy", "accuracy", True, description)


def _reg(name: str, loss: str, description: str) -> TaskInfo:
    return TaskInfo(name, _REG, 1, loss, "mae", False, description)


# task → (info, label function of the two digit labels)
MULTIDIGITS_TASKS: dict[str, tuple[TaskInfo, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
    "left": (_cls("left", 10, "the left digit"), lambda a, b: a),
    "right": (_cls("right", 10, "the right digit"), lambda a, b: b),
    "parity": (_cls("parity", 2, "1 when left + right is odd"), lambda a, b: (a + b) % 2),
    "greater": (_cls("greater", 2, "1 when left > right"), lambda a, b: (a > b).astype(int)),
    "has7": (_cls("has7", 2, "1 when either digit is a 7"),
             lambda a, b: ((a == 7) | (b == 7)).astype(int)),
    "max": (_cls("max", 10, "the larger digit"), np.maximum),
    "equal": (_cls("equal", 2, "1 when both digits are the same"),
              lambda a, b: (a == b).astype(int)),
    "sum": (_reg("sum", "l1", "left + right (0..18), L1 loss"), lambda a, b: a + b),
    "absdiff": (_reg("absdiff", "mse", "|left - right| (0..9), MSE loss"),
                lambda a, b: np.abs(a - b)),
}
MULTIDIGITS_DEFAULT = ("left", "right", "parity")
_IMAGE_FRACTIONS = (0.6, 0.2, 0.2)  # of each digit class's images: train, val, test


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """load_digits' images scaled to [0, 1] and their labels (read once per process)."""
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int64)


def _image_pools(labels: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices of the source images of each split, stratified by digit (disjoint)."""
    pools: list[list[np.ndarray]] = [[], [], []]
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        n_train = round(len(idx) * _IMAGE_FRACTIONS[0])
        n_val = round(len(idx) * _IMAGE_FRACTIONS[1])
        for pool, part in zip(pools, np.split(idx, [n_train, n_train + n_val]), strict=True):
            pool.append(part)
    return [np.sort(np.concatenate(p)) for p in pools]


def compose_pair(left: np.ndarray, right: np.ndarray, overlap: int = 0) -> np.ndarray:
    """Place two [N, 8, 8] images side by side in [N, 8, 16]; with `overlap` > 0 the right one
    is shifted left by that many columns and overlapping pixels take the maximum.

    Example:
        >>> compose_pair(np.ones((1, 8, 8)), np.zeros((1, 8, 8))).shape
        (1, 8, 16)
    """
    canvas = np.zeros((len(left), 8, 16), dtype=np.float32)
    canvas[:, :, :8] = left
    start = 8 - overlap
    canvas[:, :, start:start + 8] = np.maximum(canvas[:, :, start:start + 8], right)
    return canvas


def _make_split(images: np.ndarray, labels: np.ndarray, pool: np.ndarray, n: int,
                tasks: Sequence[str], overlap: int, rng: np.random.Generator) -> MultiTaskDataset:
    first = rng.choice(pool, size=n)
    second = rng.choice(pool, size=n)
    x = compose_pair(images[first], images[second], overlap)[:, None]  # [N, 1, 8, 16]
    a, b = labels[first], labels[second]
    targets: dict[str, torch.Tensor] = {}
    for task in tasks:
        info, label = MULTIDIGITS_TASKS[task]
        values = np.asarray(label(a, b))
        if info.kind == _CLS:
            targets[task] = torch.from_numpy(values.astype(np.int64))
        else:
            targets[task] = torch.from_numpy(values.astype(np.float32)).reshape(n, 1)
    return MultiTaskDataset(torch.from_numpy(x), targets, np.stack([first, second], axis=1))


@register_dataset("multidigits", tasks=tuple(MULTIDIGITS_TASKS),
                  description="two load_digits digits side by side, 1x8x16; 9 image-level tasks")
def multidigits(
    *,
    tasks: Sequence[str] | None = None,
    seed: int = 0,
    train_size: int = 6000,
    val_size: int = 1000,
    test_size: int = 2000,
    overlap: int = 0,
) -> DataSplits:
    """MultiDigits splits: pairs of `load_digits` images, 1x8x16, pixel values in [0, 1].

    Args:
        tasks: any of `MULTIDIGITS_TASKS` (left, right, parity, greater, has7, max, equal,
            sum, absdiff); default left, right, parity.
        seed: seeds which digit images go to which split and which pairs are drawn.
        train_size, val_size, test_size: number of pairs per split.
        overlap: columns (0-7) by which the right digit overlaps the left one.

    Raises:
        MtlspecError: unknown or repeated task, or `overlap` out of range.

    Example:
        >>> multidigits(tasks=["sum"], train_size=10).train.targets["sum"].shape
        torch.Size([10, 1])
    """
    chosen = list(MULTIDIGITS_DEFAULT if tasks is None else tasks)
    unknown = [t for t in chosen if t not in MULTIDIGITS_TASKS]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        what = f"unknown task(s) {', '.join(unknown)}" if unknown else "tasks must be distinct"
        raise MtlspecError(f"multidigits: {what}; available tasks: "
                           f"{', '.join(MULTIDIGITS_TASKS)}")
    if not 0 <= overlap <= 7:
        raise MtlspecError(f"multidigits: overlap must be 0-7 columns, got {overlap}")
    images, labels = _digits()
    image_rng, *split_rngs = (np.random.default_rng(s)
                              for s in np.random.SeedSequence(seed).spawn(4))
    pools = _image_pools(labels, image_rng)
    splits = [_make_split(images, labels, pool, n, chosen, overlap, rng)
              for pool, n, rng in zip(pools, (train_size, val_size, test_size), split_rngs,
                                      strict=True)]
    return DataSplits(*splits, tasks={t: MULTIDIGITS_TASKS[t][0] for t in chosen},
                      input_shape=(1, 8, 16), name="multidigits",
                      options={"overlap": overlap, "seed": seed}, trusted=True)


# The data set of one split, as the contract calls it (items: (x, {task: target})).
MultiDigits = MultiTaskDataset
