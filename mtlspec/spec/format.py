"""IR → canonical spec text (`mtlspec fmt`).

One IR has one text: items in a fixed order, task sets in task declaration order, edges
sorted, two-space indentation, no blank lines. `parse(format(ir)) == ir` for every IR that
text can express, and `format(parse(text)) == text` for canonical text. Comments collected by
the parser are woven back in, so formatting never loses them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from mtlspec.spec import ir
from mtlspec.spec.builder import MAX_NUMBER_CHARS
from mtlspec.spec.comments import END, EOF_PATH, Comments, Path_, Slot
from mtlspec.spec.layout import ordered_groups
from mtlspec.spec.numbers import SUFFIXES

INDENT = "  "
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_CUT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*\Z")  # layer2.1.conv1 unquoted
_RESERVED_VALUES = {"true", "false"}
_RUNTIME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*\Z")  # the grammar's RUNTIME

Line = tuple[int, Path_, str]  # (indent level, path for comments, text)


def format(spec: ir.AnySpec, comments: Comments | None = None) -> str:
    """Print a spec in canonical form.

    Args:
        spec: the IR.
        comments: comments from `parse_document(...).comments`, to keep them.

    Returns:
        The text, ending in a newline.

    Raises:
        ValueError: the IR holds something spec text cannot express (a string with a line
            break, a name that is not an identifier, inf/nan, a number of more than 40
            characters, an empty cut list, a network `width` given twice); the parser could
            never produce such an IR.

    Example:
        >>> from mtlspec.spec.parse import parse
        >>> print(format(parse("grouping g { input x: float[1,3,8,8]; tasks { a: head "
        ...                    "linear(out=1) }; network A: convnet trains {a} serves {a} }")))
        grouping g {
          input x: float[1, 3, 8, 8]
          tasks {
            a: head linear(out=1)
          }
          network A: convnet(width=1.0) trains {a} serves {a}
        }
    """
    body = {"model": _tree, "dag": _dag, "grouping": _grouping}[spec.kind](spec)
    lines: list[Line] = [(0, (), f"{spec.kind} {name(spec.name)} {{"), *body, (0, (END,), "}")]
    return _weave(lines, comments or {})


def item_lines(spec: ir.AnySpec) -> list[tuple[Path_, str]]:
    """Each item of a spec as one line of canonical text, by IR path (for `spec.changes`).

    Block openers and closers (`tasks {`, `layout [`, `}`) are left out.

    Example:
        >>> from mtlspec.spec.parse import parse
        >>> for path, text in item_lines(parse(
        ...         "grouping g { input x: float[1,3,8,8]; tasks { a: head linear(out=1) }; "
        ...         "network A: convnet trains {a} serves {a} }")):
        ...     print(path, text)
        ('input',) input x: float[1, 3, 8, 8]
        ('tasks', 0) a: head linear(out=1)
        ('networks', 0) network A: convnet(width=1.0) trains {a} serves {a}
    """
    body = {"model": _tree, "dag": _dag, "grouping": _grouping}[spec.kind](spec)
    return [(path, text) for _, path, text in body
            if path[-1:] != (END,) and not text.endswith(("{", "["))]


# ---------------------------------------------------------------------- values
def name(text: str) -> str:
    """A name (spec, task, input, argument, ...): spec text has no quoting for names."""
    if not _NAME.match(text):
        raise ValueError(f"{text!r} is not a name (letters, digits and _, not first a digit)")
    return text


def _checked(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"number {text} is longer than {MAX_NUMBER_CHARS} characters")
    return text


def number(value: int | float) -> str:
    """A number as spec text (floats keep a `.0` so they read back as floats)."""
    if isinstance(value, bool):
        raise TypeError("booleans are not numbers")
    if isinstance(value, int):
        return _checked(str(value))
    if not math.isfinite(value):
        raise ValueError(f"spec text has no spelling for {value!r}")
    return _checked(repr(float(value)))


def compact(value: float) -> str:
    """Budget figures: `40` rather than `40.0` (budgets are floats whatever is written)."""
    text = number(float(value))
    return text[:-2] if text.endswith(".0") else text


def count(value: int) -> str:
    for suffix, scale in sorted(SUFFIXES.items(), key=lambda item: -item[1]):
        if value and value % scale == 0:
            return _checked(f"{value // scale}{suffix}")
    return number(value)


def string(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise ValueError(f"spec strings cannot hold line breaks: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def value(v: ir.Value) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return number(v)
    if isinstance(v, str):
        return v if _NAME.match(v) and v not in _RESERVED_VALUES else string(v)
    return "[" + ", ".join(value(item) for item in v) + "]"


def args(kwargs: dict[str, ir.Value]) -> str:
    if not kwargs:
        return ""
    return "(" + ", ".join(f"{name(k)}={value(v)}" for k, v in kwargs.items()) + ")"


def call(c: ir.Call) -> str:
    return name(c.name) + args(c.args)


def ref(text: str) -> str:
    return text if _DOTTED.match(text) else string(text)


def task_set(group: Iterable[str], order: Sequence[str]) -> str:
    names = ordered_groups([frozenset(group)], order)[0] if group else []
    return "{" + ", ".join(map(name, names)) + "}"


# ---------------------------------------------------------------------- items
def _input(spec: ir.AnySpec) -> Line:
    inp = spec.input
    dims = ", ".join(number(d) for d in inp.shape)
    return (1, ("input",), f"input {name(inp.name)}: {name(inp.dtype)}[{dims}]")


def _tasks(spec: ir.AnySpec) -> list[Line]:
    lines: list[Line] = [(1, ("tasks",), "tasks {")]
    for i, task in enumerate(spec.tasks):
        lines.append((2, ("tasks", i), f"{name(task.name)}: head {call(task.head)}"))
    lines.append((1, ("tasks", END), "}"))
    return lines


def _budget(budget: ir.Budget | None) -> list[Line]:
    if budget is None:
        return []
    parts = []
    if budget.gmacs is not None:  # canonical name; `gflops` in the source becomes `gmacs`
        parts.append(f"gmacs <= {compact(budget.gmacs)}")
    if budget.params is not None:
        parts.append(f"params <= {count(budget.params)}")
    if budget.units is not None:
        parts.append(f"units <= {compact(budget.units)}")
    if budget.latency_ms is not None:
        parts.append(f"latency_ms <= {compact(budget.latency_ms.ms)} "
                     f"{latency_setup(budget.latency_ms)}")
    inner = " " + "; ".join(parts) + " " if parts else " "
    return [(1, ("budget",), "budget {" + inner + "}")]


def latency_setup(latency: ir.Latency) -> str:
    """How a latency is measured, as spec text: `@ ort-cpu batch 1` (`threads N` when set)."""
    if not _RUNTIME.match(latency.runtime):
        raise ValueError(f"{latency.runtime!r} is not a runtime name (`ort-cpu`)")
    threads = "" if latency.threads is None else f" threads {number(latency.threads)}"
    return f"@ {latency.runtime} batch {number(latency.batch)}{threads}"


def _backbone(bb: ir.Backbone) -> str:
    options = []
    if isinstance(bb.blocks, ir.CutAfter):
        if not bb.blocks.after:
            raise ValueError("`blocks: []` (an empty cut list) has no spelling; use auto(1)")
        names = ", ".join(n if _CUT.match(n) else string(n) for n in bb.blocks.after)
        options.append(f"blocks: [{names}]")
    elif bb.blocks.count is not None:
        options.append(f"blocks: auto({number(bb.blocks.count)})")
    if bb.allow_import:
        options.append("allow_import: true")
    body = " { " + "; ".join(options) + " }" if options else ""
    return f"backbone {ref(bb.ref)}{args(bb.args)}{body}"


def _tree(spec: ir.TreeSpec) -> list[Line]:
    order = [t.name for t in spec.tasks]
    lines: list[Line] = [_input(spec), (1, ("backbone",), _backbone(spec.backbone))]
    if spec.init is not None:
        lines.append((1, ("init",), f"init backbone {string(spec.init)}"))
    if spec.weights is not None:
        lines.append((1, ("weights",), f"weights {string(spec.weights)}"))
    lines += _tasks(spec)
    lines.append((1, ("layout",), "layout ["))
    for r, row in enumerate(spec.layout):
        groups = " ".join(task_set(g, order) for g in ordered_groups(row, order))
        lines.append((2, ("layout", r), groups))
    lines.append((1, ("layout", END), "]"))
    return lines + _budget(spec.budget)


def _dag(spec: ir.DagSpec) -> list[Line]:
    c = spec.central
    lines: list[Line] = [
        _input(spec),
        (1, ("central",), "central {"),
        (2, ("central", "states"), f"states: {number(c.states)}"),
        (2, ("central", "flow"), f"flow: {number(c.flow)}"),
        (2, ("central", "stem"), f"stem: {call(c.stem)}"),
        (2, ("central", "edge"), f"edge: {call(c.edge)}"),
        (1, ("central", END), "}"),
        *_tasks(spec),
    ]
    for i, topo in enumerate(spec.topologies):
        items = [f"in: {' '.join(map(number, sorted(topo.read_in)))}"]
        if topo.edges:
            edges = sorted(topo.edges)
            items.append("edges: " + " ".join(f"{number(a)}->{number(b)}" for a, b in edges))
        items.append(f"out: {' '.join(map(number, sorted(topo.read_out)))}")
        text = f"topology {name(topo.task)} {{ {'; '.join(items)} }}"
        lines.append((1, ("topologies", i), text))
    return lines + _budget(spec.budget)


def _grouping(spec: ir.GroupingSpec) -> list[Line]:
    order = [t.name for t in spec.tasks]
    lines: list[Line] = [_input(spec), *_tasks(spec)]
    for i, net in enumerate(spec.networks):
        if "width" in net.args:  # the parser moves `width=` out of the arguments
            raise ValueError(f"network {net.name}: `width` is a field, not one of its args")
        net_args = args({"width": net.width, **net.args})
        text = (
            f"network {name(net.name)}: {ref(net.backbone)}{net_args} "
            f"trains {task_set(net.trains, order)} serves {task_set(net.serves, order)}"
        )
        lines.append((1, ("networks", i), text))
    return lines + _budget(spec.budget)


# ---------------------------------------------------------------------- comments
def _weave(lines: list[Line], comments: Comments) -> str:
    printed = {path for _, path, _ in lines}
    leftover = [slot for path, slot in comments.items() if path not in printed and path != EOF_PATH]
    out: list[str] = []
    for level, path, text in lines:
        pad = INDENT * level
        slot = comments.get(path, Slot())
        if path == (END,):  # comments we could not place go before the closing brace
            for extra in leftover:
                out += [INDENT + c for c in extra.leading + extra.trailing]
        # a comment before a closing bracket sits inside the block, one level deeper
        inner = pad + INDENT if path[-1:] == (END,) else pad
        out += [inner + c for c in slot.leading]
        out.append(pad + text + ("  " + " ".join(slot.trailing) if slot.trailing else ""))
    eof = comments.get(EOF_PATH)
    if eof:
        out += eof.leading + eof.trailing
    return "\n".join(out) + "\n"
