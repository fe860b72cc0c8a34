"""One-line facts about a spec, for tables (`mtlspec validate --summary`, `make demo`)."""

from __future__ import annotations

from itertools import pairwise

from mtlspec.spec import ir
from mtlspec.spec.format import compact, count


def structure(spec: ir.AnySpec) -> str:
    """What the architecture looks like, in a few words.

    Example:
        >>> from mtlspec.spec import load
        >>> structure(load("specs/taskonomy_grouping_2_5.mtl").spec)
        '3 networks, 2.5 units'
    """
    return _STRUCTURE[spec.kind](spec)


def _tree(spec: ir.TreeSpec) -> str:
    branches = sum(len(b) - len(a) for a, b in pairwise(spec.layout))
    roots = len(spec.layout[0]) if spec.layout else 0
    return (f"{spec.backbone.ref}, {len(spec.layout)} blocks, {roots} root"
            f"{'s' * (roots != 1)}, {branches} split{'s' * (branches != 1)}")


def _dag(spec: ir.DagSpec) -> str:
    edges = len(frozenset().union(*(t.edges for t in spec.topologies)))
    return (f"{spec.central.states} states, flow {spec.central.flow}, "
            f"{edges} distinct edges in use")


def _grouping(spec: ir.GroupingSpec) -> str:
    units = sum(net.width for net in spec.networks)
    return f"{len(spec.networks)} networks, {compact(units)} units"


_STRUCTURE = {"model": _tree, "dag": _dag, "grouping": _grouping}


def budget_text(budget: ir.Budget | None) -> str:
    if budget is None:
        return "-"
    parts = []
    if budget.gmacs is not None:
        parts.append(f"≤{compact(budget.gmacs)} GMACs")
    if budget.params is not None:
        parts.append(f"≤{count(budget.params)} params")
    if budget.units is not None:
        parts.append(f"≤{compact(budget.units)} units")
    if budget.latency_ms is not None:
        parts.append(f"≤{compact(budget.latency_ms.ms)} ms ({budget.latency_ms.runtime})")
    return ", ".join(parts) or "-"


def summarize(spec: ir.AnySpec, filename: str) -> dict[str, str]:
    """A table row: file, kind, name, tasks, structure, budget."""
    return {
        "file": filename,
        "kind": spec.kind,
        "name": spec.name,
        "tasks": ", ".join(ir.task_names(spec)),
        "structure": structure(spec),
        "budget": budget_text(spec.budget),
    }
