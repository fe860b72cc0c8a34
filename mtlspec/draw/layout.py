"""Where a diagram's boxes go and which way its arrows run, in inches (no drawing here).

Boxes are sized from their measured labels, so nothing is guessed:

- **columns** (trees, groupings): each column is as wide as its widest box, with a gap between
  columns; a node spanning k tasks owns a band of k row pitches, and the pitch is large enough
  for every box to fit its band, so boxes never overlap. An arrow leaves its box sideways,
  runs along its own band to the column's edge, crosses the gap (where no box is) and enters
  the target box sideways: it never crosses a box;
- **DAGs**: states in a row; an edge to the next state runs straight across the gap between
  them; a longer edge climbs from the top of its state to a lane above the row, runs along it
  and drops onto its target; read-ins and read-outs use lanes below the row, and the gaps
  before the first state and after the last one. Lanes are assigned so that edges whose spans
  overlap never share one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

GAP = 0.5  # between columns
VGAP = 0.14  # between boxes of one column
LANE = 0.11  # between lanes, and between the vertical runs in a gap
MARGIN = 0.25
CLEAR = 0.03  # an arrow stops this short of a box
Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    """A box's centre and size (inches)."""

    x: float
    y: float
    w: float
    h: float

    @property
    def left(self) -> float:
        return self.x - self.w / 2

    @property
    def right(self) -> float:
        return self.x + self.w / 2

    @property
    def top(self) -> float:
        return self.y + self.h / 2

    @property
    def bottom(self) -> float:
        return self.y - self.h / 2


@dataclass
class Layout:
    """Boxes by node, arrow routes (u, v, edge data, points), column headers (x, text), and the
    drawing's size; `shift` moved everything into the positive quadrant."""

    boxes: dict[str, Box]
    routes: list[tuple[str, str, dict[str, Any], list[Point]]] = field(default_factory=list)
    headers: list[tuple[float, str]] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


def layout(g: nx.MultiDiGraph, sizes: Mapping[str, tuple[float, float]]) -> Layout:
    """Boxes and arrow routes of a diagram graph (`mtlspec.draw.graph`), from box sizes.

    Args:
        g: the diagram graph.
        sizes: node → (width, height) of its labelled box, inches.

    Returns:
        The layout, every coordinate ≥ `MARGIN`.

    Example:
        >>> from mtlspec.draw.graph import graph
        >>> from mtlspec.spec import load
        >>> g = graph(load("specs/conal_multidigits.mtl").spec)
        >>> plan = layout(g, dict.fromkeys(g.nodes, (1.0, 0.3)))
        >>> round(plan.boxes["b2:left,right"].left - plan.boxes["b1:left,right,parity"].right, 2)
        0.5
    """
    plan = _DAG(g, sizes).run() if g.graph["kind"] == "dag" else _columns(g, sizes)
    return _fit(plan)


def _spread(count: int, room: float, step: float = 0.06) -> list[float]:
    """`count` offsets centred on 0, `step` apart but within ±room/2."""
    if count <= 1:
        return [0.0] * count
    step = min(step, room / (count - 1))
    return [(i - (count - 1) / 2) * step for i in range(count)]


def _ends(g: nx.MultiDiGraph, boxes: Mapping[str, Box]) -> dict[tuple, tuple[float, float]]:
    """Per edge (u, v, key): the vertical offsets where it leaves u and enters v (a tree's
    edges fan out from one point, as in the TreeMTL figures)."""
    out: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0])
    fan_out = g.graph["kind"] == "model"
    for node, box in boxes.items():
        leaving = [] if fan_out else list(g.out_edges(node, keys=True))
        for side, edges in ((0, leaving), (1, list(g.in_edges(node, keys=True)))):
            for edge, dy in zip(edges, _spread(len(edges), box.h * 0.6), strict=True):
                out[edge][side] = dy
    return {edge: (a, b) for edge, (a, b) in out.items()}


