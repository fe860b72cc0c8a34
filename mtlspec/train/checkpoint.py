"""A training checkpoint: written atomically, read without running code, and the RNG states
that make a resumed run take exactly the steps an uninterrupted one would.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mtlspec.errors import MtlspecError
from mtlspec.train.checkpoint_file import load_checkpoint_file, save_checkpoint_file

CHECKPOINT_NAME = "last.pt"
CHECKPOINT_VERSION = 1


def rng_state() -> dict[str, Any]:
    """The torch, python and numpy RNG states (tensors and lists: `weights_only` can load
    them).

    Example:
        >>> state = rng_state()
        >>> first = torch.rand(3)
        >>> set_rng_state(state)
        >>> torch.equal(torch.rand(3), first)
        True
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(), "python": random.getstate(),
            "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached]}


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what `rng_state` saved."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write a checkpoint atomically (a kill during the write keeps the previous one), in the
    one checkpoint format (`mtlspec.train.checkpoint_file`, kind `train`)."""
    save_checkpoint_file(path, "train", None, state)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with `weights_only=True` (it runs no code).

    Raises:
        MtlspecError: unreadable or not a training checkpoint.
    """
    state = load_checkpoint_file(path, "train")
    if state.get("version") != CHECKPOINT_VERSION:
        raise MtlspecError(f"{path} is not an mtlspec training checkpoint")
    return state
