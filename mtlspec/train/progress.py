"""A rich progress bar on stderr that is silent when stderr is not a terminal."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any


class _Quiet:
    def advance(self, steps: int, description: str | None = None) -> None:
        pass


class _Bar:
    def __init__(self, progress: Any, task: Any) -> None:
        self.progress, self.task = progress, task

    def advance(self, steps: int, description: str | None = None) -> None:
        if description is None:
            self.progress.advance(self.task, steps)
        else:
            self.progress.update(self.task, advance=steps, description=description)


@contextlib.contextmanager
def progress_bar(enabled: bool, *, total: int) -> Iterator[Any]:
    """Yield an object with `advance(steps, description=None)`; a bar only when `enabled`
    and stderr is a terminal (logs and CI get no control characters)."""
    if not enabled or not sys.stderr.isatty():
        yield _Quiet()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield _Bar(progress, progress.add_task("training", total=total))
