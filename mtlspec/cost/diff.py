"""Two cost reports side by side (`mtlspec diff`), and the regression gate on top of it
(`mtlspec check --against BASE --max-increase 5%`).

Rows: the total, each task's path (its nodes and its head), each head, and each node. A node
is matched across the reports by its name and the tasks it serves (`block 3 {segment,
depth}`), so a layout change shows as nodes removed and added, and the spec changes
(`mtlspec.spec.changes`) say which layout rows did it. Every figure carries base, new,
change and relative change (None where the base is 0 or one side lacks the row). Torch-free:
it reads saved reports (`mtlspec.cost.saved`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mtlspec.cost.budget import SLACK, percent
from mtlspec.cost.saved import SavedCost
from mtlspec.spec.changes import Change, spec_changes

_RUNS = re.compile(r" \(x\d+\)\Z")  # a DAG edge's "(x2)": how often it runs, not its identity


def human(value: float, unit: str) -> str:
    """A count with a K/M/G prefix: `1.235 GMACs`, `25.56M params`, `12 MACs`.

    Example:
        >>> human(1_234_567_890, "MACs"), human(-25_557_032, "params"), human(12, "MACs")
        ('1.235 GMACs', '−25.56M params', '12 MACs')
    """
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            number = f"{value / scale:.4g}"
            text = f"{number} {prefix}MACs" if unit == "MACs" else f"{number}{prefix} {unit}"
            return text.replace("-", "−")
    return f"{value:.4g} {unit}".replace("-", "−")


@dataclass(frozen=True)
class Figure:
    """One figure in both reports (None: the row is missing on that side)."""

    base: int | None
    new: int | None

    @property
    def change(self) -> int | None:
        return None if self.base is None or self.new is None else self.new - self.base

    @property
    def relative(self) -> float | None:
        """(new − base) / base; None when the base is 0 or a side is missing."""
        if self.change is None or not self.base:
            return None
        return self.change / self.base

    def describe(self, unit: str) -> str:
        """`+1.2 GMACs (+14.00%)`, `added`, `removed`, or `0`."""
        if self.base is None:
            return "added"
        if self.new is None:
            return "removed"
        if not self.change:
            return "0"
        rel = f" ({percent(self.relative)})" if self.relative is not None else ""
        return ("+" if self.change > 0 else "") + human(self.change, unit) + rel

    def to_json(self) -> dict[str, Any]:
        return {"base": self.base, "new": self.new, "change": self.change,
                "relative": self.relative}


@dataclass(frozen=True)
class Row:
    """One line of a cost diff: the total, a task's path, a head or a node."""

    kind: str  # total, task, head, node
    name: str
    tasks: tuple[str, ...]
    macs: Figure
    params: Figure

    @property
    def status(self) -> str:
        if self.macs.base is None:
            return "added"
        if self.macs.new is None:
            return "removed"
        return "changed" if self.macs.change or self.params.change else "same"

    @property
    def label(self) -> str:
        """`total`, `task depth (path)`, `head depth`, `block 3 {segment, depth}`."""
        if self.kind == "node":
            return f"{self.name} {{{', '.join(self.tasks)}}}"
        return {"total": "total", "task": f"task {self.name} (path)",
                "head": f"head {self.name}"}[self.kind]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "tasks": list(self.tasks),
                "status": self.status, "macs": self.macs.to_json(),
                "params": self.params.to_json()}


@dataclass(frozen=True)
class CostDiff:
    """Two reports compared (see the module docstring); `base`/`new` name the sides."""

    base: str
    new: str
    spec: str
    total: Row
    tasks: list[Row]
    heads: list[Row]
    nodes: list[Row]
    changes: list[Change] = field(default_factory=list)

    def rows(self) -> list[Row]:
        return [self.total, *self.tasks, *self.heads, *self.nodes]

    def to_json(self) -> dict[str, Any]:
        """What `mtlspec diff --output-format json` prints."""
        return {"base": self.base, "new": self.new, "spec": self.spec,
                "total": self.total.to_json(), "tasks": [r.to_json() for r in self.tasks],
                "heads": [r.to_json() for r in self.heads],
                "nodes": [r.to_json() for r in self.nodes],
                "spec_changes": [c.to_json() for c in self.changes]}


def _pair(base: dict, new: dict, kind: str, key_tasks=None) -> list[Row]:
    """Rows over the union of keys, in the new report's order (removed ones last)."""
    keys = list(new) + [k for k in base if k not in new]
    rows = []
    for key in keys:
        old, now = base.get(key), new.get(key)
        name, tasks = key_tasks(key) if key_tasks else (key, (key,))
        rows.append(Row(kind, name, tasks,
                        Figure(old and old[0], now and now[0]),
                        Figure(old and old[1], now and now[1])))
    return rows


def _nodes(saved: SavedCost) -> dict[tuple[str, tuple[str, ...]], tuple[int, int]]:
    out: dict[tuple[str, tuple[str, ...]], tuple[int, int]] = {}
    for n in saved.nodes:
        key = (_RUNS.sub("", n.name), tuple(n.tasks))
        macs, params = out.get(key, (0, 0))
        out[key] = (macs + n.macs, params + n.params)
    return out


