"""The 2-task results table (`PairsTable`): Δ of every task in every pair at every branch
point, built from measured metrics (`make_table`) and written back as `pairs.csv`
(`write_pairs`) and `single.csv` (`write_single`). Reading the formats: `pairs.load_pairs`.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mtlspec.errors import MtlspecError
from mtlspec.io import write_atomic

HEADER = ("task_a", "task_b", "branch", "task", "metric", "value", "direction")
SINGLE_HEADER = ("task", "metric", "value", "direction")

Metrics = dict[str, dict[str, float]]  # task → metric → value


@dataclass
class PairsTable:
    """Relative performance of every task in every pair at every branch point.

    Attributes:
        tasks: task names in order (their index is the task id).
        blocks: B; branch points run 0..B.
        delta: array (T, T, B+1): delta[t, s, b] = Δ_t (%) when t is trained with s sharing
            the first b blocks; the diagonal is unused (zero).
        source: where it came from (for messages).
        measured: (a, b, branch) → {task: {metric: value}} when read from measured metrics
            (None for TreeMTL's Δ tables); `single` and `higher` likewise.
    """

    tasks: tuple[str, ...]
    blocks: int
    delta: np.ndarray
    source: str = "<pairs>"
    measured: dict[tuple[str, str, int], Metrics] | None = None
    single: Metrics | None = None
    higher: dict[str, dict[str, bool]] | None = field(default=None)

    def sequence(self, task: str, other: str) -> np.ndarray:
        """Δ of `task` paired with `other` at branch points 0..B."""
        return self.delta[self.tasks.index(task), self.tasks.index(other)]

    def renamed(self, tasks: Sequence[str]) -> PairsTable:
        """The same table with task i called `tasks[i]` (for TreeMTL's numbered tasks)."""
        if len(tasks) != len(self.tasks):
            raise MtlspecError(f"{self.source}: the table has {len(self.tasks)} tasks but "
                               f"{len(tasks)} names were given")
        return PairsTable(tuple(tasks), self.blocks, self.delta, self.source)

    def reordered(self, tasks: Sequence[str]) -> PairsTable:
        """The table with its tasks in the order `tasks` (which must be the same names)."""
        if sorted(tasks) != sorted(self.tasks):
            missing = sorted(set(tasks) - set(self.tasks))
            extra = sorted(set(self.tasks) - set(tasks))
            raise MtlspecError(
                f"{self.source}: tasks do not match the spec's"
                + (f"; no results for {', '.join(missing)}" if missing else "")
                + (f"; results for unknown {', '.join(extra)}" if extra else ""))
        order = [self.tasks.index(t) for t in tasks]
        return PairsTable(tuple(tasks), self.blocks, self.delta[np.ix_(order, order)],
                          self.source, self.measured, self.single, self.higher)


def relative(value: float, single: float, higher: bool) -> float:
    """Δ in % of one metric: ±(value − single) / single × 100.

    Raises:
        ZeroDivisionError: `single` is 0 (callers turn it into a located error).

    Example:
        >>> relative(0.55, 0.5, True), relative(0.55, 0.5, False)
        (10.000000000000009, -10.000000000000009)
    """
    change = (value - single) / single * 100.0
    return change if higher else -change


MAX_BRANCH = 255  # as `mtlspec enumerate --blocks`: a deeper tree is a typo


def make_table(tasks: Sequence[str], measured: Mapping[tuple[str, str, int], Metrics],
               single: Metrics | None, higher: Mapping[str, Mapping[str, bool]], *,
               source: str = "<pairs>") -> PairsTable:
    """Build a `PairsTable` from measured metrics, checking that nothing is missing.

    Args:
        tasks: every task, in order.
        measured: (a, b, branch) → {task: {metric: value}} for every pair (a before b in
            `tasks`) and branch 0..B, both tasks' metrics.
        single: task → metric → baseline; None: the mean of each task's branch-0 values.
        higher: task → metric → True when higher is better.

    Raises:
        MtlspecError: a missing pair, branch point, metric, baseline or direction, or a zero
            baseline.
    """
    tasks = tuple(tasks)
    if len(tasks) < 2:
        raise MtlspecError(f"{source}: 2-task results need at least 2 tasks")
    bad = [k[2] for k in measured if not 0 <= k[2] <= MAX_BRANCH]
    if bad:
        raise MtlspecError(f"{source}: branch point {bad[0]} is outside 0..{MAX_BRANCH}")
    blocks = max((k[2] for k in measured), default=0)
    if blocks < 1:
        raise MtlspecError(f"{source}: no branch point above 0; need branch points 0..B")
    metric_names = _metric_names(tasks, measured, source)
    base = single if single is not None else _branch0_means(tasks, measured)
    delta = np.zeros((len(tasks), len(tasks), blocks + 1))
    for (i, a), (j, b) in itertools.combinations(enumerate(tasks), 2):
        for branch in range(blocks + 1):
            got = measured.get((a, b, branch)) or measured.get((b, a, branch))
            if got is None:
                raise MtlspecError(f"{source}: no results for the pair ({a}, {b}) at branch "
                                   f"{branch}", )
            for x, y, other in ((i, j, b), (j, i, a)):
                task = tasks[x]
                delta[x, y, branch] = _delta(task, other, branch, got.get(task, {}),
                                             metric_names[task], base, higher, source)
    return PairsTable(tasks, blocks, delta, source, dict(measured), base,
                      {t: dict(m) for t, m in higher.items()})


def _metric_names(tasks, measured, source) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {t: [] for t in tasks}
    for key, metrics in measured.items():
        for task, values in metrics.items():
            if task not in names:
                raise MtlspecError(f"{source}: results for unknown task {task} in {key[:2]}")
            names[task].extend(m for m in values if m not in names[task])
    return names


def _branch0_means(tasks, measured) -> Metrics:
    sums: dict[str, dict[str, list[float]]] = {}
    for (_, _, branch), metrics in measured.items():
        if branch == 0:
            for task, values in metrics.items():
                for metric, value in values.items():
                    sums.setdefault(task, {}).setdefault(metric, []).append(value)
    return {t: {m: float(np.mean(v)) for m, v in ms.items()} for t, ms in sums.items()}


def _delta(task, other, branch, values, names, base, higher, source) -> float:
    where = f"{source}: ({task}, {other}) at branch {branch}"
    if not names:
        raise MtlspecError(f"{source}: no metric for task {task}")
    out = []
    for metric in names:
        if metric not in values:
            raise MtlspecError(f"{where}: no value of {task} {metric}")
        ref = base.get(task, {}).get(metric)
        if ref is None:
            raise MtlspecError(f"{source}: no single-task baseline for {task} {metric}",)
        direction = higher.get(task, {}).get(metric)
        if direction is None:
            raise MtlspecError(f"{source}: no direction for {task} {metric}; add a "
                               "`direction` cell (higher or lower)")
        try:
            out.append(relative(values[metric], ref, direction))
        except ZeroDivisionError:
            raise MtlspecError(f"{source}: the single-task baseline of {task} {metric} is 0; "
                               "relative performance is undefined") from None
    return float(np.mean(out))


def write_pairs(path: str | Path, table: PairsTable) -> None:
    """Write measured results in the documented CSV format (atomically).

    Raises:
        MtlspecError: the table holds only Δ values (TreeMTL's format), not measurements.
    """
    if table.measured is None or table.higher is None:
        raise MtlspecError(f"{table.source}: holds relative performance only; nothing to write")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    written: set[tuple[str, str]] = set()
    for (a, b, branch), metrics in sorted(
            table.measured.items(), key=lambda kv: (table.tasks.index(kv[0][0]),
                                                    table.tasks.index(kv[0][1]), kv[0][2])):
        for task, values in metrics.items():
            for metric, value in values.items():
                first = (task, metric) not in written
                written.add((task, metric))
                direction = ("higher" if table.higher[task][metric] else "lower") if first else ""
                writer.writerow([a, b, branch, task, metric, repr(float(value)), direction])
    write_atomic(path, out.getvalue())


def write_single(path: str | Path, table: PairsTable) -> None:
    """Write the table's single-task baselines as `single.csv` (atomically)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SINGLE_HEADER)
    for task in table.tasks:
        for metric, value in (table.single or {}).get(task, {}).items():
            direction = (table.higher or {}).get(task, {}).get(metric)
            writer.writerow([task, metric, repr(float(value)),
                             "" if direction is None else ("higher" if direction else "lower")])
    write_atomic(path, out.getvalue())
