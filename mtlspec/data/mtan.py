"""`nyuv2:DIR` and `cityscapes:DIR`: the preprocessed .npy folders of MTAN (Liu et al. 2019),
which LibMTL reads too. Nothing is downloaded; point `--data` at the folder you have.

    DIR/train/image/0.npy ...   [H, W, 3] float image
    DIR/train/label/0.npy ...   [H, W] class ids, -1 = unlabelled
    DIR/train/depth/0.npy ...   [H, W, 1] depth, 0 = no depth
    DIR/train/normal/0.npy ...  [H, W, 3] unit normals, 0 = none (NYUv2 only)
    DIR/val/...                 the same; MTAN and LibMTL report their results on it

NYUv2 is 288x384 with 13 classes (795 train, 654 val); Cityscapes 128x256 with 7 classes
(2975 / 500; MTAN's folders name the labels `label_7` and `label_19`, LibMTL's `label`).
Files are read when an item is needed; their headers (shapes) are all checked up front, the
values (NaN, class ids) as batches are formed. `val` and `test` both read `DIR/val` unless a
`DIR/test` folder exists.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mtlspec.data.protocol import DataSplits
from mtlspec.data.registry import register_dataset
from mtlspec.data.tasks import TaskInfo, declare
from mtlspec.errors import MtlspecError

NYUV2_LAYOUT = ("DIR/{train,val}/{image,label,depth,normal}/<i>.npy for i = 0..n-1: image "
                "[H, W, 3], label [H, W] (class ids 0-12, -1 = none), depth [H, W, 1] "
                "(0 = none), normal [H, W, 3] (MTAN/LibMTL's preprocessed NYUv2, 288x384)")
CITYSCAPES_LAYOUT = ("DIR/{train,val}/{image,label_7 (or label),depth}/<i>.npy for i = 0..n-1: "
                     "image [H, W, 3], label [H, W] (class ids 0-6, -1 = none), depth [H, W, 1] "
                     "(0 = none) (MTAN/LibMTL's preprocessed Cityscapes, 128x256; classes=19 "
                     "reads label_19)")
# array dims after (H, W), per file kind
_CHANNELS = {"image": (3,), "segment": (), "depth": (1,), "normal": (3,)}
_NUMBER = re.compile(r"(\d+)\.npy\Z")


class NpyFolder(Dataset):
    """One split of an MTAN-layout folder: item i reads `<folder>/<i>.npy` of each task.

    Args:
        root: the split's folder (`DIR/train`).
        folders: "image" and each task → its sub-folder.
        channels: "image" and each task → trailing array dims after (H, W) (() for labels).
        name, layout: for error messages.

    Raises:
        MtlspecError: a missing folder, files missing or numbered with gaps, unreadable
            arrays or shapes that differ from the layout or from each other.
    """

    def __init__(self, root: Path, folders: dict[str, str], channels: dict[str, tuple],
                 name: str, layout: str) -> None:
        self.root, self.folders, self.name, self.layout = root, folders, name, layout
        counts = {key: _count(root / sub, name, layout) for key, sub in folders.items()}
        if len(set(counts.values())) != 1:
            shown = ", ".join(f"{folders[k]}/ {n}" for k, n in counts.items())
            raise MtlspecError(f"{name}: {root} has different file counts ({shown}); expected "
                               f"{layout}")
        self.count = next(iter(counts.values()))
        self.size = self._check_headers(channels)

    def _check_headers(self, channels: dict[str, tuple]) -> tuple[int, int]:
        size = None
        for i in range(self.count):
            for key, sub in self.folders.items():
                path = self.root / sub / f"{i}.npy"
                try:
                    array = np.load(path, mmap_mode="r", allow_pickle=False)
                except (OSError, ValueError) as err:
                    raise MtlspecError(f"{self.name}: cannot read {path}: {err}; expected "
                                       f"{self.layout}") from None
                shape = tuple(array.shape)
                size = size or shape[:2]
                want = (*size, *channels[key])
                if shape != want or array.dtype.kind not in "fiub":
                    raise MtlspecError(
                        f"{self.name}: {path} holds {array.dtype} {list(shape)}, expected "
                        f"{list(want)} (the {key} array; sizes follow {self.root}/image/0.npy); "
                        f"layout: {self.layout}")
        return size

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if not 0 <= i < self.count:
            raise IndexError(i)
        arrays = {key: np.load(self.root / sub / f"{i}.npy", allow_pickle=False)
                  for key, sub in self.folders.items()}
        image = torch.from_numpy(np.ascontiguousarray(np.moveaxis(arrays.pop("image"), -1, 0),
                                                      dtype=np.float32))
        targets = {}
        for task, array in arrays.items():
            if array.ndim == 3:
                array = np.moveaxis(array, -1, 0)
            targets[task] = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)
                                              if task != "segment" else array.astype(np.float64))
        return image, targets


def _count(folder: Path, name: str, layout: str) -> int:
    if not folder.is_dir():
        raise MtlspecError(f"{name}: missing folder {folder}; expected {layout}")
    numbers = sorted(int(m.group(1)) for p in folder.iterdir() if (m := _NUMBER.match(p.name)))
    if not numbers:
        raise MtlspecError(f"{name}: no <i>.npy files in {folder}; expected {layout}")
    if numbers != list(range(len(numbers))):
        gap = next(i for i, n in enumerate(numbers) if n != i)
        raise MtlspecError(f"{name}: {folder} lacks {gap}.npy (files must be numbered 0..n-1); "
                           f"expected {layout}")
    return len(numbers)


def _splits(path: str, name: str, layout: str, folders: dict[str, str],
            infos: dict[str, TaskInfo], tasks: Sequence[str] | None) -> DataSplits:
    root = Path(path).expanduser()
    if not root.is_dir():
        raise MtlspecError(f"{name}: {root} is not a folder; expected {layout}")
    chosen = list(infos if tasks is None else tasks)
    unknown = [t for t in chosen if t not in infos]
    if unknown:
        raise MtlspecError(f"{name}: unknown task(s) {', '.join(unknown)}; its tasks: "
                           f"{', '.join(infos)}")
    wanted = {"image": folders["image"], **{t: folders[t] for t in chosen}}
    channels = {k: _CHANNELS[k] for k in wanted}
    label = f"{name}:{path}"
    train = NpyFolder(root / "train", wanted, channels, label, layout)
    val = NpyFolder(root / "val", wanted, channels, label, layout)
    test = (NpyFolder(root / "test", wanted, channels, label, layout)
            if (root / "test").is_dir() else val)
    if val.size != train.size or test.size != train.size:
        raise MtlspecError(f"{label}: train images are {train.size[0]}x{train.size[1]} but "
                           f"val/test ones {val.size[0]}x{val.size[1]}; expected {layout}")
    return DataSplits(train, val, test, tasks={t: infos[t] for t in chosen},
                      input_shape=(3, *train.size), name=label,
                      options={"path": str(root)})


@register_dataset("nyuv2", tasks=("segment", "depth", "normal"), folder=True,
                  description="NYUv2 in MTAN's .npy layout: segment (13), depth, normal",
                  layout=NYUV2_LAYOUT)
def nyuv2(path: str, *, tasks: Sequence[str] | None = None) -> DataSplits:
    """NYUv2 from MTAN/LibMTL's preprocessed folder (see the module docstring).

    Raises:
        MtlspecError: the folder does not follow the layout, or an unknown task.
    """
    folders = {"image": "image", "segment": "label", "depth": "depth", "normal": "normal"}
    return _splits(path, "nyuv2", NYUV2_LAYOUT, folders, nyuv2_tasks(), tasks)


def nyuv2_tasks() -> dict[str, TaskInfo]:
    """NYUv2's task declarations (13-class segmentation, depth, normals)."""
    return {"segment": declare("segment", "segmentation", classes=13,
                               description="13 semantic classes"),
            "depth": declare("depth", "depth"), "normal": declare("normal", "normals")}


