"""`celeba:DIR`: CelebA's 40 binary face attributes (the MGDA-UB paper's 40-task problem).

    DIR/img_align_celeba/000001.jpg ...  the aligned 178x218 images
    DIR/list_attr_celeba.txt             line 1: image count; line 2: the 40 attribute names;
                                         then `000001.jpg -1 1 ...` (1 = has it, -1 = not)
    DIR/list_eval_partition.txt          `000001.jpg 0` (0 train, 1 val, 2 test)

Each attribute is a two-class classification task named in lower case
(`5_o_Clock_Shadow` → `five_o_clock_shadow`); `attributes` is all 40 as one multi-label task.
A 0 in the attribute list is read as "no label" for that image. Images are decoded (PIL) and
resized to `size` x `size` (64, as in MGDA-UB) when an item is read.
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

LAYOUT = ("DIR/img_align_celeba/<name>.jpg, DIR/list_attr_celeba.txt (count, 40 attribute "
          "names, then `<name>.jpg` and 40 values of 1/-1 per line) and "
          "DIR/list_eval_partition.txt (`<name>.jpg 0|1|2` per line)")
ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup",
    "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns",
    "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)


def task_name(attribute: str) -> str:
    """A spec-friendly task name for an attribute.

    Example:
        >>> task_name("5_o_Clock_Shadow"), task_name("Wearing_Hat")
        ('five_o_clock_shadow', 'wearing_hat')
    """
    name = re.sub(r"[^0-9a-z_]", "_", attribute.lower())
    return "five" + name[1:] if name.startswith("5_") else (
        f"attr_{name}" if name[:1].isdigit() else name)


TASKS = (*(task_name(a) for a in ATTRIBUTES), "attributes")


class CelebAImages(Dataset):
    """One split: image files and their attribute rows (1, 0 = absent, -1 = no label)."""

    def __init__(self, folder: Path, files: list[str], labels: np.ndarray,
                 names: Sequence[str], tasks: Sequence[str], size: int, where: str) -> None:
        self.folder, self.files, self.labels = folder, files, labels
        self.names, self.tasks, self.size, self.where = list(names), set(tasks), size, where

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple:
        from PIL import Image, UnidentifiedImageError

        path = self.folder / self.files[i]
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB").resize((self.size, self.size), Image.BILINEAR)
        except (OSError, UnidentifiedImageError) as err:
            raise MtlspecError(f"{self.where}: cannot read image {path}: {err}; expected "
                               f"{LAYOUT}") from None
        x = torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0).permute(2, 0, 1)
        row = self.labels[i]
        targets, missing = {}, {}
        for name, value in zip(self.names, row, strict=True):
            if name in self.tasks:
                targets[name], missing[name] = torch.tensor(max(int(value), 0)), bool(value < 0)
        if "attributes" in self.tasks:  # its -1 entries are skipped label by label
            targets["attributes"] = torch.from_numpy(row.astype(np.float32))
        return x, targets, missing


def _read_attributes(path: Path, where: str) -> tuple[list[str], list[str], np.ndarray]:
    try:
        lines = path.read_text().split("\n")
    except (OSError, UnicodeDecodeError) as err:
        raise MtlspecError(f"{where}: cannot read {path}: {err}; expected {LAYOUT}") from None
    try:
        count = int(lines[0].strip())
        names = lines[1].split()
    except (IndexError, ValueError):
        raise MtlspecError(f"{where}: {path} must start with the image count and the attribute "
                           f"names; expected {LAYOUT}") from None
    files, rows = [], []
    for number, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(names) + 1 or any(v not in ("1", "-1", "0") for v in parts[1:]):
            raise MtlspecError(f"{where}: {path} line {number}: expected a file name and "
                               f"{len(names)} values of 1 or -1; expected {LAYOUT}")
        files.append(parts[0])
        rows.append([int(v) for v in parts[1:]])
    if len(files) != count:
        raise MtlspecError(f"{where}: {path} says {count} images but lists {len(files)}")
    # 1 → 1 (has it), -1 → 0 (does not), 0 → -1 (no label)
    labels = np.array(rows, dtype=np.int64).reshape(len(rows), len(names))
    return names, files, np.select([labels == 1, labels == -1], [1, 0], -1)


def _read_partition(path: Path, where: str) -> dict[str, int]:
    try:
        lines = path.read_text().split("\n")
    except (OSError, UnicodeDecodeError) as err:
        raise MtlspecError(f"{where}: cannot read {path}: {err}; expected {LAYOUT}") from None
    split: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise MtlspecError(f"{where}: {path} line {number}: expected `<name>.jpg 0|1|2`")
        split[parts[0]] = int(parts[1])
    return split


@register_dataset("celeba", tasks=TASKS, folder=True, layout=LAYOUT,
                  description="CelebA: 40 binary attributes (+ `attributes`, multi-label)")
def celeba(path: str, *, tasks: Sequence[str] | None = None, size: int = 64) -> DataSplits:
    """CelebA's official train/val/test partition (see the module docstring).

    Args:
        path: the folder.
        tasks: attribute task names and/or `attributes` (default: the 40 attributes).
        size: images are resized to size x size (8..512).

    Raises:
        MtlspecError: missing files, malformed lists, an unknown task or a bad size.
    """
    where = f"celeba:{path}"
    root = Path(path).expanduser()
    if not (isinstance(size, int) and 8 <= size <= 512):
        raise MtlspecError(f"celeba: size must be 8-512 pixels, got {size}")
    for part in ("img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt"):
        if not (root / part).exists():
            raise MtlspecError(f"{where}: missing {root / part}; expected {LAYOUT}")
    names, files, labels = _read_attributes(root / "list_attr_celeba.txt", where)
    partition = _read_partition(root / "list_eval_partition.txt", where)
    unassigned = [f for f in files if f not in partition]
    if unassigned:
        raise MtlspecError(f"{where}: {unassigned[0]} (and {len(unassigned) - 1} more) has no "
                           f"line in list_eval_partition.txt; expected {LAYOUT}")
    infos: dict[str, TaskInfo] = {task_name(a): declare(task_name(a), "classification",
                                                        classes=2, description=a)
                                  for a in names}
    infos["attributes"] = declare("attributes", "multi-label", classes=len(names),
                                  description="all attributes, one multi-label task")
    chosen = list(tasks) if tasks is not None else [task_name(a) for a in names]
    unknown = [t for t in chosen if t not in infos]
    if unknown:
        raise MtlspecError(f"{where}: unknown task(s) {', '.join(unknown)}; its tasks: "
                           f"{', '.join(infos)}")
    order = np.array([partition[f] for f in files])
    splits = []
    for number, split in enumerate(("train", "val", "test")):
        keep = np.flatnonzero(order == number)
        if not len(keep):
            raise MtlspecError(f"{where}: no image is in the {split} partition ({number})")
        splits.append(CelebAImages(root / "img_align_celeba", [files[i] for i in keep],
                                   labels[keep], [task_name(a) for a in names], chosen, size,
                                   where))
    return DataSplits(*splits, tasks={t: infos[t] for t in chosen}, input_shape=(3, size, size),
                      name=where, options={"path": str(root), "size": size})
