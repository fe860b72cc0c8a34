"""A diagram as a picture (matplotlib, Agg: PNG or SVG) or as DOT text, written atomically.

Labels are measured with the renderer first, then laid out (`mtlspec.draw.layout`) in inches
on a canvas of exactly the drawing's size: one data unit is one inch, so the measured boxes
and the routes agree. matplotlib is imported only here, when a picture is made.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from mtlspec.draw.graph import graph, task_colors, to_dot
from mtlspec.draw.layout import Layout, layout
from mtlspec.errors import MtlspecError
from mtlspec.io import write_atomic
from mtlspec.spec.ir import AnySpec

FORMATS = ("png", "svg", "dot")
FONT = 9  # points
PAD = 0.3  # box padding, in fractions of the font size (matplotlib's `pad`)
TITLE = 0.45  # inches above the drawing for the title (and a tree's block headers)
LEGEND = 0.4  # inches below it for the legend
_DASHED = ("read_in", "read_out", "trains")


def _face(kind: str, label: str, colors: dict[str, str]) -> str:
    if kind == "task":
        return colors[label] + "40"
    return "#eeeeee" if kind in ("input", "state") else "white"


def _box_sizes(g: Any, fig: Any) -> dict[str, tuple[float, float]]:
    """Each node's box (label plus padding; a circle for a state), in inches."""
    renderer = fig.canvas.get_renderer()
    pad = 2 * PAD * FONT / 72
    sizes = {}
    for node, data in g.nodes(data=True):
        text = fig.text(0, 0, data["label"], fontsize=FONT)
        extent = text.get_window_extent(renderer)
        text.remove()
        w, h = extent.width / fig.dpi + pad, extent.height / fig.dpi + pad
        if data["kind"] == "state":
            w = h = max(w, h)
        sizes[node] = (w + 0.02, h + 0.02)
    return sizes


def figure(spec: AnySpec) -> Any:
    """The diagram of a spec as a matplotlib `Figure` (Agg canvas, nothing written).

    Example:
        >>> from mtlspec.spec import load
        >>> fig = figure(load("specs/nyuv2_resnet34.mtl").spec)
        >>> len(fig.axes[0].texts)  # 1 input, 7 block copies, 3 tasks, 5 headers, the title
        17
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # a bare Figure on Agg: no pyplot state, no GUI

    g = graph(spec)
    colors = task_colors(spec)
    fig = Figure()
    FigureCanvasAgg(fig)
    plan = layout(g, _box_sizes(g, fig))
    below = LEGEND if g.graph["kind"] != "model" else 0.0  # a tree has no legend
    height = plan.height + TITLE + below
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_ylim(-below, plan.height + TITLE)
    _canvas_width(fig, ax, plan, 4.0, height)
    for node, box in plan.boxes.items():
        data = g.nodes[node]
        style = "circle,pad=0.3" if data["kind"] == "state" else f"round,pad={PAD}"
        ax.text(box.x, box.y, data["label"], ha="center", va="center", fontsize=FONT, zorder=3,
                bbox={"boxstyle": style, "edgecolor": "#333333",
                      "facecolor": _face(data["kind"], data["label"], colors)})
    _arrows(ax, g.graph["kind"], plan, colors)
    ax.text(plan.width / 2, plan.height + TITLE * 0.55, f"{spec.name} ({g.graph['kind']})",
            ha="center", va="center", fontsize=12)
    for x, text in plan.headers:
        ax.text(x, plan.height + 0.02, text, ha="center", va="bottom", fontsize=8,
                color="#555555")
    if g.graph["kind"] != "model":
        legend = _legend(ax, g.graph["kind"], colors)
        needed = legend.get_window_extent(fig.canvas.get_renderer()).width / fig.dpi + 0.2
        # widen rather than cut the legend off
        _canvas_width(fig, ax, plan, max(needed, fig.get_size_inches()[0]), height)
    return fig


def _canvas_width(fig: Any, ax: Any, plan: Layout, least: float, height: float) -> None:
    """Size the canvas to the drawing (at least `least` inches wide), the drawing centred."""
    width = max(plan.width, least)
    fig.set_size_inches(width, height)
    margin = (width - plan.width) / 2
    ax.set_xlim(-margin, plan.width + margin)


def _arrows(ax: Any, kind: str, plan: Layout, colors: dict[str, str]) -> None:
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path as MplPath

    for _u, _v, data, points in plan.routes:
        task = data.get("task")
        color = colors[task] if task and kind != "model" else "#333333"
        ax.add_patch(FancyArrowPatch(
            path=MplPath(points), arrowstyle="-|>", mutation_scale=10, color=color, lw=1.4,
            linestyle="--" if data["style"] in _DASHED else "-", zorder=2))


def _legend(ax: Any, kind: str, colors: dict[str, str]) -> Any:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, lw=2, label=t) for t, c in colors.items()]
    dashed = "read-in / read-out" if kind == "dag" else "trains (served elsewhere)"
    handles.append(Line2D([], [], color="#333333", lw=1.4, linestyle="--", label=dashed))
    return ax.legend(handles=handles, loc="lower left", fontsize=8, frameon=False,
                     ncol=min(len(handles), 6), borderaxespad=0.1)


def render(spec: AnySpec, fmt: str) -> bytes:
    """The diagram as PNG or SVG bytes (matplotlib, Agg backend), or DOT text as bytes.

    Raises:
        MtlspecError: `fmt` is not png, svg or dot.

    Example:
        >>> from mtlspec.spec import load
        >>> render(load("specs/nyuv2_dag.mtl").spec, "png")[:4]
        b'\\x89PNG'
    """
    if fmt not in FORMATS:
        raise MtlspecError(f"cannot draw to .{fmt}: use one of "
                           + ", ".join(f".{f}" for f in FORMATS))
    if fmt == "dot":
        return to_dot(spec).encode()
    import matplotlib

    fig = figure(spec)
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    with matplotlib.rc_context({"svg.hashsalt": "mtlspec"}):
        fig.savefig(buf, format=fmt, metadata=metadata)
    return buf.getvalue()


def format_of(path: str | Path) -> str:
    """The output format named by a file's extension.

    Raises:
        MtlspecError: the extension is not .png, .svg or .dot.

    Example:
        >>> format_of("out/tree.SVG")
        'svg'
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

    Example:
        >>> import tempfile
        >>> from mtlspec.spec import load
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     draw(load("specs/taskonomy_grouping_2_5.mtl").spec, f"{folder}/g.dot")
        'dot'
    """
    fmt = format_of(path)
    write_atomic(path, render(spec, fmt))
    return fmt
