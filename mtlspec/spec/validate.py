"""Semantic rules of a spec, checked on the IR and reported at their source locations.

`find_problems` is pure: IR in, a list of problems (IR path, message, hint) out, every rule
checked, nothing raised. `validate` locates them with the parser's span table and raises
them together.
"""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mtlspec.errors import Span, SpecError, raise_all
from mtlspec.spec import catalog, ir
from mtlspec.spec.build import MAX_NUMBER_CHARS
from mtlspec.spec.layout import refines, show_set

Path_ = tuple[Any, ...]
MAX_DIM = 2**31 - 1
MAX_STATES = 1000  # a bigger central network is a typo, and would not fit in memory


@dataclass(frozen=True)
class Problem:
    path: Path_
    message: str
    hint: str | None = None


def validate(spec_or_doc, *, filename: str | None = None) -> ir.AnySpec:
    """Check every semantic rule; raise all problems at once, located in the source.

    Args:
        spec_or_doc: an IR, or a `Document` from `parse_document` (for locations).
        filename: overrides the document's file name in messages.

    Returns:
        The spec, unchanged, when it is valid.

    Raises:
        SpecError, SpecErrors: one error per problem (capped when rendered).

    Example:
        >>> validate(parse_document(text, "specs/x.mtl"))  # doctest: +SKIP
    """
    spec = getattr(spec_or_doc, "spec", spec_or_doc)
    spans = getattr(spec_or_doc, "spans", {})
    source = getattr(spec_or_doc, "source", None)
    name = filename or getattr(spec_or_doc, "filename", None) or f"<{spec.kind} {spec.name}>"
    raise_all(
        SpecError(p.message, locate(p.path, spans), p.hint, filename=name, source=source)
        for p in find_problems(spec)
    )
    return spec


def locate(path: Path_, spans: dict[Path_, Span]) -> Span | None:
    """The span of `path`, or of its nearest ancestor that has one."""
    for cut in range(len(path), 0, -1):
        if path[:cut] in spans:
            return spans[path[:cut]]
    return spans.get(("name",))


def find_problems(spec: ir.AnySpec) -> list[Problem]:
    """Every rule the spec breaks, in source order where possible."""
    checks = {"model": _tree, "dag": _dag, "grouping": _grouping}[spec.kind]
    return [*_spellable(spec), *_input(spec.input), *_tasks(spec.tasks), *checks(spec),
            *_budget(spec)]


# ---------------------------------------------------------------------- shared
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _spellable(spec: ir.AnySpec) -> Iterator[Problem]:
    """Rules only an IR built from JSON or code can break: spec text could not hold it."""
    names = [(("name",), spec.name), (("input",), spec.input.name)]
    names += [(("tasks", i, "name"), t.name) for i, t in enumerate(spec.tasks)]
    calls = [(("tasks", i, "head"), t.head.args) for i, t in enumerate(spec.tasks)]
    if isinstance(spec, ir.TreeSpec):
        calls.append((("backbone",), spec.backbone.args))
    elif isinstance(spec, ir.DagSpec):
        calls += [(("central", "stem"), spec.central.stem.args),
                  (("central", "edge"), spec.central.edge.args)]
    else:
        names += [(("networks", i, "name"), n.name) for i, n in enumerate(spec.networks)]
        calls += [(("networks", i), n.args) for i, n in enumerate(spec.networks)]
        for i, net in enumerate(spec.networks):
            if "width" in net.args:
                yield Problem(("networks", i), "`width` belongs in the network's `width` field")
    for path, args in calls:
        names += [((*path, "args", key), key) for key in args]
        for key, val in args.items():
            if not _spellable_value(val):
                yield Problem((*path, "args", key), f"argument `{key}` has a value spec text "
                              f"cannot hold: {val!r}", "numbers are finite and at most "
                              f"{MAX_NUMBER_CHARS} characters; strings hold no line break")
    for path, name in names:
        if not _IDENTIFIER.match(name):
            yield Problem(path, f"{name!r} is not a name", "names are letters, digits and `_`, "
                          "not starting with a digit")


def _spellable_value(val: ir.Value) -> bool:
    if isinstance(val, tuple):
        return all(_spellable_value(v) for v in val)
    if isinstance(val, str):
        return "\n" not in val and "\r" not in val
    if isinstance(val, float) and not math.isfinite(val):
        return False
    return isinstance(val, bool) or len(repr(val)) <= MAX_NUMBER_CHARS


