"""Diagrams of specs: IR → graph (`graph`) → layout in inches (`layout`) → PNG, SVG
(matplotlib, `render`) or DOT text. Reads only the IR: no torch; matplotlib loads only when a
picture is made.

    >>> from mtlspec.draw import to_dot
    >>> from mtlspec.spec import load
    >>> "rankdir=LR" in to_dot(load("specs/nyuv2_resnet34.mtl").spec)
    True
"""

from mtlspec.draw.canvas import FORMATS, draw, figure, format_of, render
from mtlspec.draw.graph import graph, group_label, leaf_order, task_colors, to_dot

__all__ = ["FORMATS", "draw", "figure", "format_of", "graph", "group_label", "leaf_order",
           "render", "task_colors", "to_dot"]
