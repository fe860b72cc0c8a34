"""Property: every spec `validate` accepts compiles and runs (no late rejection).

Small generated specs: each argument of each built-in head, DAG op and backbone drawn from the
catalogue's declared range (its low end and small values, so the models stay tiny), tiny
inputs, any layout or topology. A spec the validator passes must build and run a forward pass.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtlspec.compile import compile
from mtlspec.spec import catalog, ir
from mtlspec.spec.validate import find_problems
from tests.spec.strategies import layouts, topologies

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SMALL = 6  # the largest width, class count or depth drawn (the range's low end matters most)


def _small(kind: str, bounds: tuple[float, float] | None) -> st.SearchStrategy[ir.Value]:
    low, high = bounds or (1, SMALL)
    if kind == catalog.FLOAT:
        return st.floats(min_value=low, max_value=high)
    item = st.integers(int(low), int(min(high, low + SMALL)))
    if kind == catalog.INT_LIST:
        return st.one_of(item, st.lists(item, min_size=1, max_size=3).map(tuple))
    return item


@st.composite
def calls(draw, table: dict[str, catalog.Signature], names: list[str] | None = None) -> ir.Call:
    name = draw(st.sampled_from(names or sorted(table)))
    sig = table[name]
    args = {k: draw(_small(kind, sig.range_of(k))) for k, kind in sig.args.items()
            if kind != catalog.BOOL and draw(st.booleans())}
    for group in sig.one_of:
        for key in group:
            args.pop(key, None)
        key = draw(st.sampled_from(group))
        args[key] = draw(_small(sig.args[key], sig.range_of(key)))
    return ir.Call(name=name, args=args)


inputs = st.builds(lambda c, h, w: ir.TensorInput(name="x", shape=(1, c, h, w)),
                   st.integers(1, 3), st.integers(1, 12), st.integers(1, 12))
task_lists = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True)


def _tasks(draw, names: list[str]) -> tuple[ir.Task, ...]:
    return tuple(ir.Task(name=n, head=draw(calls(catalog.HEADS))) for n in names)


@st.composite
def tree_specs(draw) -> ir.TreeSpec:
    inp, names = draw(inputs), draw(task_lists)
    call = draw(calls(catalog.BUILTIN_BACKBONES, ["convnet"]))
    args = {**call.args, "in_channels": inp.shape[1]}
    blocks = draw(st.integers(1, args.get("depth", 4)))
    return ir.TreeSpec(name="t", input=inp,
                       backbone=ir.Backbone(ref="convnet", args=args,
                                            blocks=ir.AutoBlocks(count=blocks)),
                       tasks=_tasks(draw, names), layout=draw(layouts(names, blocks)))


@st.composite
def dag_specs(draw) -> ir.DagSpec:
    inp, names = draw(inputs), draw(task_lists)
    states = draw(st.integers(1, 4))
    flow = draw(st.integers(1, max(states - 1, 1)))
    central = ir.Central(states=states, flow=flow, stem=draw(calls(catalog.STEM_OPS)),
                         edge=draw(calls(catalog.EDGE_OPS)))
    return ir.DagSpec(name="d", input=inp, central=central, tasks=_tasks(draw, names),
                      topologies=tuple(draw(topologies(n, states, flow)) for n in names))


@pytest.mark.parametrize("specs", [tree_specs(), dag_specs()], ids=["tree", "dag"])
def test_every_accepted_spec_compiles(specs):
    @SETTINGS
    @given(specs)
    def check(spec):
        if find_problems(spec):
            return  # rejected up front: fine (the case the property is not about)
        model = compile(spec).eval()
        with torch.no_grad():
            out = model(torch.zeros(spec.input.shape))
        assert set(out) == {t.name for t in spec.tasks}

    check()


def test_reserved_names_cover_torch_containers():
    """A task or network named like any attribute of `nn.ModuleDict` is rejected."""
    from torch import nn

    clashing = {n for n in dir(nn.ModuleDict()) if not catalog.is_reserved_name(n)}
    assert clashing == set()
