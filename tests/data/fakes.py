"""Tiny fake data folders in the exact on-disk layouts the loaders read (written by tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _unit_normals(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    normal = rng.normal(size=(h, w, 3))
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    normal[0, :] = 0.0  # a row without normals (as NYUv2 has pixels without them)
    return normal.astype(np.float32)


def write_mtan(root: Path, *, counts=(4, 2), size=(32, 48), classes=13, normals=True,
               label_dir="label", seed=0) -> Path:
    """MTAN/LibMTL's preprocessed layout: {train,val}/{image,label,depth[,normal]}/<i>.npy with
    image [H, W, 3] float, label [H, W] float class ids (-1 unlabelled), depth [H, W, 1]
    (0 = none), normal [H, W, 3] unit vectors (0 = none)."""
    rng = np.random.default_rng(seed)
    h, w = size
    for split, n in zip(("train", "val"), counts, strict=True):
        for sub in ("image", label_dir, "depth", *(("normal",) if normals else ())):
            (root / split / sub).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            label = rng.integers(-1, classes, size=(h, w)).astype(np.float32)
            depth = rng.uniform(0.5, 8.0, size=(h, w, 1)).astype(np.float32)
            depth[:, :2] = 0.0  # columns without depth
            np.save(root / split / "image" / f"{i}.npy",
                    rng.uniform(size=(h, w, 3)).astype(np.float32))
            np.save(root / split / label_dir / f"{i}.npy", label)
            np.save(root / split / "depth" / f"{i}.npy", depth)
            if normals:
                np.save(root / split / "normal" / f"{i}.npy", _unit_normals(rng, h, w))
    return root


def write_celeba(root: Path, *, partition=(0, 0, 0, 0, 1, 1, 2, 2), size=(218, 178),
                 seed=0) -> Path:
    """CelebA's layout: img_align_celeba/*.jpg, list_attr_celeba.txt, list_eval_partition.txt
    (40 attributes; one 0 entry, read as a missing label)."""
    from PIL import Image

    from mtlspec.data.celeba import ATTRIBUTES

    rng = np.random.default_rng(seed)
    (root / "img_align_celeba").mkdir(parents=True)
    names = [f"{i + 1:06d}.jpg" for i in range(len(partition))]
    rows = []
    for i, name in enumerate(names):
        pixels = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "img_align_celeba" / name)
        values = rng.choice([-1, 1], size=len(ATTRIBUTES))
        if i == 1:
            values[31] = 0  # Smiling unknown for the second image
        rows.append(f"{name} " + " ".join(f"{v:2d}" for v in values))
    (root / "list_attr_celeba.txt").write_text(
        f"{len(names)}\n{' '.join(ATTRIBUTES)} \n" + "\n".join(rows) + "\n")
    (root / "list_eval_partition.txt").write_text(
        "".join(f"{n} {p}\n" for n, p in zip(names, partition, strict=True)))
    return root
