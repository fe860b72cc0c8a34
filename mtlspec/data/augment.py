"""Dense augmentation: one random scale-crop and flip applied to the image and every dense
target of an item alike.

As in MTAN/LibMTL's NYUv2 augmentation: pick a scale s from `scales`, crop an (H/s)x(W/s)
window at a random place and resize it back to HxW (the image bilinearly, targets by nearest
neighbour so class ids and "no value" pixels stay exact), divide depth by s (zooming in brings
the scene closer); then flip horizontally with probability 1/2, negating the normals' x
component. Image-level targets are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from mtlspec.data.tasks import TaskInfo


class DenseAugment:
    """Random scale-crop and horizontal flip, the same for the image and its dense targets.

    Args:
        scales: zoom factors to pick from (1.0: no crop).
        flip: flip horizontally with probability 1/2.

    Example:
        >>> from mtlspec.data.tasks import declare
        >>> infos = {"normal": declare("normal", "normals")}
        >>> x, n = torch.zeros(3, 4, 4), torch.zeros(3, 4, 4)
        >>> n[0, :, 0] = 1.0  # normals of the leftmost column point right
        >>> rng = np.random.default_rng(0)  # draws a flip
        >>> _, y = DenseAugment(scales=(1.0,))((x, {"normal": n}), infos, rng)
        >>> y["normal"][0, 0].tolist()  # flipped: now the rightmost column, pointing left
        [0.0, 0.0, 0.0, -1.0]
    """

    def __init__(self, scales: Sequence[float] = (1.0, 1.2, 1.5), flip: bool = True) -> None:
        if not scales or any(s < 1.0 for s in scales):
            raise ValueError("scales must be zoom factors >= 1")
        self.scales, self.flip = tuple(float(s) for s in scales), flip

    def __repr__(self) -> str:
        return f"DenseAugment(scales={self.scales}, flip={self.flip})"

    def __call__(self, item: tuple, infos: Mapping[str, TaskInfo],
                 rng: np.random.Generator) -> tuple:
        x, targets = torch.as_tensor(item[0]), dict(item[1])
        height, width = x.shape[-2:]
        scale = self.scales[int(rng.integers(len(self.scales)))]
        h, w = int(height / scale), int(width / scale)
        top, left = int(rng.integers(height - h + 1)), int(rng.integers(width - w + 1))
        flip = self.flip and bool(rng.integers(2))
        window = (top, left, h, w)
        x = _resize(x[:, top:top + h, left:left + w], (height, width), "bilinear")
        if flip:
            x = x.flip(-1)
        for task, info in infos.items():
            if info.dense and task in targets:
                targets[task] = _dense(torch.as_tensor(targets[task]), info, window,
                                       (height, width), scale, flip)
        return (x, targets, *item[2:])


def _dense(y: torch.Tensor, info: TaskInfo, window: tuple[int, int, int, int],
           size: tuple[int, int], scale: float, flip: bool) -> torch.Tensor:
    top, left, h, w = window
    crop = y[..., top:top + h, left:left + w]
    if crop.dim() == 2:  # segmentation [H, W]
        y = _resize(crop[None].float(), size, "nearest")[0].to(y.dtype)
    else:
        y = _resize(crop.float(), size, "nearest").to(y.dtype)
    if info.kind == "depth" and scale != 1.0:
        y = y / scale
    if flip:
        y = y.flip(-1)
        if info.kind == "normals":
            y = y.clone()
            y[0] = 0.0 - y[0]  # (not -y: keeps "no normal" pixels at +0)
    return y


def _resize(t: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    if tuple(t.shape[-2:]) == tuple(size):
        return t
    kwargs: dict[str, Any] = {"align_corners": False} if mode == "bilinear" else {}
    return F.interpolate(t[None], size=size, mode=mode, **kwargs)[0]
