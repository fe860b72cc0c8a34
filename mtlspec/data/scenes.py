"""`scenes`: a dense multi-task data set rendered here from a seed (no download).

Spheres, boxes and cylinders in five colours on a checkerboard floor under a directional light
(`mtlspec.data.scenes_render`), seen by a camera of random height and pitch. Its tasks mirror
NYUv2's and Taskonomy's:

- `segment`: 17 classes (floor, sky, and one per shape and colour), per pixel;
- `depth`: camera-z depth, 0 for the sky and beyond 20 units (like a depth sensor's holes);
- `normal`: analytic surface normals in the camera frame (x right, y up, z to the camera);
- `edge`: occlusion edges (the near side of every surface boundary), 0/1;
- `keypoint`: a heatmap of visible object keypoints (box corners, cylinder tops, ...);
- `count`: how many objects (classification, 0..max_objects);
- `shapes`: which of sphere, box, cylinder appear (multi-label).

Item i of a split depends only on (seed, split, i), so generation is deterministic per seed and
a larger split starts with the items of a smaller one.

    >>> data = scenes(tasks=["segment", "count"], size=16, train_size=2, val_size=1,
    ...               test_size=1)
    >>> x, y = data.train[0]
    >>> tuple(x.shape), tuple(y["segment"].shape), y["segment"].dtype
    ((3, 16, 16), (16, 16), torch.int64)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch

from mtlspec.data.protocol import DataSplits, MultiTaskDataset
from mtlspec.data.registry import register_dataset
from mtlspec.data.scenes_render import CLASSES, SHAPES, render, sample_scene
from mtlspec.data.tasks import TaskInfo, declare
from mtlspec.errors import MtlspecError

TASKS = ("segment", "depth", "normal", "edge", "keypoint", "count", "shapes")
DEFAULT_TASKS = ("segment", "depth", "normal", "edge", "keypoint")
_SPLITS = ("train", "val", "test")


def scene_tasks(max_objects: int) -> dict[str, TaskInfo]:
    """The declarations of every scenes task."""
    return {
        "segment": declare("segment", "segmentation", classes=CLASSES,
                           description="17 classes: floor, sky, shape x colour"),
        "depth": declare("depth", "depth", description="camera-z depth, 0 = none"),
        "normal": declare("normal", "normals", description="camera-frame surface normals"),
        "edge": declare("edge", "edges", description="occlusion edges (0/1)"),
        "keypoint": declare("keypoint", "keypoints", description="keypoint heatmap"),
        "count": declare("count", "classification", classes=max_objects + 1,
                         description=f"number of objects (0..{max_objects})"),
        "shapes": declare("shapes", "multi-label", classes=len(SHAPES),
                          description="sphere / box / cylinder present"),
    }


class SceneSet(MultiTaskDataset):
    """Rendered items kept compactly (class ids as uint8) and served in training dtypes."""

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y = super().__getitem__(i)
        return x, _widen(y)

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y = super().batch(indices)
        return x, _widen(y)

    def subset(self, n: int) -> SceneSet:
        return SceneSet(self.x[:n], {t: y[:n] for t, y in self.targets.items()})


def _widen(y: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {t: v.long() if t in ("segment", "count") else v for t, v in y.items()}


def render_item(seed: int, split: int, index: int, size: int, max_objects: int
                ) -> dict[str, np.ndarray]:
    """Image and targets of item `index` of split 0/1/2 (train/val/test)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, split, index]))
    scene = sample_scene(rng, max_objects)
    out = render(scene, (size, size))
    present = {t.shape for t in scene.things}
    out["count"] = np.int64(len(scene.things))
    out["shapes"] = np.array([float(s in present) for s in range(len(SHAPES))], np.float32)
    return out


@functools.lru_cache(maxsize=8)
def _render_split(seed: int, split: int, count: int, size: int, max_objects: int,
                  tasks: tuple[str, ...]) -> SceneSet:
    items = [render_item(seed, split, i, size, max_objects) for i in range(count)]
    x = torch.from_numpy(np.stack([it["image"] for it in items]))
    targets = {}
    for task in tasks:
        values = np.stack([it[task] for it in items])
        if task == "segment":
            values = values.astype(np.uint8)
        targets[task] = torch.from_numpy(values)
    return SceneSet(x, targets)


@register_dataset("scenes", tasks=TASKS,
                  description="rendered spheres/boxes/cylinders: segment, depth, normal, edge, "
                              "keypoint, count, shapes")
def scenes(*, tasks: Sequence[str] | None = None, seed: int = 0, train_size: int = 640,
           val_size: int = 160, test_size: int = 160, size: int = 64,
           max_objects: int = 5) -> DataSplits:
    """The scenes splits, `size` x `size` pixels, rendered in this process.

    Args:
        tasks: any of `TASKS`; default the five dense ones.
        seed: the scenes drawn (item i of a split depends on seed, split and i only).
        train_size, val_size, test_size: items per split.
        size: image height and width in pixels (8..512).
        max_objects: at most this many objects a scene (1..12).

    Raises:
        MtlspecError: unknown or repeated task, or a size / max_objects out of range.
    """
    chosen = tuple(DEFAULT_TASKS if tasks is None else tasks)
    unknown = [t for t in chosen if t not in TASKS]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        what = f"unknown task(s) {', '.join(unknown)}" if unknown else "tasks must be distinct"
        raise MtlspecError(f"scenes: {what}; available tasks: {', '.join(TASKS)}")
    if not (isinstance(size, int) and 8 <= size <= 512):
        raise MtlspecError(f"scenes: size must be 8-512 pixels, got {size}")
    if not (isinstance(max_objects, int) and 1 <= max_objects <= 12):
        raise MtlspecError(f"scenes: max_objects must be 1-12, got {max_objects}")
    counts = (train_size, val_size, test_size)
    splits = [_render_split(seed, s, n, size, max_objects, chosen)
              for s, n in enumerate(counts)]
    infos = scene_tasks(max_objects)
    return DataSplits(*splits, tasks={t: infos[t] for t in chosen}, input_shape=(3, size, size),
                      name="scenes", options={"seed": seed, "size": size,
                                              "max_objects": max_objects},
                      trusted=True)
