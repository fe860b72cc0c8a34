"""Branching-point detection: where a backbone can be cut into one-tensor-in, one-tensor-out blocks.

A vertex v is a *cut point* when the vertices computed from the input split into a "before" set
A (holding the input and v) and an "after" set B (holding the output) such that no edge goes
from B to A and every edge from A to B leaves v: v's output is the only tensor crossing, a
minimum cut of size one.

TreeMTL finds these with one networkx min-cut after another. Here they come in linear time
from one observation: such a split exists exactly when removing v disconnects the input from
the output in the *undirected* graph (any A-B edge not leaving v would connect them, and
nothing can run from B back into v, since every vertex is reachable from the input and the
graph is acyclic). So the cut points are the articulation points on the input-output path
of the block-cut tree (Hopcroft-Tarjan biconnected components). Dominators of the output are
the same thing when every vertex reaches the output, but not with dead ends such as
`torch._assert`, which may sit on either side of a cut (the property test found such a case).

Then the branching-point policy (`policy`) rejects cut points that are not sensible block
boundaries (inside a residual unit, between an op and its norm or activation, channels-last
tensors of a norm's permute), and, as in TreeMTL, blocks holding no weights (only
parameter-free or normalization layers, class tokens, position embeddings) merge into the
preceding block with weights (the first block absorbs leading ones). Every decision is kept,
with its reason, in `Partition.decisions`.

Vertices not reachable from the input (`get_attr`, constants) are not assigned to a block: each
block copies the ones it uses (see `split`).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import networkx as nx

from mtlspec.backbone.policy import Decision, decide, kept_reason, violations


@dataclass(frozen=True)
class Partition:
    """Which vertex belongs to which block (plain data; `split` builds the modules).

    Attributes:
        assignment: vertex → block index for every vertex computed from the input (the input
            and output vertices excluded), in topological order.
        cuts: per block, the vertex whose output leaves it; the last one is the feature map.
        raw_cuts: every cut point found before merging, in order (valid explicit selections).
        decisions: per raw cut point, whether it is a boundary and why (empty without the
            policy, `merge=False`).
    """

    assignment: dict[str, int]
    cuts: tuple[str, ...]
    raw_cuts: tuple[str, ...]
    decisions: tuple[Decision, ...] = ()

    def __len__(self) -> int:
        return len(self.cuts)

    def members(self, block: int) -> list[str]:
        """Vertices of one block, in topological order."""
        return [v for v, b in self.assignment.items() if b == block]


def cut_points(graph: nx.DiGraph, source: Hashable, sink: Hashable) -> list[Hashable]:
    """Every size-one cut point between `source` and `sink` of a DAG, input to output.

    Args:
        graph: a directed acyclic graph.
        source: the input vertex (never a cut point itself).
        sink: the output vertex (never a cut point itself).

    Returns:
        The cut points in topological order (see the module docstring for the definition).
        Linear time: one biconnected-components pass over the vertices reachable from
        `source`.

    Raises:
        ValueError: `sink` is not reachable from `source`.

    Example:
        >>> g = nx.DiGraph([("x", "a"), ("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"),
        ...                 ("d", "out")])
        >>> cut_points(g, "x", "out")
        ['a', 'd']
    """
    return _scan(graph, source, sink)[0]


def _scan(graph: nx.DiGraph, source: Hashable, sink: Hashable
          ) -> tuple[list[Hashable], dict[Hashable, int]]:
    """The cut points in order, and the segment of every vertex reachable from the source.

    Segment k (1-based) holds the vertices after cut k-1 up to and including cut k; the source
    is alone in segment 0 and the sink is in segment len(cuts) + 1.
    """
    reach = nx.descendants(graph, source) | {source}
    if sink not in reach:
        raise ValueError(f"{sink!r} is not reachable from {source!r}")
    undirected = graph.subgraph(reach).to_undirected(as_view=True)
    cuts = _separators(undirected, source, sink)
    pos = {c: k for k, c in enumerate(cuts, 1)}
    seg = {source: 0, **pos}
    # Between two consecutive cuts the vertices form components of the graph without the
    # cuts; a component touching only cut k (a dead end hanging off it) joins segment k too.
    rest = undirected.subgraph(reach - set(cuts))
    for component in nx.connected_components(rest):
        if sink in component:
            k = len(cuts) + 1
        else:
            touching = [pos[n] for v in component for n in undirected[v] if n in pos]
            k = max(touching, default=1)
        seg.update({v: k for v in component if v != source})
    return cuts, seg


def _separators(undirected: nx.Graph, source: Hashable, sink: Hashable) -> list[Hashable]:
    """Articulation points on the source-sink path of the block-cut tree, in path order."""
    tree = nx.Graph()
    points = set(nx.articulation_points(undirected))
    end = {}
    for i, component in enumerate(nx.biconnected_components(undirected)):
        for v in component & points:
            tree.add_edge(("block", i), ("cut", v))
        for v in (source, sink):
            if v in component and v not in points:
                end[v] = ("block", i)
    for v in (source, sink):
        end.setdefault(v, ("cut", v))  # an end that is itself an articulation point
    if end[source] == end[sink]:
        return []
    path = nx.shortest_path(tree, end[source], end[sink])
    return [v for kind, v in path if kind == "cut" and v not in (source, sink)]


def partition(graph: nx.DiGraph, source: str, sink: str, *, merge: bool = True) -> Partition:
    """Cut a traced backbone graph into blocks at its cut points.

    A cut point whose output is not one tensor (vertex attribute `tensor` false) is skipped,
    since blocks pass exactly one tensor on.

    Args:
        graph: the graph of `trace` (vertex attributes `role`, `tensor`, and those the
            policy reads: `kind`, `unit`, `scopes`, `layout`, `excursion`, `order`).
        source: the input vertex.
        sink: the output vertex.
        merge: apply the branching-point policy and merge blocks holding no weights into the
            preceding block with weights, as TreeMTL does; False: one block per cut point.

    Returns:
        The `Partition`; `raw_cuts` lists every tensor cut point before the policy and merging.

    Raises:
        ValueError: `sink` is not reachable from `source`, has several predecessors, or
            reads the source directly (nothing to cut).

    Example:
        >>> from mtlspec.backbone import build, trace
        >>> built = build("torchvision.resnet34")
        >>> t = trace(built.model, (1, 3, 64, 64), head=built.head)
        >>> p = partition(t.graph, t.source, t.sink)
        >>> len(p), len(p.raw_cuts), p.cuts[0]
        (17, 36, 'maxpool')
    """
    if len(graph.pred[sink]) != 1 or source in graph.pred[sink]:
        raise ValueError(f"the sink {sink!r} must have exactly one predecessor, not the source")
    cuts, seg = _scan(graph, source, sink)
    raw_cuts = [c for c in cuts if graph.nodes[c].get("tensor", True)]
    rejected = decide(graph, raw_cuts, seg) if merge else {}
    boundaries = [c for c in raw_cuts if rejected.get(c) is None]
    # Segment k joins the block of the first boundary at or after it. The sink's only
    # predecessor is the last cut, and it is a tensor boundary, so r stays in range.
    position = {c: k for k, c in enumerate(cuts, 1)}
    keep = [position[c] for c in boundaries]
    block_of, r = [0] * (len(cuts) + 1), 0
    for k in range(1, len(cuts) + 1):
        while keep[r] < k:
            r += 1
        block_of[k] = r
    order = nx.topological_sort(graph.subgraph(seg))
    assignment = {u: block_of[seg[u]] for u in order if u not in (source, sink)}
    weighted = _weighted_blocks(graph, assignment, set(seg), len(boundaries))
    groups = _merge(weighted) if merge else [[b] for b in range(len(boundaries))]
    new_index = {b: g for g, members in enumerate(groups) for b in members}
    final = tuple(boundaries[members[-1]] for members in groups)
    return Partition(
        assignment={u: new_index[b] for u, b in assignment.items()},
        cuts=final,
        raw_cuts=tuple(raw_cuts),
        decisions=_decisions(graph, raw_cuts, rejected, final) if merge else (),
    )


def check(graph: nx.DiGraph, source: str, part: Partition) -> list[str]:
    """The policy's promises `part` breaks (see `policy.violations`); empty when none.

    Example:
        >>> from mtlspec.backbone import build, trace
        >>> built = build("torchvision.mobilenet_v2")
        >>> t = trace(built.model, (1, 3, 32, 32), head=built.head)
        >>> check(t.graph, t.source, partition(t.graph, t.source, t.sink))
        []
    """
    reach = nx.descendants(graph, source) | {source}
    weighted = _weighted_blocks(graph, part.assignment, reach, len(part.cuts))
    return violations(graph, source, part.cuts, part.assignment, weighted)


def _decisions(graph: nx.DiGraph, raw_cuts: list[str], rejected: dict[str, str | None],
               final: tuple[str, ...]) -> tuple[Decision, ...]:
    kept = set(final)
    out = []
    for c in raw_cuts:
        if c in kept:
            reason = "the feature map" if c == final[-1] else kept_reason(graph, c)
            out.append(Decision(c, True, reason))
        elif rejected.get(c) is not None:
            out.append(Decision(c, False, rejected[c]))
        else:
            out.append(Decision(c, False, "a piece without weights next to it merged into "
                                "the neighbouring block"))
    return tuple(out)


def _weighted_blocks(graph: nx.DiGraph, assignment: dict[str, int], reach: set,
                     n: int) -> list[bool]:
    """Which raw blocks hold weights: their own, or a parameter read through `get_attr`.

    Vertices outside `reach` (not computed from the input) are copied into the blocks that
    read them, so their weights count for those blocks.
    """
    const_weighted: dict[str, bool] = {}

    def weighted_const(v: str) -> bool:
        if v not in const_weighted:
            const_weighted[v] = graph.nodes[v]["role"] == "weights" or any(
                weighted_const(p) for p in graph.pred[v] if p not in reach)
        return const_weighted[v]

    weighted = [False] * n
    for u, b in assignment.items():
        if weighted[b]:
            continue
        weighted[b] = graph.nodes[u]["role"] == "weights" or any(
            weighted_const(p) for p in graph.pred[u] if p not in reach)
    return weighted


def _merge(weighted: list[bool]) -> list[list[int]]:
    """Group consecutive raw blocks so that every group holds weights (when any block does).

    A block without weights joins the group before it; a weighted block opens a new group unless
    the current group has no weights yet (leading weight-free blocks join the first weighted).
    """
    groups: list[list[int]] = []
    has_weights: list[bool] = []
    for b, w in enumerate(weighted):
        if groups and (not w or not has_weights[-1]):
            groups[-1].append(b)
            has_weights[-1] = has_weights[-1] or w
        else:
            groups.append([b])
            has_weights.append(w)
    return groups
