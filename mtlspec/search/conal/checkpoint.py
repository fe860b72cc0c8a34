"""The CoNAL search checkpoint: one file DIR/conal.pt, written atomically after every epoch.

In mtlspec's one checkpoint format (`mtlspec.train.checkpoint_file`, kind `conal`): the
search's settings are its config (a resume with other settings is refused); its state holds
the results of finished stages (CoNAL-Pro has several) and the running stage's state after its
last epoch: supernet, optimiser and weighting state dicts, conflict counts, history and the
torch RNG state, so a resumed search gives the same result as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mtlspec.errors import MtlspecError
from mtlspec.train.checkpoint_file import load_checkpoint_file, save_checkpoint_file

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
        saved = load_checkpoint_file(self.path, "conal", self.meta)
        self.done, self.current = list(saved["done"]), saved["current"]

    def save(self) -> None:
        if self.path is None:
            return
        save_checkpoint_file(self.path, "conal", self.meta,
                             {"done": self.done, "current": self.current})

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