def _did_you_mean(name: str, options: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f"did you mean `{close[0]}`?" if close else None


def _input(inp: ir.TensorInput) -> Iterator[Problem]:
    if inp.dtype not in catalog.DTYPES:
        yield Problem(("input", "dtype"), f"unknown input type `{inp.dtype}`",
                      "use one of: " + ", ".join(sorted(catalog.DTYPES)))
    if not inp.shape:
        yield Problem(("input",), "the input shape has no dimensions",
                      "write the batch-first shape, e.g. `float[1, 3, 224, 224]`")
    for i, dim in enumerate(inp.shape):
        if dim <= 0:
            yield Problem(("input", "shape", i), f"dimension {i} is {dim}; it must be positive")
        elif dim > MAX_DIM:
            yield Problem(("input", "shape", i), f"dimension {i} is larger than {MAX_DIM}")


def _tasks(tasks: Sequence[ir.Task]) -> Iterator[Problem]:
    if not tasks:
        yield Problem(("tasks",), "the spec declares no task",
                      "add e.g. `a: head linear(classes=10)`")
    seen: set[str] = set()
    for i, task in enumerate(tasks):
        if task.name in seen:
            yield Problem(("tasks", i, "name"), f"task `{task.name}` is declared twice")
        seen.add(task.name)
        yield from _call(task.head, catalog.HEADS, "head", ("tasks", i, "head"))


def _call(
    c: ir.Call, known: dict[str, catalog.Signature], what: str, path: Path_
) -> Iterator[Problem]:
    sig = known.get(c.name)
    if sig is None:
        hint = _did_you_mean(c.name, sorted(known)) or f"{what}s: " + ", ".join(sorted(known))
        yield Problem((*path, "name"), f"unknown {what} `{c.name}`", hint)
        return
    for key, val in c.args.items():
        kind = sig.args.get(key)
        where = (*path, "args", key)
        if kind is None:
            options = ", ".join(sorted(sig.args)) or "none"
            yield Problem(where, f"{what} `{c.name}` has no argument `{key}`",
                          _did_you_mean(key, sorted(sig.args)) or f"its arguments: {options}")
        elif not _has_kind(val, kind):
            yield Problem(where, f"argument `{key}` of `{c.name}` must be {_article(kind)}")
        elif key in sig.positive and _not_positive(val):
            yield Problem(where, f"argument `{key}` of `{c.name}` must be positive")
    for group in sig.one_of:
        given = [k for k in group if k in c.args]
        if len(given) != 1:
            names = " or ".join(f"`{k}=`" for k in group)
            verb = "takes only one of" if given else "needs"
            yield Problem(path, f"{what} `{c.name}` {verb} {names}",
                          "e.g. `classes=13` for logits, `out=1` for a regression map"
                          if "classes" in group else None)


def _has_kind(val: ir.Value, kind: str) -> bool:
    if kind == catalog.BOOL:
        return isinstance(val, bool)
    if kind == catalog.STR:
        return isinstance(val, str)
    if isinstance(val, bool):
        return False
    if kind == catalog.INT:
        return isinstance(val, int)
    if kind == catalog.FLOAT:
        return isinstance(val, int | float)
    # int list: one int is accepted as a list of one
    return isinstance(val, int) or (isinstance(val, tuple) and bool(val)
                                    and all(_has_kind(v, catalog.INT) for v in val))


def _not_positive(val: ir.Value) -> bool:
    values = val if isinstance(val, tuple) else (val,)
    return any(v <= 0 for v in values)


def _article(kind: str) -> str:
    return {"int list": "a list of integers", "int": "an integer"}.get(kind, f"a {kind}")


def _budget(spec: ir.AnySpec) -> Iterator[Problem]:
    budget = spec.budget
    if budget is None:
        return
    for key in ("gflops", "params", "units"):
        val = getattr(budget, key)
        if val is None:
            continue
        if not math.isfinite(val) or val <= 0:
            yield Problem(("budget", key), f"budget `{key}` must be positive, got {val}")
    if budget.units is not None and spec.kind == "dag":
        yield Problem(("budget", "units"), "`units` budgets apply to model and grouping specs",
                      "a DAG has no single-task network to count in; use `gflops` or `params`")


def _backbone_ref(ref: str, path: Path_) -> Iterator[Problem]:
    if catalog.is_custom_ref(ref):
        module, _, attr = ref.partition(":")
        parts = module.split(".")
        if not all(p.isidentifier() for p in parts) or not attr.isidentifier():
            yield Problem(path, f'"{ref}" is not a `"pkg.module:callable"` reference')
    elif ref in catalog.UNSUPPORTED_BACKBONES:
        yield Problem(path, f"`{ref}` cannot be a backbone: {catalog.UNSUPPORTED_BACKBONES[ref]}",
                      "pick a convolutional backbone (`mtlspec blocks --help`)")
    elif ref not in catalog.known_backbones() and not catalog.is_timm_ref(ref):
        yield Problem(path, f"unknown backbone `{ref}`",
                      _did_you_mean(ref, catalog.known_backbones())
                      or 'see `mtlspec blocks --list`, use `timm.NAME`, or "pkg.module:callable"')


def _task_refs(tasks: Sequence[str], known: set[str], path: Path_) -> Iterator[Problem]:
    for name in sorted(set(tasks) - known):
        yield Problem(path, f"unknown task `{name}`", _did_you_mean(name, sorted(known)))


# ---------------------------------------------------------------------- trees
def _tree(spec: ir.TreeSpec) -> Iterator[Problem]:
    bb = spec.backbone
    yield from _backbone_ref(bb.ref, ("backbone", "ref"))
    if isinstance(bb.blocks, ir.AutoBlocks) and bb.blocks.count is not None and bb.blocks.count < 1:
        yield Problem(("backbone", "blocks"), "the block count must be at least 1")
    if isinstance(bb.blocks, ir.CutAfter):
        for name, n in Counter(bb.blocks.after).items():
            if n > 1:
                yield Problem(("backbone", "blocks"), f"cut point `{name}` is listed twice")
    for key in ("init", "weights"):
        if getattr(spec, key) == "":
            yield Problem((key,), f"`{key}` names an empty file path")
    yield from _layout(spec)


def _layout(spec: ir.TreeSpec) -> Iterator[Problem]:
    order = [t.name for t in spec.tasks]
    known = set(order)
    if not spec.layout:
        yield Problem(("layout",), "the layout has no rows", "write one row per backbone block")
    blocks = spec.backbone.block_count
    if blocks is not None and spec.layout and len(spec.layout) != blocks:
        yield Problem(("layout",), f"the layout has {len(spec.layout)} rows but the backbone has "
                      f"{blocks} blocks", "write one row per block")
    for r, row in enumerate(spec.layout):
        seen: set[str] = set()
        for group in sorted(row, key=lambda g: sorted(g)):
            where = ("layout", r, group)
            if not group:
                yield Problem(where, f"row {r + 1} has an empty task set")
            yield from _task_refs(group, known, where)
            for task in sorted(group & seen):
                yield Problem(where, f"task `{task}` appears twice in row {r + 1}",
                              "each row is a partition: every task in exactly one set")
            seen |= group
        missing = [t for t in order if t not in seen]
        if missing:
            yield Problem(("layout", r), f"row {r + 1} is missing task{'s' * (len(missing) > 1)} "
                          + ", ".join(f"`{t}`" for t in missing),
                          "each row is a partition: every task in exactly one set")
        if r > 0:
            joined = refines(row, spec.layout[r - 1])
            if joined is not None:
                yield Problem(("layout", r, joined),
                              f"layout row {r + 1} does not refine row {r}: "
                              f"{show_set(joined, order)} joins tasks that row {r} keeps apart",
                              "a task set can only split as the network gets deeper")


# ---------------------------------------------------------------------- DAGs
def _dag(spec: ir.DagSpec) -> Iterator[Problem]:
    c = spec.central
    if not 1 <= c.states <= MAX_STATES:
        yield Problem(("central", "states"),
                      f"`states` must be between 1 and {MAX_STATES}, got {c.states}")
    if not 1 <= c.flow <= max(c.states - 1, 1):
        yield Problem(("central", "flow"), f"`flow` must be between 1 and states−1 = "
                      f"{max(c.states - 1, 1)}, got {c.flow}",
                      "flow M allows edges i→j with 0 < j−i ≤ M; M = states−1 is the complete DAG")
    yield from _call(c.stem, catalog.STEM_OPS, "stem op", ("central", "stem"))
    yield from _call(c.edge, catalog.EDGE_OPS, "edge op", ("central", "edge"))
    known = {t.name for t in spec.tasks}
    covered: set[str] = set()
    for i, topo in enumerate(spec.topologies):
        if topo.task not in known:
            yield Problem(("topologies", i, "task"), f"topology for unknown task `{topo.task}`",
                          _did_you_mean(topo.task, sorted(known)))
        elif topo.task in covered:
            yield Problem(("topologies", i, "task"), f"task `{topo.task}` has two topologies")
        covered.add(topo.task)
        yield from _topology(topo, c, ("topologies", i))
    for i, task in enumerate(spec.tasks):
        if task.name not in covered:
            yield Problem(("tasks", i), f"task `{task.name}` has no topology",
                          f"add `topology {task.name} {{ in: 1; out: 1 }}`")


def _topology(topo: ir.Topology, c: ir.Central, path: Path_) -> Iterator[Problem]:
    n = c.states
    for key, states in (("in", topo.read_in), ("out", topo.read_out)):
        if not states:
            yield Problem((*path, key), f"`{key}:` lists no state")
        for s in sorted(states):
            if not 1 <= s <= n:
                yield Problem((*path, key, s), f"state {s} is out of range 1..{n}")
    for a, b in sorted(topo.edges):
        where = (*path, "edges", (a, b))
        if not (1 <= a <= n and 1 <= b <= n):
            yield Problem(where, f"edge {a}->{b} leaves the states 1..{n}")
        elif not 1 <= b - a <= c.flow:
            yield Problem(where, f"edge {a}->{b} spans {b - a} states; the flow constant allows "
                          f"1..{c.flow}", "edges go forward: i->j needs 0 < j−i ≤ flow")
    reached = _reachable(topo.read_in, topo.edges)
    for s in sorted(topo.read_out - reached):
        if not 1 <= s <= n:
            continue  # already reported as out of range
        yield Problem((*path, "out", s), f"read-out state {s} cannot be reached from the "
                      f"read-in states {sorted(topo.read_in)}",
                      "add edges from a read-in state to it, or read it in directly")


def _reachable(starts: frozenset[int], edges: frozenset[tuple[int, int]]) -> set[int]:
    succ: dict[int, list[int]] = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
    seen, todo = set(starts), list(starts)
    while todo:
        for nxt in succ.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


# ---------------------------------------------------------------------- groupings
def _grouping(spec: ir.GroupingSpec) -> Iterator[Problem]:
    order = [t.name for t in spec.tasks]
    known = set(order)
    if not spec.networks:
        yield Problem(("name",), "the grouping has no network",
                      "add e.g. `network A: torchvision.resnet18 trains {a} serves {a}`")
    served: Counter[str] = Counter()
    names: set[str] = set()
    for i, net in enumerate(spec.networks):
        path = ("networks", i)
        if net.name in names:
            yield Problem((*path, "name"), f"network `{net.name}` is declared twice")
        names.add(net.name)
        yield from _backbone_ref(net.backbone, (*path, "backbone"))
        if not math.isfinite(net.width) or net.width <= 0:
            yield Problem((*path, "width"), f"`width` must be positive, got {net.width}")
        if not net.trains:
            yield Problem((*path, "trains"), f"network `{net.name}` trains no task")
        yield from _task_refs(net.trains, known, (*path, "trains", net.trains))
        yield from _task_refs(net.serves - net.trains, known, (*path, "serves", net.serves))
        outside = (net.serves - net.trains) & known
        if outside:
            yield Problem((*path, "serves", net.serves),
                          f"network `{net.name}` serves {show_set(outside, order)} "
                          "without training on it", "`serves` must be within `trains`")
        served.update(net.serves)
    for i, task in enumerate(order):
        if served[task] == 0:
            yield Problem(("tasks", i), f"no network serves task `{task}`",
                          "add it to the `serves` set of a network that trains it")
        elif served[task] > 1:
            yield Problem(_second_server(spec, task), f"task `{task}` is served by "
                          f"{served[task]} networks", "each task is served by exactly one network")


def _second_server(spec: ir.GroupingSpec, task: str) -> Path_:
    hits = [i for i, net in enumerate(spec.networks) if task in net.serves]
    net = spec.networks[hits[1]]
    return ("networks", hits[1], "serves", net.serves)
