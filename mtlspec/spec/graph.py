"""Reachability over directed edges: the one graph walk of mtlspec (torch-free).

A DAG spec's topology is states joined by edges i → j; the validator asks which read-out
states its read-ins reach, the compiler which edges are live (on some read-in → read-out
path), and the DAG search's flow-based reduction whether its graph still connects.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TypeVar

Node = TypeVar("Node", bound=Hashable)


def reachable(starts: Iterable[Node], edges: Iterable[tuple[Node, Node]]) -> set[Node]:
    """Every node reachable from `starts` along the directed `edges`, the starts included.

    Example:
        >>> sorted(reachable([1], [(1, 2), (2, 3), (4, 1)]))
        [1, 2, 3]
    """
    successors: dict[Node, list[Node]] = {}
    for a, b in edges:
        successors.setdefault(a, []).append(b)
    seen = set(starts)
    todo = list(seen)
    while todo:
        for nxt in successors.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def live_edges(sources: Iterable[Node], sinks: Iterable[Node],
               edges: Iterable[tuple[Node, Node]]) -> frozenset[tuple[Node, Node]]:
    """The edges on some path from a node of `sources` to a node of `sinks`.

    Example:
        >>> sorted(live_edges([1], [3], [(1, 2), (2, 3), (1, 4), (5, 3)]))
        [(1, 2), (2, 3)]
    """
    edges = frozenset(edges)
    ahead = reachable(sources, edges)
    behind = reachable(sinks, ((b, a) for a, b in edges))
    return frozenset((a, b) for a, b in edges if a in ahead and b in behind)