def diff_costs(base: SavedCost, new: SavedCost, *, base_name: str = "base",
               new_name: str = "new") -> CostDiff:
    """Compare two saved cost reports.

    Args:
        base, new: the reports (`mtlspec.cost.saved.load_saved`, or `saved_report` data).
        base_name, new_name: how the sides are named in the output (file or `git:REV:path`).

    Returns:
        The `CostDiff`.

    Example:
        >>> import json
        >>> from mtlspec import load_model
        >>> from mtlspec.cost import cost, cost_json
        >>> from mtlspec.cost.saved import load_saved, saved_report
        >>> def report(text):
        ...     data = saved_report(cost_json("x", cost(load_model(text))), text)
        ...     return load_saved(json.dumps(data), "x")
        >>> old = open("specs/conal_multidigits.mtl").read()
        >>> new = old.replace("{left} {right} {parity}\\n    {left} {right} {parity}\\n  ]",
        ...                   "{left, right} {parity}\\n    {left} {right} {parity}\\n  ]")
        >>> diff = diff_costs(report(old), report(new))
        >>> [c.describe() for c in diff.changes]
        ['layout row 4: {left} {right} {parity} → {left, right} {parity}']
        >>> [(r.label, r.status) for r in diff.nodes if r.status != "same"]
        [('block 4 {left, right}', 'added'), ('block 4 {left}', 'removed'),
         ('block 4 {right}', 'removed')]
        >>> diff.total.macs.change < 0
        True
    """
    from mtlspec.cost.saved import spec_of

    heads_old = {t: (h.macs, h.params) for t, h in base.heads.items()}
    heads_new = {t: (h.macs, h.params) for t, h in new.heads.items()}
    paths_old = {t: (f.path_macs, f.path_params) for t, f in base.tasks.items()}
    paths_new = {t: (f.path_macs, f.path_params) for t, f in new.tasks.items()}
    total = Row("total", "total", tuple(new.tasks),
                Figure(base.total.macs, new.total.macs),
                Figure(base.total.params, new.total.params))
    return CostDiff(
        base=base_name, new=new_name, spec=new.spec, total=total,
        tasks=_pair(paths_old, paths_new, "task"),
        heads=_pair(heads_old, heads_new, "head"),
        nodes=_pair(_nodes(base), _nodes(new), "node", key_tasks=lambda key: key),
        changes=spec_changes(spec_of(base, base_name), spec_of(new, new_name)),
    )


@dataclass(frozen=True)
class Growth:
    """One figure the regression gate compares: a total or a task's path, MACs or params.

    `over` when it grew by more than `max_increase` (relative; a cost at exactly the limit
    passes). `sources` are the rows it grew through, largest first.
    """

    file: str
    spec: str
    what: str  # "total MACs", "task depth: path params"
    unit: str  # MACs or params
    figure: Figure
    max_increase: float
    sources: tuple[str, ...] = ()

    @property
    def over(self) -> bool:
        base, new = self.figure.base, self.figure.new
        if base is None or new is None:
            return False
        return new > base * (1 + self.max_increase) * (1 + SLACK) if base else new > 0

    def message(self) -> str:
        """`total MACs grew +14.00% (1.2 → 1.37 GMACs; limit +5.00%), from: block 4 ...`."""
        f = self.figure
        grown = percent(f.relative) if f.relative is not None else "from 0"
        text = (f"{self.what} grew {grown} ({human(f.base, self.unit)} → "
                f"{human(f.new, self.unit)}; limit {percent(self.max_increase)})")
        return text + (f", from: {'; '.join(self.sources)}" if self.sources else "")

    def row(self) -> dict[str, str]:
        """The row `mtlspec check --against` prints."""
        return {"spec": self.spec, "what": self.what,
                "baseline": human(self.figure.base, self.unit),
                "now": human(self.figure.new, self.unit),
                "change": self.figure.describe(self.unit),
                "limit": percent(self.max_increase),
                "status": "REGRESSION" if self.over else "ok"}

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "spec": self.spec, "what": self.what, "unit": self.unit,
                **self.figure.to_json(), "max_increase": self.max_increase,
                "over": self.over, "sources": list(self.sources)}


def _sources(diff: CostDiff, task: str | None, unit: str) -> tuple[str, ...]:
    """The node and head rows a figure grew through (serving `task`, or all), largest first."""
    attr = "macs" if unit == "MACs" else "params"
    grew = []
    for row in (*diff.nodes, *diff.heads):
        if task is not None and task not in row.tasks:
            continue
        fig = getattr(row, attr)
        amount = (fig.new or 0) - (fig.base or 0)
        if amount > 0:
            how = "added" if fig.base is None else percent(fig.relative) if fig.relative else ""
            grew.append((amount, f"{row.label} +{human(amount, unit)}"
                                 + (f" ({how})" if how else "")))
    grew.sort(key=lambda item: -item[0])
    layout = [c.describe() for c in diff.changes if c.layout]
    return tuple(text for _, text in grew[:3]) + tuple(layout[:3])


def growth(diff: CostDiff, file: str, max_increase: float) -> list[Growth]:
    """Every figure the gate compares: total MACs and params, each task's path MACs and params.

    Tasks only one report has are left out (a new task has no baseline).

    Example:
        >>> fig = Figure(100, 120)
        >>> g = Growth("x.mtl", "x", "total MACs", "MACs", fig, 0.05)
        >>> g.over, g.message()
        (True, 'total MACs grew +20.00% (100 MACs → 120 MACs; limit +5.00%)')
    """
    out = []
    for unit, attr in (("MACs", "macs"), ("params", "params")):
        out.append(Growth(file, diff.spec, f"total {unit}", unit, getattr(diff.total, attr),
                          max_increase, _sources(diff, None, unit)))
    for row in diff.tasks:
        if row.status in ("added", "removed"):
            continue
        for unit, attr in (("MACs", "macs"), ("params", "params")):
            out.append(Growth(file, diff.spec, f"task {row.name}: path {unit}", unit,
                              getattr(row, attr), max_increase,
                              _sources(diff, row.name, unit)))
    return out
