"""A candidate table for task grouping: which networks exist, what they cost, and what each
scores on the tasks it predicts (`Candidate`, `CandidateTable`, checked by `make_table`).
Reading the file formats: `mtlspec.search.grouping.table.load_table`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mtlspec.errors import MtlspecError

COST_UNITS = ("units", "gmacs")
# `gflops` was the first name of `gmacs` (both: 10^9 MACs, fvcore's convention).
COST_UNIT_SYNONYMS = {"gflops": "gmacs"}
DIRECTIONS = ("min", "max")
_TASK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Candidate:
    """One network that may be chosen.

    Attributes:
        name: identifies the network across tables (validation, test, early-stopped).
        cost: inference cost (units of a standard network, or GMACs).
        width: width as a fraction of a standard network (the spec's `width`).
        loss: value per task the network predicts; its keys are the trained tasks.
    """

    name: str
    cost: float
    width: float
    loss: Mapping[str, float] = field(hash=False)

    @property
    def trains(self) -> frozenset[str]:
        """The tasks the network is trained on (and can serve)."""
        return frozenset(self.loss)


@dataclass(frozen=True)
class CandidateTable:
    """Candidate networks over a task set.

    Attributes:
        tasks: task names in column order.
        candidates: the networks, in table order (ties are broken by this order).
        cost_unit: `units` (standard networks) or `gmacs`.
        direction: `min` when the values are losses, `max` when they are metrics.
        source: where the table came from, for messages.
    """

    tasks: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    cost_unit: str = "units"
    direction: str = "min"
    source: str = "<table>"

    def by_name(self, name: str) -> Candidate | None:
        """The candidate called `name`, or None."""
        for cand in self.candidates:
            if cand.name == name:
                return cand
        return None


def make_table(
    tasks: Sequence[str], candidates: Sequence[Candidate], *, cost_unit: str = "units",
    direction: str = "min", source: str = "<table>",
) -> CandidateTable:
    """Check candidates and build a table.

    Args:
        tasks: the task names (column order).
        candidates: the networks; each predicts a non-empty subset of `tasks`.
        cost_unit: `units` or `gmacs` (`gflops`: a synonym of `gmacs`).
        direction: `min` (losses) or `max` (metrics, higher is better).
        source: a file name for messages.

    Returns:
        The table.

    Raises:
        MtlspecError: an unknown task, a negative or non-finite cost or value, a network that
            predicts nothing, two networks with one name, or no candidate at all.

    Example:
        >>> t = make_table(["a"], [Candidate("a", 1.0, 1.0, {"a": 0.2})])
        >>> t.candidates[0].trains
        frozenset({'a'})
    """
    where = f"{source}: "
    cost_unit = COST_UNIT_SYNONYMS.get(cost_unit, cost_unit)
    if cost_unit not in COST_UNITS:
        raise MtlspecError(f"{where}unknown cost unit `{cost_unit}` (use units or gmacs)")
    if direction not in DIRECTIONS:
        raise MtlspecError(f"{where}unknown direction `{direction}` (use min or max)")
    check_task_names(tasks, where)
    if not candidates:
        raise MtlspecError(f"{where}the table lists no network")
    seen: set[str] = set()
    for cand in candidates:
        _check_candidate(cand, set(tasks), f"{where}network `{cand.name}`: ")
        if cand.name in seen:
            raise MtlspecError(f"{where}two networks are called `{cand.name}`",)
        seen.add(cand.name)
    from mtlspec.search.grouping.size import check_size  # said before any search starts

    check_size(source, len(tasks), [len(c.loss) for c in candidates])
    return CandidateTable(tuple(tasks), tuple(candidates), cost_unit, direction, source)


def check_task_names(tasks: Sequence[str], where: str) -> None:
    """Task columns are names, none twice (`where` starts each message)."""
    if not tasks:
        raise MtlspecError(f"{where}the table has no task column")
    for name in tasks:
        if not _TASK_NAME.match(name):
            raise MtlspecError(f"{where}`{name}` is not a task name (letters, digits, _)")
    dupes = sorted({t for t in tasks if list(tasks).count(t) > 1})
    if dupes:
        raise MtlspecError(f"{where}task column `{dupes[0]}` appears twice")


def _check_candidate(cand: Candidate, tasks: set[str], where: str) -> None:
    if not cand.loss:
        raise MtlspecError(f"{where}it predicts no task")
    unknown = sorted(set(cand.loss) - tasks)
    if unknown:
        raise MtlspecError(f"{where}unknown task `{unknown[0]}`")
    if not math.isfinite(cand.cost) or cand.cost < 0:
        raise MtlspecError(f"{where}cost must be a finite number ≥ 0, got {cand.cost}")
    if not math.isfinite(cand.width) or cand.width <= 0:
        raise MtlspecError(f"{where}width must be positive, got {cand.width}")
    for task, value in cand.loss.items():
        if not math.isfinite(value):
            raise MtlspecError(f"{where}the value for `{task}` is {value}")


def default_name(trains: Sequence[str], width: float) -> str:
    """`segment+depth`, or `normal@0.5` for a half-size network (tasks in table order)."""
    base = "+".join(trains)
    return base if width == 1 else f"{base}@{width:g}"
