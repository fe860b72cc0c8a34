"""Reading candidate tables for task grouping (Standley et al.); the table itself is
`candidates.CandidateTable` (re-exported here).

A candidate is a network trained on a subset of the tasks, with an inference cost and one
value per task it predicts (a loss, lower is better, unless the table says otherwise).

CSV (`--format csv`, the default for `.csv` files)::

    # cost_unit: units          optional metadata lines before the header:
    # direction: min            cost_unit units|gmacs, direction min (losses) | max (metrics)
    network,cost,width,segment,depth,normal
    normal@0.5,0.5,0.5,,,0.0896
    segment+depth,1,1,0.0786,0.1833,

- `cost` (required): inference cost, in units of one standard network (`units`, the default)
  or in GMACs from the compiler (`gmacs`; `gflops` is read as a synonym); must be finite
  and ≥ 0.
- `network` (optional): a name, used to find the same network in another table (test split,
  early-stopped values). Default: the trained tasks joined by `+`, plus `@WIDTH` when the width
  is not 1 (`normal@0.5`).
- `width` (optional): the network's width as a fraction of a standard network, written to the
  spec. Default: the cost when costs are in units, else 1.
- every other column is a task; a blank cell means the network does not predict that task.
  Other `#` lines are comments.

JSON (`--format json`, the default for `.json` files)::

    {"tasks": ["segment", "depth"], "cost_unit": "units", "direction": "min",
     "networks": [{"name": "segment+depth", "cost": 1, "width": 1,
                   "loss": {"segment": 0.0786, "depth": 0.1833}}]}

`tasks`, `cost_unit`, `direction`, `name` and `width` are optional (same defaults as CSV);
`loss` holds the values of the tasks the network predicts.

Standley (`--format standley`, the default for `.txt`/`.tsv`): the authors' published layout,
tab-separated, no header. Row 1 holds the half-size single-task networks (cost 0.5, width 0.5),
one per column; every later row is a full-size network (cost 1) on the tasks whose cells are
not blank. Columns are named by `tasks` (default for five columns: segment, depth, normal,
keypoint, edge, the order of the authors' Taskonomy tables).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from mtlspec.data import published
from mtlspec.errors import MtlspecError
from mtlspec.inputs import parse_json as parse_json_text
from mtlspec.inputs import read_text
from mtlspec.search.grouping.candidates import (
    Candidate,
    CandidateTable,
    check_task_names,
    default_name,
    make_table,
)

__all__ = ["STANDLEY_TASKS", "Candidate", "CandidateTable", "default_name", "load_table",
           "make_table", "parse_csv", "parse_json", "parse_standley"]

STANDLEY_TASKS = ("segment", "depth", "normal", "keypoint", "edge")
FORMATS = ("csv", "json", "standley")
_RESERVED = ("network", "cost", "width")
_META = re.compile(r"#\s*(cost_unit|direction)\s*:\s*(\S+)\s*\Z")


def load_table(
    path: str | Path, *, format: str | None = None, tasks: Sequence[str] | None = None
) -> CandidateTable:
    """Read a candidate table (see the module docstring for the formats).

    Args:
        path: the file, or a shipped table's name (`standley:setting1`; see
            `mtlspec.data.published`), whose task names are the default `tasks`.
        format: `csv`, `json` or `standley`; None picks by extension (.json, .csv, else standley).
        tasks: column names for the Standley format (ignored by the others).

    Returns:
        The table.

    Raises:
        MtlspecError: the file cannot be read or does not follow the format.

    Example:
        >>> table = load_table("standley:setting4")
        >>> table.tasks[:2], len(table.candidates)
        (('autoencoder', 'normal'), 36)
    """
    path, named_tasks = published.locate(path, kind="grouping")
    tasks = tasks if tasks is not None else named_tasks
    fmt = format or {".json": "json", ".csv": "csv"}.get(path.suffix.lower(), "standley")
    if fmt not in FORMATS:
        raise MtlspecError(f"unknown table format `{fmt}` (use {', '.join(FORMATS)})")
    text = read_text(path, "table")
    if fmt == "json":
        return parse_json(text, source=str(path))
    if fmt == "csv":
        return parse_csv(text, source=str(path))
    return parse_standley(text, tasks=tasks, source=str(path))


def _number(cell: str, where: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise MtlspecError(f"{where}`{cell}` is not a number") from None
    if not math.isfinite(value):
        raise MtlspecError(f"{where}`{cell}` is not a finite number")
    return value


def parse_standley(
    text: str, *, tasks: Sequence[str] | None = None, source: str = "<table>"
) -> CandidateTable:
    """Read the authors' TSV layout: half-size singles first, then full-size networks.

    Args:
        text: the file's text.
        tasks: column names; default `STANDLEY_TASKS` for five columns.
        source: a file name for messages.

    Returns:
        The table (costs in units; half-size networks have cost and width 0.5).

    Raises:
        MtlspecError: a malformed row or a column count that does not match `tasks`.

    Example:
        >>> t = parse_standley("0.1\\t0.2\\n0.3\\t\\n0.2\\t0.4\\n", tasks=["a", "b"])
        >>> [c.name for c in t.candidates]
        ['a@0.5', 'b@0.5', 'a', 'a+b']
    """
    rows = [(i, line.rstrip("\r\n").split("\t")) for i, line in enumerate(text.split("\n"), 1)]
    rows = [(i, cells) for i, cells in rows if any(c.strip() for c in cells)]
    if not rows:
        raise MtlspecError(f"{source}: the table is empty")
    width = max(len(cells) for _, cells in rows)
    if tasks is None:
        if width != len(STANDLEY_TASKS):
            raise MtlspecError(f"{source}: the table has {width} columns; name them with "
                               "--tasks (the default names are for the five Taskonomy tasks)")
        tasks = STANDLEY_TASKS
    if width > len(tasks):
        raise MtlspecError(f"{source}: the table has {width} columns but {len(tasks)} task "
                           f"names were given ({', '.join(tasks)})")
    cands: list[Candidate] = []
    for n, (line, cells) in enumerate(rows):
        values = {}
        for task, cell in zip(tasks, cells, strict=False):
            if cell.strip():
                values[task] = _number(cell.strip(), f"{source}:{line}: column `{task}`: ")
        if n == 0:  # the half-size single-task networks, one per filled cell
            cands += [Candidate(default_name([t], 0.5), 0.5, 0.5, {t: v}) for t, v in
                      values.items()]
        else:
            order = [t for t in tasks if t in values]
            cands.append(Candidate(default_name(order, 1.0), 1.0, 1.0, values))
    return make_table(tasks, _unique_names(cands), source=source)


def _unique_names(cands: Sequence[Candidate], named: Sequence[bool] = ()) -> list[Candidate]:
    """Generated names made unique by `#2`, `#3`, … in table order (`named[i]`: keep as is)."""
    counts: dict[str, int] = {}
    out = []
    for i, cand in enumerate(cands):
        if i < len(named) and named[i]:
            out.append(cand)
            continue
        counts[cand.name] = counts.get(cand.name, 0) + 1
        k = counts[cand.name]
        out.append(cand if k == 1 else replace(cand, name=f"{cand.name}#{k}"))
    return out


def parse_csv(text: str, *, source: str = "<table>") -> CandidateTable:
    """Read the CSV candidate format (see the module docstring).

    Args:
        text: the file's text.
        source: a file name for messages.

    Returns:
        The table.

    Raises:
        MtlspecError: no `cost` column, a malformed row, a bad value or metadata line.

    Example:
        >>> t = parse_csv("cost,a,b\\n0.5,0.3,\\n1,0.2,0.4\\n")
        >>> [(c.name, c.width) for c in t.candidates]
        [('a@0.5', 0.5), ('a+b', 1.0)]
    """
    meta = {"cost_unit": "units", "direction": "min"}
    body: list[tuple[int, str]] = []
    for i, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#"):
            match = _META.match(stripped)
            if match:
                meta[match.group(1)] = match.group(2)
        elif stripped:
            body.append((i, line))
    if not body:
        raise MtlspecError(f"{source}: the table has no header row")
    lines = [n for n, _ in body]
    try:
        records = list(csv.reader([line for _, line in body]))
    except csv.Error as err:
        raise MtlspecError(f"{source}: {err}") from None
    header = [h.strip() for h in records[0]]
    if "cost" not in header:
        raise MtlspecError(f"{source}:{lines[0]}: the header has no `cost` column",)
    tasks = [h for h in header if h not in _RESERVED]
    check_task_names(tasks, f"{source}:{lines[0]}: ")
    units = meta["cost_unit"] == "units"
    cands: list[Candidate] = []
    named: list[bool] = []
    for line, record in zip(lines[1:], records[1:], strict=True):
        where = f"{source}:{line}: "
        if len(record) != len(header):
            raise MtlspecError(f"{where}{len(record)} cells, but the header has {len(header)}")
        cells = dict(zip(header, (c.strip() for c in record), strict=True))
        cost = _number(cells["cost"], f"{where}cost: ")
        width = _number(cells["width"], f"{where}width: ") if cells.get("width") else (
            cost if units else 1.0)
        values = {t: _number(cells[t], f"{where}column `{t}`: ") for t in tasks if cells[t]}
        if not values:
            raise MtlspecError(f"{where}the network predicts no task (every task cell is blank)")
        order = [t for t in tasks if t in values]
        named.append(bool(cells.get("network")))
        cands.append(Candidate(cells.get("network") or default_name(order, width), cost, width,
                               values))
    return make_table(tasks, _unique_names(cands, named), source=source, **meta)


def parse_json(text: str, *, source: str = "<table>") -> CandidateTable:
    """Read the JSON candidate format (see the module docstring).

    Args:
        text: the file's text.
        source: a file name for messages.

    Returns:
        The table.

    Raises:
        MtlspecError: invalid JSON, or a field of the wrong type.

    Example:
        >>> parse_json('{"networks": [{"cost": 1, "loss": {"a": 0.5}}]}').tasks
        ('a',)
    """
    data = parse_json_text(text, source)
    if not isinstance(data, dict) or not isinstance(data.get("networks"), list):
        raise MtlspecError(f"{source}: expected an object with a `networks` list")
    units = data.get("cost_unit", "units") == "units"
    cands, seen_tasks = [], []
    for i, net in enumerate(data["networks"]):
        where = f"{source}: networks[{i}]: "
        if not isinstance(net, dict) or not isinstance(net.get("loss"), dict):
            raise MtlspecError(f"{where}expected an object with a `loss` object")
        cost = _json_number(net.get("cost"), f"{where}cost: ")
        width = _json_number(net["width"], f"{where}width: ") if "width" in net else (
            cost if units else 1.0)
        loss = {str(t): _json_number(v, f"{where}loss `{t}`: ") for t, v in net["loss"].items()}
        seen_tasks += [t for t in loss if t not in seen_tasks]
        cands.append((net.get("name"), cost, width, loss))
    tasks = data.get("tasks", seen_tasks)
    if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        raise MtlspecError(f"{source}: `tasks` must be a list of names")
    made = [Candidate(str(name) if name is not None else
                      default_name([t for t in tasks if t in loss], width), cost, width, loss)
            for name, cost, width, loss in cands]
    named = [name is not None for name, *_ in cands]
    return make_table(tasks, _unique_names(made, named), source=source,
                      cost_unit=str(data.get("cost_unit", "units")),
                      direction=str(data.get("direction", "min")))


def _json_number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MtlspecError(f"{where}expected a number, got {json.dumps(value)}")
    return float(value)
