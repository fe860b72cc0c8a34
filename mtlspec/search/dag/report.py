"""Searched DAG topologies → a DAG spec, and the per-task topology report (paper's Table 5).

No torch here: writing the spec and measuring its topologies are plain data.

Table 5's measures, as defined here (the paper names them, our definitions fill the gaps):

- depth D: the number of edges on the longest path from a read-in state to a read-out
  state over the task's live edges (0 when a state is both read in and read out);
- width W: the largest number of live states at one level, a state's level being the length
  of the longest live path reaching it from a read-in state;
- sparsity S: the share of the central network's edges (0 < j − i ≤ M) the task does *not*
  use live, 1 − |live edges| / |central edges|.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mtlspec.errors import MtlspecError
from mtlspec.search.dag.flow import Reduction, central_edges, live_edges
from mtlspec.spec import ir, validate


@dataclass(frozen=True)
class TopologyStats:
    """One task's topology measures (see the module docstring)."""

    task: str
    depth: int
    width: int
    sparsity: float
    edges: int
    read_in: tuple[int, ...]
    read_out: tuple[int, ...]


def _live(topo: ir.Topology) -> frozenset[tuple[int, int]]:
    return frozenset().union(*(live_edges(a, b, topo.edges)
                               for a in topo.read_in for b in topo.read_out))


def topology_stats(topo: ir.Topology, central: ir.Central) -> TopologyStats:
    """Depth, width and sparsity of one task's topology.

    Example:
        >>> c = ir.Central(states=4, flow=3, stem=ir.Call(name="conv"),
        ...                edge=ir.Call(name="conv3x3"))
        >>> t = ir.Topology(task="a", read_in={1}, edges={(1, 2), (1, 3), (2, 4), (3, 4)},
        ...                 read_out={4})
        >>> s = topology_stats(t, c); (s.depth, s.width, round(s.sparsity, 2))  # 4 of 6 edges
        (2, 2, 0.33)
    """
    live = _live(topo)
    states = {s for e in live for s in e} | (topo.read_in & topo.read_out)
    level = {s: 0 for s in states if s in topo.read_in}
    for j in sorted(states):  # states are numbered in topological order
        reach = [level[i] + 1 for i, jj in live if jj == j and i in level]
        if reach:
            level[j] = max(reach)
    depth = max((level[s] for s in topo.read_out if s in level), default=0)
    counts: dict[int, int] = {}
    for s in states:
        counts[level[s]] = counts.get(level[s], 0) + 1
    total = len(central_edges(central.states, central.flow))
    return TopologyStats(topo.task, depth, max(counts.values(), default=0),
                         1.0 - len(live) / total if total else 0.0, len(live),
                         tuple(sorted(topo.read_in)), tuple(sorted(topo.read_out)))


def spec_stats(spec: ir.DagSpec) -> list[TopologyStats]:
    """`topology_stats` for every task, in task order."""
    topos = {t.task: t for t in spec.topologies}
    return [topology_stats(topos[t.name], spec.central) for t in spec.tasks]


def to_dag_spec(base: ir.DagSpec, reductions: Mapping[str, Reduction], *,
                name: str | None = None) -> ir.DagSpec:
    """The discretised per-task topologies as a validated DAG spec.

    Args:
        base: the search's central spec (input, central network, tasks, heads, budget).
        reductions: task → its discrete topology (read-in, edges, read-out).
        name: the new spec's name (default: the base's name + `_searched`).

    Returns:
        The spec (`mtlspec.spec.format` prints it canonically).

    Raises:
        MtlspecError: a task without a reduction; SpecError when the result does not validate.

    Example:
        >>> from mtlspec.spec import load
        >>> base = load("specs/multidigits_dag.mtl").spec
        >>> chain = Reduction(1, 3, frozenset({(1, 2), (2, 3)}), frozenset(), ())
        >>> spec = to_dag_spec(base, dict.fromkeys(["left", "right", "parity"], chain))
        >>> spec.name, sorted(spec.topologies[0].edges)
        ('multidigits_dag_searched', [(1, 2), (2, 3)])
    """
    missing = [t.name for t in base.tasks if t.name not in reductions]
    if missing:
        raise MtlspecError(f"no searched topology for task(s) {', '.join(missing)}")
    topologies = tuple(
        ir.Topology(task=t.name, read_in=frozenset({reductions[t.name].read_in}),
                    edges=frozenset(reductions[t.name].edges),
                    read_out=frozenset({reductions[t.name].read_out}))
        for t in base.tasks)
    spec = base.model_copy(update={"name": name or f"{base.name}_searched",
                                   "topologies": topologies})
    return validate(spec)


def full_spec(base: ir.DagSpec, tasks: list[str] | None = None, *,
              name: str | None = None) -> ir.DagSpec:
    """Every (chosen) task uses the whole central network: read-in 1, all edges, read-out N.

    With all tasks this is the *all-shared* baseline; with one task, its single-task network.

    Example:
        >>> from mtlspec.spec import load
        >>> full_spec(load("specs/multidigits_dag.mtl").spec, ["left"]).topologies[0].read_out
        frozenset({6})
    """
    keep = [t for t in base.tasks if tasks is None or t.name in tasks]
    n = base.central.states
    edges = frozenset(central_edges(n, base.central.flow))
    topologies = tuple(ir.Topology(task=t.name, read_in=frozenset({1}), edges=edges,
                                   read_out=frozenset({n})) for t in keep)
    suffix = "shared" if tasks is None else "_".join(tasks)
    return validate(base.model_copy(update={
        "name": name or f"{base.name}_{suffix}", "tasks": tuple(keep),
        "topologies": topologies}))


def stats_rows(stats: list[TopologyStats]) -> list[dict[str, str]]:
    """Rows for `mtlspec.cli.rich_table.print_table`: task, in, out, edges, D, W, S."""
    return [{"task": s.task, "in": " ".join(map(str, s.read_in)),
             "out": " ".join(map(str, s.read_out)), "edges": str(s.edges), "D": str(s.depth),
             "W": str(s.width), "S": f"{s.sparsity:.2f}"} for s in stats]
