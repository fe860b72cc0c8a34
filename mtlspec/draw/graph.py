"""A spec's diagram as a graph (what every output format draws), and its DOT text.

- a tree spec: blocks left to right, one node per block copy labelled with the tasks that
  share it, edges from parent node to child node, one leaf per task at the end (the TreeMTL
  paper's figures);
- a DAG spec: the hidden states 1..N in a row, each task's edges in its own colour, read-in
  edges from the stem and read-out edges to the task's head;
- a grouping spec: networks on the left, tasks on the right, an edge from each network to the
  tasks it serves (dashed: trained on, served by another network).

Nodes carry `label` (wrapped to short lines), `kind`, `column` (left to right) and `rank`
(top to bottom; a tree node's rank is the centre of its tasks' leaves, which are contiguous);
edges carry `task` and `style`. `pos` is `(column, -rank)`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import networkx as nx

from mtlspec.spec.ir import AnySpec, DagSpec, GroupingSpec, TreeSpec, task_names
from mtlspec.spec.layout import ordered_groups

# Matplotlib's tab10, one colour per task (cycled beyond ten tasks).
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf")
LABEL_WIDTH = 24  # characters per label line: longer task sets wrap, task by task


def task_colors(spec: AnySpec) -> dict[str, str]:
    """One colour per task, in declaration order."""
    return {t: COLORS[i % len(COLORS)] for i, t in enumerate(task_names(spec))}


def group_label(group: Sequence[str], width: int = LABEL_WIDTH) -> str:
    """`{a, b, c}`, wrapped after a comma into lines of at most `width` characters (a longer
    single name keeps its own line): never more lines than tasks.

    Example:
        >>> print(group_label(["segment", "normal", "depth", "keypoint", "edge"]))
        {segment, normal, depth,
        keypoint, edge}
    """
    text = "{" + ", ".join(group) + "}"
    return "\n".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False))


def graph(spec: AnySpec) -> nx.MultiDiGraph:
    """The diagram of a spec as a graph (node attrs: label, kind, column, rank, pos; edge
    attrs: task, style).

    Example:
        >>> from mtlspec.spec import load
        >>> g = graph(load("specs/conal_multidigits.mtl").spec)
        >>> g.nodes["b1:left,right,parity"]["label"]
        '{left, right, parity}'
    """
    g = _GRAPHS[spec.kind](spec)
    for _, data in g.nodes(data=True):
        data["pos"] = (float(data["column"]), -float(data["rank"]))
    return g


def leaf_order(spec: TreeSpec) -> list[str]:
    """The tasks in the order a tree's leaves are drawn: depth first from the root, children in
    canonical order, so every node's tasks are contiguous and no edges cross.

    Example:
        >>> from mtlspec.spec import load
        >>> leaf_order(load("specs/nyuv2_resnet34.mtl").spec)
        ['segment', 'normal', 'depth']
    """
    order = task_names(spec)
    rows = [ordered_groups(row, order) for row in spec.layout]

    def walk(depth: int, tasks: list[str]) -> list[str]:
        if depth == len(rows):
            return tasks
        children = [g for g in rows[depth] if set(g) <= set(tasks)]
        return [t for child in children for t in walk(depth + 1, child)]

    return walk(0, list(order)) if rows else list(order)


def _tree(spec: TreeSpec) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(name=spec.name, kind="model")
    order = task_names(spec)
    rank = {t: i for i, t in enumerate(leaf_order(spec))}

    def centre(tasks: Sequence[str]) -> float:
        return sum(rank[t] for t in tasks) / len(tasks)

    g.add_node("input", label=spec.input.name, kind="input", column=0, rank=centre(order),
               tasks=tuple(order))
    parents = dict.fromkeys(order, "input")
    for depth, row in enumerate(spec.layout, start=1):
        owner: dict[str, str] = {}
        for group in ordered_groups(row, order):
            node = f"b{depth}:{','.join(group)}"
            g.add_node(node, label=group_label(group), kind="block", block=depth,
                       tasks=tuple(group), column=depth, rank=centre(group))
            g.add_edge(parents[group[0]], node, style="solid")
            owner.update(dict.fromkeys(group, node))
        parents = owner
    for task in order:
        node = f"task:{task}"
        g.add_node(node, label=task, kind="task", column=len(spec.layout) + 1,
                   rank=float(rank[task]), tasks=(task,))
        g.add_edge(parents[task], node, task=task, style="solid")
    return g


def _dag(spec: DagSpec) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(name=spec.name, kind="dag")
    n = spec.central.states
    order = task_names(spec)
    middle = (len(order) - 1) / 2
    g.add_node("input", label=f"{spec.input.name}\nstem", kind="input", column=0, rank=middle)
    for state in range(1, n + 1):
        g.add_node(f"s{state}", label=str(state), kind="state", column=state, rank=middle)
    for i, task in enumerate(order):
        g.add_node(f"task:{task}", label=task, kind="task", column=n + 1, rank=float(i))
    for topo in sorted(spec.topologies, key=lambda t: order.index(t.task)):
        for state in sorted(topo.read_in):
            g.add_edge("input", f"s{state}", task=topo.task, style="read_in")
        for i, j in sorted(topo.edges):
            g.add_edge(f"s{i}", f"s{j}", task=topo.task, style="solid")
        for state in sorted(topo.read_out):
            g.add_edge(f"s{state}", f"task:{topo.task}", task=topo.task, style="read_out")
    return g


def _grouping(spec: GroupingSpec) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(name=spec.name, kind="grouping")
    order = task_names(spec)
    nets = spec.networks
    shift = (len(order) - len(nets)) / 2  # both columns centred on one another
    for i, net in enumerate(nets):
        width = f" ×{net.width:g}" if net.width != 1 else ""
        g.add_node(f"net:{net.name}", label=f"{net.name}: {net.backbone}{width}",
                   kind="network", column=0, rank=i + shift)
    for i, task in enumerate(order):
        g.add_node(f"task:{task}", label=task, kind="task", column=1, rank=float(i))
    for net in nets:
        for task in order:
            if task in net.serves:
                g.add_edge(f"net:{net.name}", f"task:{task}", task=task, style="serves")
            elif task in net.trains:
                g.add_edge(f"net:{net.name}", f"task:{task}", task=task, style="trains")
    return g


_GRAPHS = {"model": _tree, "dag": _dag, "grouping": _grouping}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPE = {"input": "ellipse", "block": "box", "task": "box", "state": "circle",
              "network": "box"}


def to_dot(spec: AnySpec) -> str:
    """The diagram as Graphviz DOT text (written here: no pydot/pygraphviz needed).

    Example:
        >>> from mtlspec.spec import load
        >>> to_dot(load("specs/taskonomy_grouping_2_5.mtl").spec).splitlines()[0]
        'digraph "taskonomy_2_5" {'
    """
    g = graph(spec)
    colors = task_colors(spec)
    lines = [f"digraph {_quote(spec.name)} {{", "  rankdir=LR;",
             '  node [fontname="Helvetica"];', '  edge [fontname="Helvetica"];']
    for node, data in g.nodes(data=True):
        attrs = [f"label={_quote(data['label'])}", f"shape={_DOT_SHAPE[data['kind']]}"]
        if data["kind"] == "task":
            attrs += ["style=filled", f"fillcolor={_quote(colors[data['label']] + '40')}"]
        lines.append(f"  {_quote(node)} [{', '.join(attrs)}];")
    for u, v, data in g.edges(data=True):
        attrs = []
        task = data.get("task")
        if task is not None and g.graph["kind"] != "model":
            attrs.append(f"color={_quote(colors[task])}")
            attrs.append(f"label={_quote(task)}" if data["style"] == "solid" else
                         f"label={_quote(data['style'].replace('_', '-'))}")
        if data["style"] in ("read_in", "read_out", "trains"):
            attrs.append("style=dashed")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {_quote(u)} -> {_quote(v)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"
