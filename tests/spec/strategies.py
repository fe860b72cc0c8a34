"""Hypothesis strategies for random *valid* spec IRs of all three kinds.

Every strategy here builds an IR that `find_problems` accepts and that spec text can express,
so the round-trip properties (`parse(format(ir)) == ir`, ...) must hold for all of them.
What "valid" means is spelled out next to each strategy; if the validator and a strategy
disagree, one of the two is wrong.

Strategies are built once at import time (or cached): hypothesis validates every strategy
object it draws from, and building them inside `@composite` functions made drawing a spec
several times slower.
"""

from __future__ import annotations

import functools
import operator
import os
import string as _string

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mtlspec.spec import catalog, ir

# Bounded runs (the whole spec suite must stay well under a minute on 2 cores); derandomized
# under CI so a red build reproduces. MTLSPEC_HYPOTHESIS_EXAMPLES raises the count locally.
EXAMPLES = int(os.environ.get("MTLSPEC_HYPOTHESIS_EXAMPLES", "100"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Keywords of the grammar: the contextual lexer lets them be used as names, so the
# strategies mix them in on purpose.
KEYWORDS = [
    "model", "dag", "grouping", "input", "backbone", "blocks", "auto", "allow_import", "layout",
    "branch", "after", "init", "weights", "central", "states", "flow", "stem", "edge",
    "topology", "in", "edges", "out", "network", "trains", "serves", "tasks", "head", "budget",
    "true", "false",
]

_FIRST = _string.ascii_letters + "_"
_REST = _FIRST + _string.digits


def names(first: str = _FIRST, rest: str = _REST, max_size: int = 7) -> st.SearchStrategy[str]:
    """Identifier-like names (a regex strategy would be several times slower to draw)."""
    return st.builds(operator.add, st.sampled_from(first), st.text(rest, max_size=max_size))


# Names a compiled torch module reserves (`to`, `eval`, ...) are rejected by `validate`.
identifiers = st.one_of(names(), st.sampled_from(KEYWORDS)).filter(
    lambda n: not catalog.is_reserved_name(n))

# Spec strings: anything but \n and \r (spec text has no escape for them). Quotes,
# backslashes, `#`, tabs, braces, non-ASCII, and what str.splitlines() (but not the grammar)
# takes for a line break (\f, \x85, \u2028) are all fair game.
_TRICKY = '"\\# \t{}[]();:,=<>-.\x0b\x0c\x1c\x85\u2028'
text_chars = st.one_of(
    st.sampled_from(_TRICKY),
    st.sampled_from(_string.ascii_letters + _string.digits),
    st.characters(codec="utf-8", exclude_characters="\n\r"),
)
texts = st.text(text_chars, max_size=12)
nonempty_texts = st.text(text_chars, min_size=1, max_size=12)
optional_texts = st.none() | nonempty_texts

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
positive_floats = st.floats(min_value=1e-9, max_value=1e12, allow_nan=False)
ints = st.integers(min_value=-(10**12), max_value=10**12)
positive_ints = st.integers(min_value=1, max_value=10**9)

# A kwarg value: number, string (bare-name-like or needing quotes), boolean, nested list.
values = st.recursive(
    st.one_of(st.booleans(), ints, finite_floats, texts, identifiers),
    lambda inner: st.lists(inner, max_size=3).map(tuple),
    max_leaves=6,
)
kwargs = st.dictionaries(identifiers, values, max_size=3)
# `width=` of a network is the IR's `width` field, never one of its args
network_kwargs = st.dictionaries(identifiers.filter(lambda k: k != "width"), values, max_size=3)


# ---------------------------------------------------------------------- catalogue calls
def _value_of_kind(kind: str, positive: bool,
                   bounds: tuple[float, float] | None = None) -> st.SearchStrategy[ir.Value]:
    if bounds is not None:  # the catalogue's declared range
        low, high = bounds
        if kind == catalog.FLOAT:
            return st.floats(min_value=low, max_value=high)
        item = st.integers(min_value=int(low), max_value=int(high))
        if kind == catalog.INT_LIST:
            return st.one_of(item, st.lists(item, min_size=1, max_size=4).map(tuple))
        return item
    if kind == catalog.INT:
        return positive_ints if positive else ints
    if kind == catalog.FLOAT:
        return positive_floats if positive else st.one_of(finite_floats, ints)
    if kind == catalog.BOOL:
        return st.booleans()
    if kind == catalog.STR:
        return texts
    if kind == catalog.INT_LIST:
        item = positive_ints if positive else ints
        # one int is accepted as a list of one
        return st.one_of(item, st.lists(item, min_size=1, max_size=4).map(tuple))
    raise AssertionError(f"unknown argument kind {kind!r}")


def _call_of(name: str, sig: catalog.Signature) -> st.SearchStrategy[ir.Call]:
    """Calls to one catalogue entry: exactly one of each `one_of` group, any optional args,
    every value of the kind the entry declares, arguments in any order."""
    grouped = {k for group in sig.one_of for k in group}
    optional = sorted(k for k in sig.args if k not in grouped)
    value_of = {k: _value_of_kind(kind, k in sig.positive, sig.range_of(k))
                for k, kind in sig.args.items()}
    chosen = st.tuples(
        st.tuples(*(st.sampled_from(group) for group in sig.one_of)),
        st.lists(st.sampled_from(optional), unique=True) if optional else st.just([]),
    ).flatmap(lambda p: st.permutations([*p[0], *p[1]]))
    args = chosen.flatmap(
        lambda keys: st.fixed_dictionaries({k: value_of[k] for k in keys}).map(
            lambda d, keys=keys: {k: d[k] for k in keys}  # keep the drawn order
        )
    )
    return args.map(lambda a: ir.Call(name=name, args=a))


@functools.cache
def catalog_calls(table_name: str) -> st.SearchStrategy[ir.Call]:
    """Calls to entries of `catalog.<table_name>` (HEADS, STEM_OPS, EDGE_OPS)."""
    table: dict[str, catalog.Signature] = getattr(catalog, table_name)
    return st.one_of(*(_call_of(name, table[name]) for name in sorted(table)))


heads = catalog_calls("HEADS")


# ---------------------------------------------------------------------- shared items
inputs = st.builds(
    ir.TensorInput,
    name=identifiers,
    dtype=st.sampled_from(sorted(catalog.DTYPES)),
    # a 4-d input's channels fit a built-in backbone's `in_channels` range
    shape=st.lists(st.integers(1, 2**31 - 1), min_size=1, max_size=5).map(
        lambda s: (s[0], min(s[1], catalog.MAX_WIDTH), *s[2:]) if len(s) == 4 else tuple(s)),
)
task_names = st.lists(identifiers, min_size=1, max_size=5, unique=True)

# Budgets: figures that print with a K/M/G suffix or as a bare integer, and arbitrary ones.
_scaled = st.tuples(st.integers(1, 999), st.sampled_from([1, 10**3, 10**6, 10**9]))
budget_ints = st.one_of(_scaled.map(lambda p: p[0] * p[1]), st.integers(1, 10**15))
budget_floats = st.one_of(
    budget_ints.map(float),
    st.floats(min_value=1e-6, max_value=1e18, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.5, 1.0, 2.25, 1e-7, 1e16, 3.5e20]),
)


latencies = st.builds(ir.Latency, ms=budget_floats, runtime=st.just("ort-cpu"),
                      batch=st.integers(1, 512), threads=st.none() | st.integers(1, 64))


def _budgets(units: bool) -> st.SearchStrategy[ir.Budget | None]:
    # `units` is a model/grouping budget (single-task networks of compute), not a DAG's
    return st.none() | st.builds(
        ir.Budget,
        gmacs=st.none() | budget_floats,
        params=st.none() | budget_ints,
        units=(st.none() | budget_floats) if units else st.none(),
        latency_ms=st.none() | latencies,
    )


budgets_with_units = _budgets(True)
budgets_without_units = _budgets(False)

_lower = _string.ascii_lowercase + "_"
_custom_refs = st.builds(
    lambda parts, attr: ".".join(parts) + ":" + attr,
    st.lists(names(_lower, _lower + _string.digits, 5), min_size=1, max_size=3),
    names(max_size=5),
)
# A built-in or torchvision name, or a `"pkg.module:callable"` reference (user code).
_USABLE = [b for b in catalog.known_backbones() if b not in catalog.UNSUPPORTED_BACKBONES]
backbone_refs = st.one_of(st.sampled_from(_USABLE), _custom_refs)


@st.composite
def partitions(draw, items: list[str]) -> list[frozenset[str]]:
    """A random partition of `items` into non-empty groups."""
    labels = draw(st.lists(st.integers(0, len(items) - 1), min_size=len(items),
                           max_size=len(items)))
    groups: dict[int, set[str]] = {}
    for item, label in zip(items, labels, strict=True):
        groups.setdefault(label, set()).add(item)
    return [frozenset(g) for g in groups.values()]


def _images(inp: ir.TensorInput, refs: list[str]) -> ir.TensorInput:
    """A 4-d input when a built-in or torchvision backbone reads it (they take images)."""
    if len(inp.shape) == 4 or not any(r in catalog.BUILTIN_BACKBONES
                                      or r.startswith("torchvision.") for r in refs):
        return inp
    shape = (*inp.shape, 1, 1, 1, 1)[:4]
    return inp.model_copy(update={"shape": (shape[0], min(shape[1], catalog.MAX_WIDTH),
                                            *shape[2:])})


def _backbone_args(draw, ref: str, inp: ir.TensorInput, drop: tuple[str, ...] = (),
                   other: st.SearchStrategy[dict] = kwargs) -> dict[str, ir.Value]:
    """Any arguments for user code and torchvision (checked when built); a built-in's own,
    in their ranges, with `in_channels` matching a 4-d input."""
    sig = catalog.BUILTIN_BACKBONES.get(ref)
    if sig is None:
        return draw(other)
    args = {k: v for k, v in draw(_call_of(ref, sig)).args.items() if k not in drop}
    if len(inp.shape) == 4 and ("in_channels" in args or inp.shape[1] != 3):
        args["in_channels"] = inp.shape[1]  # `inputs` keeps it within the range
    return args


def _tasks(draw, task_list: list[str]) -> tuple[ir.Task, ...]:
    return tuple(ir.Task(name=name, head=draw(heads)) for name in task_list)


# ---------------------------------------------------------------------- trees
@st.composite
def layouts(draw, task_list: list[str], blocks: int) -> tuple[frozenset[frozenset[str]], ...]:
    """`blocks` rows, the first any partition (a forest is fine), each refining the one above."""
    row = frozenset(draw(partitions(task_list)))
    rows = [row]
    for _ in range(blocks - 1):
        row = frozenset(g for group in row for g in draw(partitions(sorted(group))))
        rows.append(row)
    return tuple(rows)


cut_components = st.one_of(names(max_size=6), st.text(_string.digits, min_size=1, max_size=2))
cut_names = st.one_of(
    # dotted module paths: layer1, layer2.1, layer2.1.conv1, features.3
    st.tuples(names(max_size=6), st.lists(cut_components, max_size=3)).map(
        lambda p: ".".join([p[0], *p[1]])
    ),
    st.sampled_from(["layer1", "layer2.1", "layer3", "features.3", "layer2.1.conv1", "odd name"]),
    nonempty_texts,  # anything else is printed quoted
)


@st.composite
def block_selections(draw, blocks: int) -> ir.AutoBlocks | ir.CutAfter:
    """`auto` (any row count), `auto(K)` with K rows, or K-1 distinct cut points."""
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return ir.AutoBlocks()
    if choice == 1 or blocks < 2:  # `blocks: []` has no spelling
        return ir.AutoBlocks(count=blocks)
    after = draw(st.lists(cut_names, min_size=blocks - 1, max_size=blocks - 1, unique=True))
    return ir.CutAfter(after=tuple(after))


@st.composite
def tree_specs(draw) -> ir.TreeSpec:
    task_list = draw(task_names)
    blocks = draw(st.integers(1, 6))
    ref = draw(backbone_refs)
    inp = _images(draw(inputs), [ref])
    backbone = ir.Backbone(
        ref=ref,
        args=_backbone_args(draw, ref, inp),
        blocks=draw(block_selections(blocks)),
        allow_import=draw(st.booleans()),
    )
    return ir.TreeSpec(
        name=draw(identifiers),
        input=inp,
        backbone=backbone,
        tasks=_tasks(draw, task_list),
        layout=draw(layouts(task_list, blocks)),
        budget=draw(budgets_with_units),
        init=draw(optional_texts),
        weights=draw(optional_texts),
    )


# ---------------------------------------------------------------------- DAGs
@st.composite
def topologies(draw, task: str, states: int, flow: int) -> ir.Topology:
    """Edges i→j with 0 < j−i ≤ flow; read-outs reachable from the read-ins."""
    all_states = list(range(1, states + 1))
    read_in = draw(st.sets(st.sampled_from(all_states), min_size=1))
    allowed = [(i, j) for i in all_states for j in range(i + 1, min(i + flow, states) + 1)]
    edges = draw(st.sets(st.sampled_from(allowed))) if allowed else set()
    reached = set(read_in)
    for i, j in sorted(edges):  # sorted by source: one pass finds everything reachable
        if i in reached:
            reached.add(j)
    read_out = draw(st.sets(st.sampled_from(sorted(reached)), min_size=1))
    return ir.Topology(
        task=task, read_in=frozenset(read_in), edges=frozenset(edges), read_out=frozenset(read_out)
    )


@st.composite
def dag_specs(draw) -> ir.DagSpec:
    """States 1..N, flow 1..max(N-1, 1), one topology per task in any order."""
    task_list = draw(task_names)
    states = draw(st.integers(1, 10))
    flow = draw(st.integers(1, max(states - 1, 1)))
    inp = draw(inputs)
    stem = draw(catalog_calls("STEM_OPS"))
    if len(inp.shape) == 4 and stem.args.get("stride", 1) > min(inp.shape[2:]):
        stem = ir.Call(name=stem.name, args={**stem.args, "stride": min(inp.shape[2:])})
    central = ir.Central(
        states=states,
        flow=flow,
        stem=stem,
        edge=draw(catalog_calls("EDGE_OPS")),
    )
    order = draw(st.permutations(task_list))
    return ir.DagSpec(
        name=draw(identifiers),
        input=inp,
        central=central,
        tasks=_tasks(draw, task_list),
        topologies=tuple(draw(topologies(t, states, flow)) for t in order),
        budget=draw(budgets_without_units),
    )


# ---------------------------------------------------------------------- groupings
widths = st.one_of(st.sampled_from([0.25, 0.5, 1.0, 2.0]), positive_floats)


@st.composite
def grouping_specs(draw) -> ir.GroupingSpec:
    """Every task served by exactly one network; `serves ⊆ trains`; `trains` never empty."""
    task_list = draw(task_names)
    served = draw(partitions(task_list))
    served += [frozenset()] * draw(st.integers(0, 2))  # networks that only help train
    served = draw(st.permutations(served))
    net_names = draw(st.lists(identifiers, min_size=len(served), max_size=len(served),
                              unique=True))
    refs = [draw(backbone_refs) for _ in served]
    inp = _images(draw(inputs), refs)
    networks = []
    for net_name, serves, ref in zip(net_names, served, refs, strict=True):
        extra = draw(st.sets(st.sampled_from(task_list), min_size=0 if serves else 1))
        networks.append(ir.Network(
            name=net_name,
            backbone=ref,
            args=_backbone_args(draw, ref, inp, ("width",), network_kwargs),
            width=draw(widths),
            trains=frozenset(serves | extra),
            serves=serves,
        ))
    return ir.GroupingSpec(
        name=draw(identifiers),
        input=inp,
        tasks=_tasks(draw, task_list),
        networks=tuple(networks),
        budget=draw(budgets_with_units),
    )


any_specs = st.one_of(tree_specs(), dag_specs(), grouping_specs())
