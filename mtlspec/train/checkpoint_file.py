"""The one checkpoint file format of mtlspec: the training loop, CoNAL and the DAG search.

A checkpoint is one file, written atomically (a kill mid-write keeps the previous one) and read
with `torch.load(weights_only=True)` (it runs no code), holding

    {"format": "mtlspec-checkpoint", "version": 1, "kind": "train" | "conal" | "dag",
     "config": "<JSON text>", "state": {... tensors and plain containers ...}}

`config` is what must match for a resume (the spec, the search or training settings); it is
kept as canonical JSON text, so a resume compares it exactly. `state` is whatever the kind
needs to continue as if never stopped (weights, optimiser states, RNG states, history).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> save_checkpoint_file(folder / "c.pt", "conal", {"seed": 0}, {"epoch": 3})
    >>> load_checkpoint_file(folder / "c.pt", "conal", {"seed": 0})
    {'epoch': 3}
    >>> try:
    ...     load_checkpoint_file(folder / "c.pt", "dag")
    ... except MtlspecError as err:
    ...     print(str(err)[-45:])
    is a conal checkpoint, not a dag checkpoint
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from mtlspec.errors import MtlspecError
from mtlspec.io import save_torch

FORMAT = "mtlspec-checkpoint"
FORMAT_VERSION = 1
KINDS = ("train", "conal", "dag")


def _config_text(config: Any) -> str:
    try:
        return json.dumps(config, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise TypeError(f"a checkpoint's config must be JSON data: {err}") from None


def save_checkpoint_file(path: str | Path, kind: str, config: Any,
                         state: dict[str, Any]) -> None:
    """Write a checkpoint atomically.

    Args:
        path: the file (its folder is created).
        kind: one of `KINDS`.
        config: JSON data a resume must match (spec, settings).
        state: tensors and plain containers (what `weights_only=True` reads back).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown checkpoint kind {kind!r}")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MtlspecError(f"cannot create {path.parent}: {err.strerror or err}") from None
    save_torch(path, {"format": FORMAT, "version": FORMAT_VERSION, "kind": kind,
                      "config": _config_text(config), "state": state})


def load_checkpoint_file(path: str | Path, kind: str, config: Any = None) -> dict[str, Any]:
    """Read a checkpoint of `kind` (on the CPU) and return its state.

    Args:
        path: the file.
        kind: the kind expected.
        config: when given, the checkpoint's config must equal it.

    Raises:
        MtlspecError: no file, unreadable, not an mtlspec checkpoint, another format
            version or kind, or another config (the message says which keys differ).
    """
    path = Path(path)
    if not path.is_file():
        raise MtlspecError(f"nothing to resume: {path} does not exist")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # refused unpickling, a truncated or foreign file
        raise MtlspecError(f"cannot read checkpoint {path}: {err}") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise MtlspecError(f"{path} is not an mtlspec checkpoint")
    if saved.get("version") != FORMAT_VERSION:
        raise MtlspecError(f"{path} has checkpoint format version {saved.get('version')}; "
                           f"this mtlspec reads version {FORMAT_VERSION}")
    if saved.get("kind") != kind:
        raise MtlspecError(f"{path} is a {saved.get('kind')} checkpoint, not a {kind} "
                           "checkpoint")
    if config is not None and saved.get("config") != _config_text(config):
        raise MtlspecError(f"{path} was written by another {kind} run ({_differ(saved, config)}"
                           " differ); use another checkpoint folder or the same settings")
    state = saved.get("state")
    if not isinstance(state, dict):
        raise MtlspecError(f"{path} is not an mtlspec checkpoint (no state)")
    return state


def _differ(saved: dict[str, Any], config: Any) -> str:
    try:
        old = json.loads(saved.get("config") or "null")
    except json.JSONDecodeError:
        return "settings"
    new = json.loads(_config_text(config))
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        return ", ".join(keys) or "settings"
    return "settings"
