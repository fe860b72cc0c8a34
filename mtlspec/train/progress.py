"""The one progress bar of mtlspec: rich, on stderr, silent when stderr is not a terminal.

Training epochs, DAG and CoNAL searches, layout scoring and plan runs all draw it through
`progress_bar`; without a terminal (logs, CI, `--json`) nothing is drawn and log lines go to
the caller's `log`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any


class _Quiet:
    def __init__(self, log: Callable[[str], None] | None) -> None:
        self.log = log

    def advance(self, steps: int, description: str | None = None) -> None:
        pass

    def update(self, completed: int, total: int | None = None,
               description: str | None = None) -> None:
        pass

    def print(self, line: str) -> None:
        if self.log is not None:
            self.log(line)


class _Bar:
    def __init__(self, progress: Any, task: Any) -> None:
        self.progress, self.task = progress, task

    def advance(self, steps: int, description: str | None = None) -> None:
        if description is None:
            self.progress.advance(self.task, steps)
        else:
            self.progress.update(self.task, advance=steps, description=description)

    def update(self, completed: int, total: int | None = None,
               description: str | None = None) -> None:
        """Move to `completed` of `total` (a new total or description when given)."""
        changes: dict[str, Any] = {"completed": completed}
        if total is not None:
            changes["total"] = total
        if description is not None:
            changes["description"] = description
        self.progress.update(self.task, **changes)

    def print(self, line: str) -> None:
        """A log line above the bar."""
        self.progress.console.print(line, markup=False, highlight=False)


@contextlib.contextmanager
def progress_bar(enabled: bool | None, *, total: int | None, completed: int = 0,
                 description: str = "training", transient: bool = True,
                 log: Callable[[str], None] | None = None) -> Iterator[Any]:
    """Yield an object with `advance(steps, description=None)`, `update(completed,
    total=None, description=None)` and `print(line)`.

    A bar is drawn only when `enabled` is not False and stderr is a terminal (logs and CI get
    no control characters); without one, `print` hands its lines to `log` (if given).

    Args:
        enabled: False: never draw; True or None: draw on a terminal.
        total: steps in all (None: unknown until an `update` says).
        completed: steps already done (a resumed run).
        description: the bar's label; transient: erase the bar when done.
        log: where `print` sends lines when no bar is drawn.

    Example:
        >>> with progress_bar(False, total=3, log=print) as bar:
        ...     bar.advance(1)
        ...     bar.print("one step done")
        one step done
    """
    if enabled is False or not sys.stderr.isatty():
        yield _Quiet(log)
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
    with Progress(*columns, console=Console(stderr=True), transient=transient) as progress:
        yield _Bar(progress, progress.add_task(description, total=total, completed=completed))
