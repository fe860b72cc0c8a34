"""The CoNAL search checkpoint: one file DIR/conal.pt, written atomically after every epoch.

It holds the search's settings (a resume with other settings is refused), the results of
finished stages (CoNAL-Pro has several) and the running stage's state after its last epoch:
supernet and optimiser state dicts, conflict counts, history and the torch RNG state, so a
resumed search gives the same result as an uninterrupted one. Loaded with
`torch.load(weights_only=True)`: plain containers and tensors only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mtlspec.errors import MtlspecError
from mtlspec.io import save_torch

FILENAME = "conal.pt"


class Checkpoint:
    """One atomic file DIR/conal.pt: finished stages and the running stage's last epoch.

    Args:
        folder: the checkpoint folder (None: keep nothing).
        meta: the search's settings; a resume must match them.
        resume: load the saved file.

    Raises:
        MtlspecError: resume without a folder or file, an unreadable file, other settings.
    """

    def __init__(self, folder: Path | None, meta: dict[str, Any], resume: bool) -> None:
        self.path = None if folder is None else Path(folder) / FILENAME
        self.meta = meta
        self.done: list[dict] = []
        self.current: dict | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume:
            self._load()

    def _load(self) -> None:
        if self.path is None:
            raise MtlspecError("--resume needs --checkpoint DIR")
        if not self.path.exists():
            raise MtlspecError(f"nothing to resume: {self.path} does not exist")
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise MtlspecError(f"cannot load checkpoint {self.path}: {err}") from None
        if saved.get("meta") != self.meta:
            raise MtlspecError(f"{self.path} was written by a different search (spec, tasks, "
                               "flags or seed differ); use another --checkpoint folder")
        self.done, self.current = saved["done"], saved["current"]

    def save(self) -> None:
        if self.path is None:
            return
        save_torch(self.path, {"meta": self.meta, "done": self.done, "current": self.current})

    def stage_state(self, stage: int) -> dict | None:
        return self.current if self.current and self.current["stage"] == stage else None

    def on_epoch(self, stage: int) -> Callable[[dict], None]:
        def save(state: dict) -> None:
            self.current = {"stage": stage, **state}
            self.save()
        return save

    def finish(self, stage: int, result: dict[str, Any]) -> None:
        """Record a finished stage's result (plain data) and drop the running state."""
        self.done.append({"stage": stage, "result": result})
        self.current = None
        self.save()

    def finished(self, stage: int) -> dict[str, Any] | None:
        """A stage's result if it finished before the interruption (resume skips it)."""
        return next((item["result"] for item in self.done if item["stage"] == stage), None)
