"""Diagrams of specs: IR → graph → PNG, SVG (matplotlib) or DOT text.

- a tree spec: blocks left to right, one box per node (a block copy) labelled with the tasks
  that share it, edges from parent node to child node, one leaf per task at the end (the
  TreeMTL paper's figures);
- a DAG spec: the hidden states 1..N in a row, each task's edges in its own colour, read-in
  edges from the stem and read-out edges to the task's head;
- a grouping spec: networks on the left, tasks on the right, an edge from each network to the
  tasks it serves (dashed: trained on, served by another network).

`graph(spec)` builds a networkx graph whose nodes carry `label`, `kind` and `pos` and whose
edges carry `task` / `style`; `to_dot` and `render` only read that graph. Pure: no torch, and
matplotlib (Agg) is imported only when a picture is rendered.
"""

from __future__ import annotations

import io
from pathlib import Path

import networkx as nx

from mtlspec.errors import MtlspecError
from mtlspec.io import write_atomic
from mtlspec.spec.ir import AnySpec, DagSpec, GroupingSpec, TreeSpec, task_names
from mtlspec.spec.layout import ordered_groups

FORMATS = ("png", "svg", "dot")
# Matplotlib's tab10, one colour per task (cycled beyond ten tasks).
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf")


def task_colors(spec: AnySpec) -> dict[str, str]:
    """One colour per task, in declaration order."""
    return {t: COLORS[i % len(COLORS)] for i, t in enumerate(task_names(spec))}


def _label(group: list[str]) -> str:
    return "{" + ", ".join(group) + "}"


def graph(spec: AnySpec) -> nx.MultiDiGraph:
    """The diagram of a spec as a graph (node attrs: label, kind, pos; edge attrs: task, style).

    Example:
        >>> from mtlspec.spec import load
        >>> g = graph(load("specs/conal_multidigits.mtl").spec)
        >>> g.nodes["b1:left,right,parity"]["label"]
        '{left, right, parity}'
    """
    if isinstance(spec, TreeSpec):
        return _tree(spec)
    if isinstance(spec, DagSpec):
        return _dag(spec)
    if isinstance(spec, GroupingSpec):
        return _grouping(spec)
    raise TypeError(f"not a spec: {type(spec).__name__}")


def _tree(spec: TreeSpec) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(name=spec.name, kind="model")
    order = task_names(spec)
    # Leaves in the order of the last row's groups, so sibling groups sit next to each other
    # and no edges cross; a node's height is the mean height of its tasks.
    last = ordered_groups(spec.layout[-1], order) if spec.layout else [list(order)]
    rank = {t: i for i, t in enumerate(t for group in last for t in group)}
    height = len(order) - 1

    def y(tasks: list[str]) -> float:
        return height / 2 - sum(rank[t] for t in tasks) / len(tasks)

    g.add_node("input", label=spec.input.name, kind="input", pos=(0.0, 0.0))
    parents = {t: "input" for t in order}
    for depth, row in enumerate(spec.layout, start=1):
        owner: dict[str, str] = {}
        for group in ordered_groups(row, order):
            node = f"b{depth}:{','.join(group)}"
            g.add_node(node, label=_label(group), kind="block", block=depth,
                       tasks=tuple(group), pos=(float(depth), y(group)))
            g.add_edge(parents[group[0]], node, style="solid")
            owner.update(dict.fromkeys(group, node))
        parents = owner
    leaf_x = float(len(spec.layout) + 1)
    for task in order:
        node = f"task:{task}"
        g.add_node(node, label=task, kind="task", pos=(leaf_x, y([task])))
        g.add_edge(parents[task], node, task=task, style="solid")
    return g


def _dag(spec: DagSpec) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(name=spec.name, kind="dag")
    n = spec.central.states
    g.add_node("input", label=f"{spec.input.name}\nstem", kind="input", pos=(0.0, 0.0))
    for state in range(1, n + 1):
        g.add_node(f"s{state}", label=str(state), kind="state", pos=(float(state), 0.0))
    order = task_names(spec)
    for i, task in enumerate(order):
        g.add_node(f"task:{task}", label=task, kind="task",
                   pos=(float(n + 1.5), (len(order) - 1) / 2 - i))
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
    for i, net in enumerate(nets):
        width = f" ×{net.width:g}" if net.width != 1 else ""
        g.add_node(f"net:{net.name}", label=f"{net.name}: {net.backbone}{width}",
                   kind="network", pos=(0.0, (len(nets) - 1) / 2 - i))
    for i, task in enumerate(order):
        g.add_node(f"task:{task}", label=task, kind="task",
                   pos=(2.0, (len(order) - 1) / 2 - i))
    for net in nets:
        for task in order:
            if task in net.serves:
                g.add_edge(f"net:{net.name}", f"task:{task}", task=task, style="serves")
            elif task in net.trains:
                g.add_edge(f"net:{net.name}", f"task:{task}", task=task, style="trains")
    return g