@register_dataset("cityscapes", tasks=("segment", "depth"), folder=True,
                  description="Cityscapes in MTAN's .npy layout: segment (7 or 19), depth",
                  layout=CITYSCAPES_LAYOUT)
def cityscapes(path: str, *, tasks: Sequence[str] | None = None,
               classes: int = 7) -> DataSplits:
    """Cityscapes from MTAN/LibMTL's preprocessed folder (see the module docstring).

    Args:
        path: the folder.
        tasks: segment and/or depth.
        classes: 7 (`label_7/`, or LibMTL's `label/`) or 19 (`label_19/`).

    Raises:
        MtlspecError: the folder does not follow the layout, or a bad option.
    """
    if classes not in (7, 19):
        raise MtlspecError(f"cityscapes: classes must be 7 or 19, got {classes}")
    root = Path(path).expanduser()
    label = f"label_{classes}"
    if classes == 7 and not (root / "train" / label).is_dir() and (root / "train" /
                                                                   "label").is_dir():
        label = "label"
    infos = {"segment": declare("segment", "segmentation", classes=classes,
                                description=f"{classes} semantic classes"),
             "depth": declare("depth", "depth")}
    folders = {"image": "image", "segment": label, "depth": "depth"}
    return _splits(path, "cityscapes", CITYSCAPES_LAYOUT, folders, infos, tasks)