def _columns(g: nx.MultiDiGraph, sizes: Mapping[str, tuple[float, float]]) -> Layout:
    columns: dict[int, list[str]] = defaultdict(list)
    for node, column in g.nodes(data="column"):
        columns[column].append(node)
    # a wider gap where many arrows cross it, so they stay apart
    gap = max(GAP, 2 * LANE * max(max(g.in_degree(n), g.out_degree(n)) for n in g.nodes))
    edge_x: dict[int, tuple[float, float]] = {}
    cursor = 0.0
    for column in sorted(columns):
        width = max(sizes[n][0] for n in columns[column])
        edge_x[column] = (cursor, cursor + width)
        cursor += width + gap
    span = {n: len(g.nodes[n].get("tasks", ())) or 1 for n in g.nodes}
    pitch = max((sizes[n][1] + VGAP) / span[n] for n in g.nodes)
    boxes = {n: Box(sum(edge_x[d["column"]]) / 2, -d["rank"] * pitch, *sizes[n])
             for n, d in g.nodes(data=True)}
    plan = Layout(boxes)
    ends = _ends(g, boxes)
    for u, v, key, data in g.edges(keys=True, data=True):
        du, dv = ends[(u, v, key)]
        a, b = boxes[u], boxes[v]
        lane_u = edge_x[g.nodes[u]["column"]][1] + gap / 4
        lane_v = edge_x[g.nodes[v]["column"]][0] - gap / 4
        points = [(a.right + CLEAR, a.y + du), (lane_u, a.y + du), (lane_v, b.y + dv),
                  (b.left - CLEAR, b.y + dv)]
        plan.routes.append((u, v, data, points))
    if g.graph["kind"] == "model":
        plan.headers = [(sum(edge_x[c]) / 2, f"block {c}") for c in sorted(columns)[1:-1]]
    return plan


def _lanes(intervals: list[tuple[float, float]]) -> list[int]:
    """Greedy interval colouring: a lane index per interval, overlapping ones apart."""
    order = sorted(range(len(intervals)), key=lambda i: intervals[i])
    ends: list[float] = []
    lane = [0] * len(intervals)
    for i in order:
        lo, hi = intervals[i]
        free = next((k for k, end in enumerate(ends) if end < lo - LANE), None)
        if free is None:
            free = len(ends)
            ends.append(hi)
        ends[free] = hi
        lane[i] = free
    return lane


