"""Semantic rules of a spec, checked on the IR and reported at their source locations.

`find_problems` is pure: IR in, a list of problems (IR path, message, hint) out, every rule
checked, nothing raised. `validate` locates them with the parser's span table and raises
them together.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

from mtlspec.errors import Span, SpecError, raise_all
from mtlspec.spec import catalog, ir
from mtlspec.spec.graph import reachable
from mtlspec.spec.layout import refines, show_set
from mtlspec.spec.rules import (
    Path_,
    Problem,
    backbone_ref_problems,
    budget_problems,
    builtin_backbone_problems,
    call_problems,
    did_you_mean,
    input_problems,
    reserved_name_problems,
    spelling_problems,
    task_problems,
    task_ref_problems,
)

MAX_STATES = 1000  # a bigger central network is a typo, and would not fit in memory


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
        >>> from mtlspec.spec.parse import parse_document
        >>> text = ("model m { input x: float[1, 3, 8, 8]; backbone convnet\\n"
        ...         "tasks { a: head linear(out=1) }; layout [ {a} {b} ] }")
        >>> try:
        ...     validate(parse_document(text, "m.mtl"))
        ... except SpecError as err:
        ...     print(err.render())
        m.mtl:2:47: error: unknown task `b`
            tasks { a: head linear(out=1) }; layout [ {a} {b} ] }
                                                          ^~~
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
    return [*spelling_problems(spec), *input_problems(spec.input), *task_problems(spec.tasks),
            *checks(spec), *budget_problems(spec)]


# ---------------------------------------------------------------------- trees
def _tree(spec: ir.TreeSpec) -> Iterator[Problem]:
    bb = spec.backbone
    yield from backbone_ref_problems(bb.ref, ("backbone", "ref"))
    yield from builtin_backbone_problems(bb.ref, bb.args, spec.input, ("backbone",))
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
            yield from task_ref_problems(group, known, where)
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
    yield from call_problems(c.stem, catalog.STEM_OPS, "stem op", ("central", "stem"))
    stride = c.stem.args.get("stride", 1)
    if (len(spec.input.shape) == 4 and isinstance(stride, int)
            and stride > min(spec.input.shape[2:])):
        yield Problem(("central", "stem", "args", "stride"), f"the stem's stride {stride} is "
                      f"larger than the input ({spec.input.shape[2]}x{spec.input.shape[3]})")
    yield from call_problems(c.edge, catalog.EDGE_OPS, "edge op", ("central", "edge"))
    known = {t.name for t in spec.tasks}
    covered: set[str] = set()
    for i, topo in enumerate(spec.topologies):
        if topo.task not in known:
            yield Problem(("topologies", i, "task"), f"topology for unknown task `{topo.task}`",
                          did_you_mean(topo.task, sorted(known)))
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
    reached = reachable(topo.read_in, topo.edges)
    for s in sorted(topo.read_out - reached):
        if not 1 <= s <= n:
            continue  # already reported as out of range
        yield Problem((*path, "out", s), f"read-out state {s} cannot be reached from the "
                      f"read-in states {sorted(topo.read_in)}",
                      "add edges from a read-in state to it, or read it in directly")


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
        yield from reserved_name_problems(net.name, "network", (*path, "name"))
        yield from backbone_ref_problems(net.backbone, (*path, "backbone"))
        yield from builtin_backbone_problems(net.backbone, net.args, spec.input, path)
        if not math.isfinite(net.width) or net.width <= 0:
            yield Problem((*path, "width"), f"`width` must be positive, got {net.width}")
        if not net.trains:
            yield Problem((*path, "trains"), f"network `{net.name}` trains no task")
        yield from task_ref_problems(net.trains, known, (*path, "trains", net.trains))
        yield from task_ref_problems(net.serves - net.trains, known, (*path, "serves", net.serves))
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
