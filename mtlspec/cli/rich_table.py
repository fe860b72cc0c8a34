"""Tables on the terminal (rich), imported only by commands that print one."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table


def print_table(title: str, rows: Sequence[dict[str, object]]) -> None:
    """Print dict rows as a table with the first row's keys as columns."""
    table = Table(title=title)
    for key in rows[0]:
        table.add_column(key)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console = Console()
    if not console.is_terminal:  # logs and CI: do not squeeze columns into 80 characters
        console = Console(width=160)
    console.print(table)