class _DAG:
    """The row of states, its lanes and gaps (see the module docstring)."""

    def __init__(self, g: nx.MultiDiGraph, sizes: Mapping[str, tuple[float, float]]) -> None:
        self.g, self.sizes = g, sizes
        self.states = sorted((n for n, k in g.nodes(data="kind") if k == "state"),
                             key=lambda n: g.nodes[n]["column"])
        self.tasks = sorted((n for n, k in g.nodes(data="kind") if k == "task"),
                            key=lambda n: g.nodes[n]["rank"])
        edges = list(g.edges(keys=True, data=True))
        self.hops = [e for e in edges if e[3]["style"] == "solid" and self._far(e)]
        self.below = [e for e in edges if e[3]["style"] in ("read_in", "read_out")
                      and not (e[3]["style"] == "read_in" and self._first(e[1]))]

    def _far(self, edge: tuple) -> bool:
        return self.g.nodes[edge[1]]["column"] - self.g.nodes[edge[0]]["column"] > 1

    def _first(self, state: str) -> bool:
        return state == self.states[0]

    def run(self) -> Layout:
        reads_in = sum(e[3]["style"] == "read_in" for e in self.below)
        reads_out = len(self.below) - reads_in
        gaps = [max(GAP, (reads_in + 1) * LANE)] + [GAP] * (len(self.states) - 1)
        gaps.append(max(GAP, (reads_out + 1) * LANE))
        boxes: dict[str, Box] = {}
        cursor = 0.0
        row = ["input", *self.states]
        for node, gap in zip(row, gaps, strict=False):
            w, h = self.sizes[node]
            boxes[node] = Box(cursor + w / 2, 0.0, w, h)
            cursor += w + gap
        self.gap_in = (boxes["input"].right, boxes[self.states[0]].left)
        self.gap_out = (boxes[self.states[-1]].right, cursor)
        width = max(self.sizes[t][0] for t in self.tasks)
        pitch = max(self.sizes[t][1] for t in self.tasks) + VGAP
        middle = (len(self.tasks) - 1) / 2
        for t in self.tasks:
            rank = self.g.nodes[t]["rank"]
            boxes[t] = Box(cursor + width / 2, (middle - rank) * pitch, *self.sizes[t])
        self.boxes = boxes
        plan = Layout(boxes)
        self.ports = self._ports()
        plan.routes = self._routes()
        return plan

    def _ports(self) -> dict[tuple, float]:
        """Per (edge, end) the x offset where it meets a state's top or bottom."""
        at: dict[tuple[str, str], list[tuple]] = defaultdict(list)
        for e in self.hops:
            at[(e[0], "top")].append((e, 0))
            at[(e[1], "top")].append((e, 1))
        for e in self.below:
            state = e[1] if e[3]["style"] == "read_in" else e[0]
            at[(state, "bottom")].append((e, 1 if e[3]["style"] == "read_in" else 0))
        ports: dict[tuple, float] = {}
        for (state, _), ends in at.items():
            for end, dx in zip(ends, _spread(len(ends), self.boxes[state].w * 0.6),
                               strict=True):
                ports[(end[0][:3], end[1])] = dx
        return ports

    def _routes(self) -> list[tuple[str, str, dict[str, Any], list[Point]]]:
        b = self.boxes
        top = max(b[s].top for s in self.states)
        bottom = min(min(b[s].bottom for s in self.states), b["input"].bottom)
        routes = []
        hop_x = [(b[u].x + self.ports[((u, v, k), 0)], b[v].x + self.ports[((u, v, k), 1)])
                 for u, v, k, _ in self.hops]
        for (u, v, _k, data), (x0, x1), lane in zip(self.hops, hop_x, _lanes(hop_x),
                                                    strict=True):
            y = top + (lane + 1) * LANE
            routes.append((u, v, data, [(x0, b[u].top + CLEAR), (x0, y), (x1, y),
                                        (x1, b[v].top + CLEAR)]))
        routes += self._below_routes(bottom)
        routes += self._straight_routes()
        return routes

    def _below_routes(self, bottom: float) -> list[tuple]:
        b, spans, verticals = self.boxes, [], []
        gap_in = iter(self._gap_xs(self.gap_in, "read_in"))
        gap_out = iter(self._gap_xs(self.gap_out, "read_out"))
        for u, v, k, data in self.below:
            if data["style"] == "read_in":
                x_state, x_gap = b[v].x + self.ports[((u, v, k), 1)], next(gap_in)
            else:
                x_state, x_gap = b[u].x + self.ports[((u, v, k), 0)], next(gap_out)
            spans.append((min(x_state, x_gap), max(x_state, x_gap)))
            verticals.append((x_state, x_gap))
        routes = []
        for (u, v, _k, data), (x_state, x_gap), lane in zip(self.below, verticals,
                                                             _lanes(spans), strict=True):
            y = bottom - (lane + 1) * LANE
            if data["style"] == "read_in":
                start = b[u].right + CLEAR
                points = [(start, 0.0), (x_gap, 0.0), (x_gap, y), (x_state, y),
                          (x_state, b[v].bottom - CLEAR)]
            else:
                end = b[v].left - CLEAR
                points = [(x_state, b[u].bottom - CLEAR), (x_state, y), (x_gap, y),
                          (x_gap, b[v].y), (end, b[v].y)]
            routes.append((u, v, data, points))
        return routes

    def _gap_xs(self, gap: tuple[float, float], style: str) -> list[float]:
        count = sum(e[3]["style"] == style for e in self.below)
        step = (gap[1] - gap[0]) / (count + 1)
        return [gap[0] + step * (i + 1) for i in range(count)]

    def _straight_routes(self) -> list[tuple]:
        """Edges to the next state, and read-ins of the first state: straight across a gap."""
        b, g = self.boxes, self.g
        near = [(u, v, k, d) for u, v, k, d in g.edges(keys=True, data=True)
                if (d["style"] == "solid" and not self._far((u, v)))
                or (d["style"] == "read_in" and self._first(v))]
        by_pair: dict[tuple[str, str], list] = defaultdict(list)
        for edge in near:
            by_pair[edge[:2]].append(edge)
        routes = []
        for (u, v), edges in by_pair.items():
            room = min(b[u].h, b[v].h) * 0.6
            for (_, _, _, data), dy in zip(edges, _spread(len(edges), room), strict=True):
                routes.append((u, v, data, [(b[u].right + CLEAR, dy), (b[v].left - CLEAR, dy)]))
        return routes


def _fit(plan: Layout) -> Layout:
    """Shift everything so the drawing starts at (MARGIN, MARGIN); set its size."""
    xs = [x for box in plan.boxes.values() for x in (box.left, box.right)]
    ys = [y for box in plan.boxes.values() for y in (box.bottom, box.top)]
    for *_, points in plan.routes:
        xs += [p[0] for p in points]
        ys += [p[1] for p in points]
    dx, dy = MARGIN - min(xs), MARGIN - min(ys)
    plan.boxes = {n: Box(b.x + dx, b.y + dy, b.w, b.h) for n, b in plan.boxes.items()}
    plan.routes = [(u, v, d, [(x + dx, y + dy) for x, y in points])
                   for u, v, d, points in plan.routes]
    plan.headers = [(x + dx, text) for x, text in plan.headers]
    plan.width = max(xs) - min(xs) + 2 * MARGIN
    plan.height = max(ys) - min(ys) + 2 * MARGIN
    return plan
