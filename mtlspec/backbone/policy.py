"""Branching-point policy: which detected cut points make sensible block boundaries.

Every cut point passes one tensor on, so any of them *can* be a branching point; this policy
keeps those a person would choose (TreeMTL's points are residual-block and stage boundaries).
A cut point is rejected, with the first reason that applies, when it

1. lies inside a residual unit: its innermost enclosing module (not a plain container such as
   `nn.Sequential`) continues after it and holds a residual or gating branch (a transformer
   block's two residual halves, an MBConv with squeeze-excitation);
2. holds a channels-last tensor of a normalization's excursion (`permute → LayerNorm →
   permute`, ConvNeXt): the cut moves past the permute back;
3. feeds only normalization or activation layers (through views and dropouts): an op and the
   norm/activation it feeds stay together (conv | BN, BN | ReLU, a stage's end | the next
   stage's pre-norm);
4. is the output of a pre-normalization, a norm (plus activation) applied to something other
   than a weighted op's output: the norm belongs to the unit it feeds.

A block "begins with a norm layer" when every path from its input first meets a
normalization; rules 3 and 4 rule that out. A pre-norm residual unit (ViT) begins with its skip
connection and its norm together, which is a unit boundary. The partitioner then merges pieces
without weights into their neighbour (`partition`), and reports each decision.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import networkx as nx


@dataclass(frozen=True)
class Decision:
    """What the policy and merging made of one detected cut point.

    Attributes:
        cut: the fx node name of the cut point.
        kept: whether it is a block boundary of the detected blocks.
        reason: why (for kept points: the unit it completes).
    """

    cut: str
    kept: bool
    reason: str


def effective_consumers(graph: nx.DiGraph, v: Hashable) -> list[Hashable]:
    """Tensor-valued users of `v`, looking through view/dropout/identity ops."""
    found, frontier, seen = [], list(graph.succ[v]), set()
    while frontier:
        u = frontier.pop()
        if u in seen or not graph.nodes[u].get("tensor", True):
            continue
        seen.add(u)
        if graph.nodes[u].get("kind") == "shape":
            frontier.extend(graph.succ[u])
        else:
            found.append(u)
    return found


def _producer(graph: nx.DiGraph, v: Hashable, through: tuple[str, ...]) -> Hashable | None:
    """The first node at or above `v` (single tensor input chain) not of a kind in `through`."""
    while graph.nodes[v].get("kind") in through:
        inputs = [p for p in graph.pred[v] if graph.nodes[p].get("tensor", True)
                  and graph.nodes[p].get("op") != "get_attr"]
        if len(inputs) != 1:
            return None
        v = inputs[0]
    return v


def _branched_modules(graph: nx.DiGraph, seg: dict[Hashable, int]) -> set[str]:
    """Modules holding a segment that is not a chain (a residual add, a gate, a concat)."""
    branched_segments = set()
    for u, k in seg.items():
        preds = [p for p in graph.pred[u] if p in seg and graph.nodes[p].get("tensor", True)]
        if len(preds) > 1:
            branched_segments.add(k)
    return {scope for u, k in seg.items() if k in branched_segments
            for scope in graph.nodes[u].get("scopes", ())}


def _nhwc_excursions_with_weights(graph: nx.DiGraph) -> set[str]:
    return {d["excursion"] for _, d in graph.nodes(data=True)
            if d.get("layout") == "nhwc" and d.get("kind") == "weights"}


def _names(graph: nx.DiGraph, nodes: Iterable[Hashable]) -> str:
    return ", ".join(sorted({str(graph.nodes[n].get("target", n)) for n in nodes}))


def rejection(graph: nx.DiGraph, v: Hashable, context: dict) -> str | None:
    """Why cut point `v` is not a sensible block boundary, or None when it is."""
    data = graph.nodes[v]
    unit = data.get("unit")
    if unit and context["last"].get(unit, -1) > data.get("order", 0) \
            and unit in context["branched"]:
        return f"inside {unit}, a residual unit that continues after it"
    excursion = data.get("excursion")
    if data.get("layout") == "nhwc" and excursion and excursion not in context["weighted_nhwc"]:
        return "a channels-last tensor inside a normalization's permute; the cut moves past " \
               "the permute back"
    users = effective_consumers(graph, v)
    kinds = {graph.nodes[u].get("kind") for u in users}
    if users and kinds <= {"norm", "act"}:
        what = " and ".join(sorted({"normalization" if k == "norm" else "activation"
                                    for k in kinds}))
        return f"feeds only its {what} ({_names(graph, users)})"
    top = _producer(graph, v, ("shape", "act"))
    if top is not None and graph.nodes[top].get("kind") == "norm":
        inputs = [p for p in graph.pred[top] if graph.nodes[p].get("tensor", True)
                  and graph.nodes[p].get("op") != "get_attr"]
        source = _producer(graph, inputs[0], ("shape",)) if len(inputs) == 1 else None
        if source is None or graph.nodes[source].get("kind") != "weights":
            return f"output of a pre-normalization ({_names(graph, [top])}), which " \
                   "belongs to the unit it feeds"
    return None


def decide(graph: nx.DiGraph, cuts: list[Hashable], seg: dict[Hashable, int]
           ) -> dict[Hashable, str | None]:
    """Cut point → reason it is rejected (None: accepted). The last cut is always accepted.

    Args:
        graph: the facts graph of `trace`.
        cuts: the tensor cut points, in order; the last is the feature map.
        seg: segment of every vertex computed from the input (see `partition._scan`).

    Returns:
        A reason (str) for each rejected cut point, None for accepted ones.
    """
    last: dict[str, int] = {}
    for u in seg:
        for scope in graph.nodes[u].get("scopes", ()):
            last[scope] = max(last.get(scope, -1), graph.nodes[u].get("order", 0))
    context = {"last": last, "branched": _branched_modules(graph, seg),
               "weighted_nhwc": _nhwc_excursions_with_weights(graph)}
    reasons = {c: rejection(graph, c, context) for c in cuts[:-1]}
    reasons[cuts[-1]] = None
    return reasons


def kept_reason(graph: nx.DiGraph, v: Hashable) -> str:
    """Why a kept cut point is a boundary: the unit it completes and what follows it."""
    data = graph.nodes[v]
    unit = data.get("unit") or data.get("target", v)
    users = effective_consumers(graph, v)
    follows = f"; the next block reads it with {_names(graph, users)}" if users else ""
    return f"completes {unit}{follows}"


def violations(graph: nx.DiGraph, source: Hashable, cuts: tuple[Hashable, ...],
               assignment: dict[Hashable, int], weighted: list[bool]) -> list[str]:
    """What a partition breaks of the policy's promises (empty when it keeps them all).

    A block may not begin with a norm layer (every path from its input meeting a norm
    first), hold no weights, or (except the feature map) hand on a channels-last tensor of a
    norm's permute. `partition.check` calls this with the partition's own data.
    """
    problems = []
    entries = [source, *cuts[:-1]]
    context = {"weighted_nhwc": _nhwc_excursions_with_weights(graph)}
    for block, entry in enumerate(entries):
        users = [u for u in effective_consumers(graph, entry) if assignment.get(u) == block]
        if users and all(graph.nodes[u].get("kind") == "norm" for u in users):
            problems.append(f"block {block} begins with a norm layer ({_names(graph, users)})")
        if not weighted[block]:
            problems.append(f"block {block} holds no weights")
    for cut in cuts[:-1]:
        data = graph.nodes[cut]
        excursion = data.get("excursion")
        if data.get("layout") == "nhwc" and excursion and \
                excursion not in context["weighted_nhwc"]:
            problems.append(f"cut {cut} hands on a channels-last tensor")
    return problems
