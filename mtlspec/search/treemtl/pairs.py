"""2-task results: what each pair of tasks scores at each branch point, as relative performance.

**CSV** (`pairs.csv`), one measured number per line, `#` lines are comments::

    task_a,task_b,branch,task,metric,value,direction
    segment,depth,0,segment,miou,0.250,higher
    segment,depth,0,depth,abs_err,0.620,lower
    segment,depth,1,segment,miou,0.262,
    ...

- `branch` b ∈ 0..B: the pair shares the first b backbone blocks (0 = two separate networks,
  B = everything but the heads shared); `task` is `task_a` or `task_b`; a task may report
  several metrics. `direction` (`higher` / `lower`; blank = given elsewhere) says which way is
  better; each metric needs it once, here or in the single-task file.
- Single-task baselines (`--single single.csv`): `task,metric,value[,direction]`. Without that
  file, a task's baseline is the mean of its branch-0 values (b = 0 *is* the single-task
  network).

**JSON**: ``{"blocks": B, "directions": {task: {metric: "higher"|"lower"}},
"single": {task: {metric: value}}, "pairs": [{"tasks": [a, b], "branch": b,
"metrics": {task: {metric: value}}}]}`` (`single` optional, as above).

**TreeMTL's table** (auto-detected by its header): one row per branch point 0..B (row 0 =
separate models, all zeros), columns `"(i, j)-0"` / `"(i, j)-1"` with the relative performance
(%) of task i / task j of the pair; task ids are positions in the spec's task list (or
`tasks=`).

Relative performance (the seeds' Δ): Δ_t = mean over t's metrics m of
±(M_m − M_single,m) / M_single,m × 100, + when higher is better, − when lower is. The table
itself, and writing it back, live in `pairs_table`.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mtlspec.data import published
from mtlspec.errors import MtlspecError
from mtlspec.inputs import parse_json, read_rows, read_text
from mtlspec.search.treemtl.pairs_table import (
    HEADER,
    SINGLE_HEADER,
    Metrics,
    PairsTable,
    make_table,
)

_TREEMTL_COLUMN = re.compile(r"^\((\d+),\s*(\d+)\)-([01])$")


def _fail(where: str, message: str, hint: str | None = None) -> MtlspecError:
    return MtlspecError(f"{where}: {message}" + (f"\nhint: {hint}" if hint else ""))


def _direction(text: str, where: str) -> bool | None:
    word = text.strip().lower()
    if not word:
        return None
    if word in ("higher", "max", "+"):
        return True
    if word in ("lower", "min", "-"):
        return False
    raise _fail(where, f"direction must be `higher` or `lower`, not {text!r}")


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _fail(where, f"not a number: {text!r}") from None
    if not np.isfinite(value):
        raise _fail(where, f"not a finite number: {text!r}")
    return value


def _rows(path: str | Path, text: str) -> list[tuple[str, list[str]]]:
    """(file:line, cells) of every non-blank, non-comment CSV row."""
    rows = []
    for line, cells in read_rows(text, str(path)):
        if cells[0].lstrip().startswith("#"):
            continue
        rows.append((f"{path}:{line}", [c.strip() for c in cells]))
    return rows


def _xlsx_as_csv(path: str | Path) -> str:
    """The first sheet of an Excel workbook (TreeMTL ships .xlsx originals) as CSV text, one
    line per sheet row, so `file:line` names the sheet row. Needs openpyxl."""
    try:
        import openpyxl
    except ImportError:
        raise MtlspecError(f"{path} is an Excel workbook; export its sheet to CSV (the same "
                           "cells) or `pip install openpyxl` to read it directly") from None
    try:
        sheet = openpyxl.load_workbook(path, read_only=True, data_only=True).worksheets[0]
        rows = [["" if v is None else str(v) for v in row]
                for row in sheet.iter_rows(values_only=True)]
    except Exception as err:  # a corrupt or non-Excel file: zipfile, XML and key errors
        raise MtlspecError(f"cannot read {path} as an Excel workbook: {err}") from None
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _read(path: str | Path) -> str:
    if str(path).lower().endswith((".xlsx", ".xlsm")):
        return _xlsx_as_csv(path)
    return read_text(path, "2-task results")


def load_pairs(path: str | Path, *, single: str | Path | None = None,
               tasks: Sequence[str] | None = None) -> PairsTable:
    """Read 2-task results (CSV, JSON or TreeMTL's table; see the module docstring).

    Args:
        path: the results file (`.json` is JSON; a CSV whose header starts with `branch` is
            TreeMTL's table; any other CSV is the documented long format), or a shipped
            TreeMTL table's name (`treemtl:nyuv2-resnet34`), whose ids are already named.
        single: single-task baselines (CSV), optional.
        tasks: task names in order; required to name TreeMTL's numbered tasks (its ids index
            this list), and used to order the table otherwise.

    Returns:
        The `PairsTable`.

    Raises:
        MtlspecError: unreadable file, bad cell (file:line), missing pair, branch point, task,
            baseline or direction.

    Example:
        >>> table = load_pairs("treemtl:nyuv2-resnet34", tasks=["segment", "depth", "normal"])
        >>> table.tasks, table.blocks
        (('segment', 'depth', 'normal'), 5)
    """
    path, named_tasks = published.locate(path, kind="pairs")
    if named_tasks is not None:  # a shipped TreeMTL table: its ids have names; `tasks` orders
        if single is not None:
            raise MtlspecError(f"{path}: a TreeMTL table already holds relative "
                               "performance; drop --single")
        table = load_treemtl_table(path).renamed(named_tasks)
        return table.reordered(tasks) if tasks is not None else table
    text = _read(path)
    if str(path).lower().endswith(".json"):
        if single is not None:
            raise MtlspecError(f"{path}: JSON results carry their baselines (`single`); "
                               "drop --single")
        table = _from_json(path, text)
    else:
        rows = _rows(path, text)
        if not rows:
            raise MtlspecError(f"{path}: no rows")
        if rows[0][1][0].lower() == "branch":
            if single is not None:
                raise MtlspecError(f"{path}: a TreeMTL table already holds relative "
                                   "performance; drop --single")
            table = load_treemtl_table(path, rows)
            return table.renamed(tasks) if tasks is not None else table
        table = _from_long(path, rows, _load_single(single) if single else None)
    return table.reordered(tasks) if tasks is not None else table


def _load_single(path: str | Path) -> tuple[Metrics, dict[str, dict[str, bool]]]:
    rows = _rows(path, _read(path))
    if not rows or [c.lower() for c in rows[0][1][:3]] != list(SINGLE_HEADER[:3]):
        raise MtlspecError(f"{path}:1: header must be {','.join(SINGLE_HEADER)}")
    values: Metrics = {}
    higher: dict[str, dict[str, bool]] = {}
    for where, cells in rows[1:]:
        if len(cells) < 3:
            raise _fail(where, f"expected {','.join(SINGLE_HEADER)}, got {len(cells)} cells")
        task, metric = cells[0], cells[1]
        if metric in values.setdefault(task, {}):
            raise _fail(where, f"baseline of {task} {metric} given twice")
        values[task][metric] = _number(cells[2], where)
        direction = _direction(cells[3], where) if len(cells) > 3 else None
        if direction is not None:
            higher.setdefault(task, {})[metric] = direction
    return values, higher


def _from_long(path, rows, single) -> PairsTable:
    if [c.lower() for c in rows[0][1][:6]] != list(HEADER[:6]):
        raise MtlspecError(f"{rows[0][0]}: header must be {','.join(HEADER)} "
                           "(or TreeMTL's `branch,\"(0, 1)-0\",...`)")
    measured: dict[tuple[str, str, int], Metrics] = {}
    higher: dict[str, dict[str, bool]] = {}
    order: list[str] = []
    for where, cells in rows[1:]:
        if len(cells) < 6:
            raise _fail(where, f"expected {','.join(HEADER)}, got {len(cells)} cells")
        a, b, task, metric = cells[0], cells[1], cells[3], cells[4]
        if a == b:
            raise _fail(where, f"a pair needs two different tasks, got {a} twice")
        if task not in (a, b):
            raise _fail(where, f"task {task} is not in the pair ({a}, {b})")
        branch = _number(cells[2], where)
        if branch != int(branch) or branch < 0:
            raise _fail(where, f"branch must be an integer ≥ 0, not {cells[2]}")
        order.extend(t for t in (a, b) if t not in order)
        key = (*sorted((a, b), key=order.index), int(branch))
        slot = measured.setdefault(key, {}).setdefault(task, {})
        if metric in slot:
            raise _fail(where, f"{task} {metric} of ({a}, {b}) at branch {int(branch)} "
                        "given twice")
        slot[metric] = _number(cells[5], where)
        direction = _direction(cells[6], where) if len(cells) > 6 else None
        if (direction is not None
                and higher.setdefault(task, {}).setdefault(metric, direction) != direction):
            raise _fail(where, f"{task} {metric} is given both directions")
    base, more = single if single is not None else (None, {})
    for task, metrics in more.items():
        for metric, direction in metrics.items():
            if higher.setdefault(task, {}).setdefault(metric, direction) != direction:
                raise MtlspecError(f"{task} {metric}: the results and baselines give "
                                   "opposite directions")
    return make_table(order, measured, base, higher, source=str(path))


def load_treemtl_table(path: str | Path, rows=None) -> PairsTable:
    """Read TreeMTL's own 2-task table (Δ in %, tasks numbered 0..T−1 and named so).

    Raises:
        MtlspecError: bad header or cell (file:line), a missing pair or branch row.
    """
    rows = rows if rows is not None else _rows(path, _read(path))
    where, header = rows[0]
    columns: dict[tuple[int, int, int], int] = {}
    for c, name in enumerate(header[1:], 1):
        match = _TREEMTL_COLUMN.match(name)
        if not match:
            raise _fail(where, f"column {c + 1} is {name!r}; TreeMTL columns look like "
                        "\"(0, 1)-0\"")
        i, j, side = map(int, match.groups())
        if i >= j:
            raise _fail(where, f"column {name!r}: TreeMTL pairs are written (i, j) with i < j")
        columns[(i, j, side)] = c
    count = max(max(i, j) for i, j, _ in columns) + 1
    values: dict[int, list[str]] = {}
    for line, cells in rows[1:]:
        branch = _number(cells[0], line)
        if branch != int(branch) or branch < 0 or int(branch) in values:
            raise _fail(line, f"branch {cells[0]} is not a new integer branch point ≥ 0")
        if len(cells) != len(header):
            raise _fail(line, f"{len(cells)} cells but the header has {len(header)}")
        values[int(branch)] = [line, *cells[1:]]
    blocks = max(values, default=0)
    missing = [b for b in range(blocks + 1) if b not in values]
    if blocks < 1 or missing:
        raise MtlspecError(f"{path}: rows for branch points 0..B needed; missing "
                           f"{missing or [1]}")
    delta = np.zeros((count, count, blocks + 1))
    for i, j in itertools.combinations(range(count), 2):
        for side, (x, y) in enumerate(((i, j), (j, i))):
            if (i, j, side) not in columns:
                raise MtlspecError(f"{where}: no column \"({i}, {j})-{side}\"")
            for b in range(blocks + 1):
                row = values[b]
                delta[x, y, b] = _number(row[columns[(i, j, side)]], row[0])
    return PairsTable(tuple(str(i) for i in range(count)), blocks, delta, str(path))


def _from_json(path, text) -> PairsTable:
    data = parse_json(text, str(path))
    if not isinstance(data, dict) or not isinstance(data.get("pairs"), list):
        raise MtlspecError(f"{path}: expected an object with a `pairs` list")
    if not isinstance(data.get("directions", {}), dict) or not all(
            isinstance(ms, dict) for ms in data.get("directions", {}).values()):
        raise MtlspecError(f"{path}: `directions` must be {{task: {{metric: \"max\"|\"min\"}}}}")
    higher = {t: {m: _direction(str(d), f"{path}: directions.{t}.{m}") for m, d in ms.items()}
              for t, ms in data.get("directions", {}).items()}
    measured: dict[tuple[str, str, int], Metrics] = {}
    order: list[str] = []
    for n, entry in enumerate(data["pairs"]):
        where = f"{path}: pairs[{n}]"
        try:
            a, b = entry["tasks"]
            branch = int(entry["branch"])
            metrics = {t: {m: float(v) for m, v in ms.items()}
                       for t, ms in entry["metrics"].items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            raise _fail(where, "needs `tasks` [a, b], an integer `branch` and `metrics` "
                        "{task: {metric: number}}") from None
        order.extend(t for t in (a, b) if t not in order)
        measured[(a, b, branch)] = metrics
    single = data.get("single")
    return make_table(order, measured, single, higher, source=str(path))