# ---------------------------------------------------------------- DOT


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPE = {"input": "ellipse", "block": "box", "task": "box", "state": "circle",
              "network": "box"}


def to_dot(spec: AnySpec) -> str:
    """The diagram as Graphviz DOT text (written here: no pydot/pygraphviz needed)."""
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


# ---------------------------------------------------------------- pictures


def render(spec: AnySpec, fmt: str) -> bytes:
    """The diagram as PNG or SVG bytes (matplotlib, Agg backend), or DOT text as bytes.

    Raises:
        MtlspecError: `fmt` is not png, svg or dot.
    """
    if fmt not in FORMATS:
        raise MtlspecError(f"cannot draw to .{fmt}: use one of "
                           + ", ".join(f".{f}" for f in FORMATS))
    if fmt == "dot":
        return to_dot(spec).encode()
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # a bare Figure on Agg: no pyplot state, no GUI

    g = graph(spec)
    colors = task_colors(spec)
    xs = [p[0] for _, p in g.nodes(data="pos")]
    ys = [p[1] for _, p in g.nodes(data="pos")]
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    fig = Figure(figsize=(max(6.0, 1.9 * span_x + 2.5), max(3.0, 1.0 * span_y + 2.2)))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.9, max(ys) + 0.9)
    ax.set_title(f"{spec.name} ({g.graph['kind']})")
    _draw_edges(ax, g, colors)
    for _node, data in g.nodes(data=True):
        kind = data["kind"]
        face = colors[data["label"]] + "40" if kind == "task" else (
            "#eeeeee" if kind in ("input", "state") else "white")
        style = "circle,pad=0.3" if kind == "state" else "round,pad=0.3"
        ax.text(*data["pos"], data["label"], ha="center", va="center", fontsize=9, zorder=3,
                bbox={"boxstyle": style, "facecolor": face, "edgecolor": "#333333"})
    if g.graph["kind"] == "model":
        for depth in range(1, int(max(xs))):
            ax.text(depth, max(ys) + 0.7, f"block {depth}", ha="center", fontsize=8,
                    color="#555555")
    else:
        _legend(ax, g, colors)
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    with matplotlib.rc_context({"svg.hashsalt": "mtlspec"}):
        fig.savefig(buf, format=fmt, bbox_inches="tight", metadata=metadata)
    return buf.getvalue()


def _draw_edges(ax, g: nx.MultiDiGraph, colors: dict[str, str]) -> None:
    pos = dict(g.nodes(data="pos"))
    seen: dict[tuple[str, str], int] = {}
    for u, v, data in g.edges(data=True):
        k = seen.get((u, v), 0)
        seen[(u, v)] = k + 1
        task = data.get("task")
        color = colors[task] if task and g.graph["kind"] != "model" else "#333333"
        (x0, y0), (x1, y1) = pos[u], pos[v]
        # Parallel edges (one per task) bend apart; edges along the row of states bend by
        # their length so an edge i->i+2 does not pass through state i+1.
        rad = 0.0
        if g.graph["kind"] == "dag":
            rad = (0.12 * (abs(x1 - x0) - 1) if y0 == y1 else 0.0) + 0.12 * k
            rad = -rad if k % 2 else rad
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=2,
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.4,
                                "linestyle": "--" if data["style"] in
                                ("read_in", "read_out", "trains") else "-",
                                "shrinkA": 14, "shrinkB": 14,
                                "connectionstyle": f"arc3,rad={rad:.3f}"})


def _legend(ax, g: nx.MultiDiGraph, colors: dict[str, str]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, lw=2, label=t) for t, c in colors.items()]
    dashed = "read-in / read-out" if g.graph["kind"] == "dag" else "trains (served elsewhere)"
    handles.append(Line2D([], [], color="#333333", lw=1.4, linestyle="--", label=dashed))
    ax.legend(handles=handles, loc="lower left", fontsize=8, frameon=False,
              bbox_to_anchor=(0, -0.15), ncol=min(len(handles), 6))


def format_of(path: str | Path) -> str:
    """The output format named by a file's extension.

    Raises:
        MtlspecError: the extension is not .png, .svg or .dot.
    """
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        shown = f"extension .{ext}" if ext else "no extension"
        raise MtlspecError(f"cannot draw to {path}: {shown}; use one of "
                           + ", ".join(f".{f}" for f in FORMATS))
    return ext


def draw(spec: AnySpec, path: str | Path) -> str:
    """Render the diagram in the format named by `path`'s extension and write it atomically.

    Returns:
        The format written (png, svg or dot).

    Raises:
        MtlspecError: unknown extension, or the file cannot be written (an earlier file at
            `path` is then left untouched).
    """
    fmt = format_of(path)
    write_atomic(path, render(spec, fmt))
    return fmt
