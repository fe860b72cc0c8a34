"""DAG compiler and cost report: hand-worked values, shared sub-expressions, shared weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mtlspec.compile import compile
from mtlspec.compile.dag import compile_dag, edge_name, list_edge_ops, list_stem_ops, plan_dag
from mtlspec.cost import cost, dag_cost, fvcore_total
from mtlspec.errors import MtlspecError
from mtlspec.spec import catalog, ir, load, parse

SPECS = Path(__file__).parents[2] / "specs"

# a: v2 = e12(v1), v3 = mean(e13(v1), e23(v2));  b: state 1 is not live (no path to an
# output), v2 = stem, v3 = e23(v2), feature = v2 + v3;  c: v2 = mean(stem, e12(v1)).
HAND = """dag hand {
  input image: float[1, 2, 3, 3]
  central { states: 3; flow: 2; stem: conv(out=2, kernel=1); edge: EDGE }
  tasks { a: head conv(out=1); b: head conv(out=1); c: head conv(out=1) }
  topology a { in: 1; edges: 1->2 1->3 2->3; out: 3 }
  topology b { in: 1 2; edges: 2->3; out: 2 3 }
  topology c { in: 1 2; edges: 1->2; out: 2 }
}
"""

# a and b share their whole chain 1->2->3; c shares v2 (and e23(v2)) with them but its v3
# also reads e13; d reads state 2 in directly, so its e23 input is a different value.
CSE = """dag cse {
  input image: float[1, 3, 8, 8]
  central { states: 5; flow: 3; stem: conv(out=4, stride=2); edge: conv3x3 }
  tasks { a: head linear(classes=2); b: head linear(classes=2); c: head conv(out=1)
          d: head conv(out=1) }
  topology a { in: 1; edges: 1->2 2->3; out: 3 }
  topology b { in: 1; edges: 1->2 2->3 3->4; out: 4 }
  topology c { in: 1; edges: 1->2 1->3 2->3 1->4 3->5; out: 3 }
  topology d { in: 2; edges: 2->3; out: 3 }
}
"""


def hand_model(edge: str = "conv1x1"):
    torch.manual_seed(0)
    return compile_dag(parse(HAND.replace("EDGE", edge))).eval()


def scale_edges(model, factors: dict[str, float]) -> None:
    """Make each conv1x1-BN-ReLU edge multiply its input by a known factor."""
    with torch.no_grad():
        for name, factor in factors.items():
            conv, bn, _ = model.edges[name]
            conv.weight.copy_(factor * torch.eye(2).reshape(2, 2, 1, 1))
            bn.eps = 0.0  # eval-mode BN with mean 0, var 1, weight 1, bias 0: the identity


def captured(model, x):
    """(stem output, {task: feature the head reads}) of one forward pass."""
    seen: dict[str, torch.Tensor] = {}
    handles = [model.stem.register_forward_hook(lambda m, i, o: seen.__setitem__("stem", o))]
    for task in model.task_names:
        handles.append(model.heads[task].register_forward_pre_hook(
            lambda m, i, t=task: seen.__setitem__(t, i[0])))
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return seen.pop("stem"), seen


def count_calls(modules) -> dict[str, int]:
    calls = dict.fromkeys(modules, 0)
    for name, module in modules.items():
        module.register_forward_hook(lambda *_, n=name: calls.__setitem__(n, calls[n] + 1))
    return calls


def test_states_follow_the_mean_rule_by_hand():
    model = hand_model()
    scale_edges(model, {"e1_2": 2.0, "e1_3": 3.0, "e2_3": 5.0})
    stem, feats = captured(model, torch.randn(1, 2, 3, 3))
    assert (stem >= 0).all()  # after ReLU, so the ReLUs of the edges pass it unchanged
    assert torch.allclose(feats["a"], 6.5 * stem)  # mean(3s, 5 * 2s)
    assert torch.allclose(feats["b"], 6.0 * stem)  # s + 5s
    assert torch.allclose(feats["c"], 1.5 * stem)  # mean(s, 2s)


def test_equal_upstream_subgraphs_run_once_and_different_ones_separately():
    model = compile_dag(parse(CSE)).eval()
    calls = count_calls(dict(model.edges.items()))
    with torch.no_grad():
        model(torch.randn(1, 3, 8, 8))
    # e23 runs on two values of state 2 (a/b/c's and d's read-in); everything else once.
    assert calls == {"e1_2": 1, "e1_3": 1, "e2_3": 2, "e3_4": 1}
    by_state = {}
    for node in model.plan.nodes:
        by_state.setdefault(node.state, []).append(node.tasks)
    assert by_state[2] == [("a", "b", "c"), ("d",)]
    assert by_state[3] == [("a", "b"), ("c",), ("d",)]


def test_hand_dag_applies_the_shared_edge_to_two_values():
    model = hand_model()
    calls = count_calls(dict(model.edges.items()))
    with torch.no_grad():
        model(torch.randn(1, 2, 3, 3))
    assert calls == {"e1_2": 1, "e1_3": 1, "e2_3": 2}


def test_edges_no_task_uses_live_have_no_module():
    # 1->4 and 3->5 of task c lead to no read-out: dead, so neither gets a module.
    model = compile_dag(parse(CSE))
    assert sorted(model.edges) == ["e1_2", "e1_3", "e2_3", "e3_4"]
    assert model.plan.task_edges["c"] == {(1, 2), (1, 3), (2, 3)}
    assert not any(k.startswith(("edges.e1_4.", "edges.e3_5.")) for k in model.state_dict())


def test_a_shared_edge_has_one_set_of_weights():
    model = compile_dag(parse(CSE)).eval()
    keys = [k for k in model.state_dict() if k.startswith("edges.e1_2.")]
    assert keys == ["edges.e1_2.0.weight", "edges.e1_2.1.weight", "edges.e1_2.1.bias",
                    "edges.e1_2.1.running_mean", "edges.e1_2.1.running_var",
                    "edges.e1_2.1.num_batches_tracked"]
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        before = model(x)
        model.edges["e1_2"][0].weight.add_(0.5)  # used by a, b, c
        shared = model(x)
        model.edges["e3_4"][0].weight.add_(0.5)  # used by b only
        own = model(x)
    assert [t for t in "abcd" if not torch.equal(before[t], shared[t])] == ["a", "b", "c"]
    assert [t for t in "abcd" if not torch.equal(shared[t], own[t])] == ["b"]


def test_outputs_in_declaration_order_and_stable_keys():
    model = compile_dag(parse(CSE))
    out = model(torch.randn(1, 3, 8, 8))
    assert list(out) == model.task_names == ["a", "b", "c", "d"]
    assert out["a"].shape == (1, 2) and out["c"].shape == (1, 1, 8, 8)
    assert model.state_shape == (1, 4, 4, 4)
    prefixes = {".".join(k.split(".")[:2]) for k in model.state_dict()}
    assert {"stem.0", "stem.1", "edges.e2_3", "heads.a", "heads.d"} <= prefixes


@pytest.mark.parametrize("edge", sorted(catalog.EDGE_OPS))
def test_analytic_cost_equals_fvcore_for_every_edge_op(edge: str):
    model = hand_model(edge)
    report = dag_cost(model)
    total, uncounted = fvcore_total(model)
    assert report.flops == total
    assert report.uncounted == uncounted
    assert report.params == sum(p.numel() for p in model.parameters())
    assert model(torch.randn(1, 2, 3, 3))["a"].shape == (1, 1, 3, 3)  # edges keep shape


def test_conv1x1_costs_by_hand():
    report = dag_cost(hand_model())
    # per application: 1x1 conv 2->2 on 3x3 (36 flops) + eval BatchNorm with affine (2 x 18)
    # + ReLU (18)
    edges = {n.label: n.flops for n in report.nodes if n.label.startswith("edge")}
    assert edges == {"edge 1->2": 90, "edge 1->3": 90, "edge 2->3 (x2)": 180}
    stem = report.nodes[0]
    assert (stem.label, stem.flops, stem.params) == ("stem", 90, 4 + 4)
    # a's own network: stem + 3 edges + head (1x1 conv 2->1 on 3x3 = 18) + the mean of the
    # two terms reaching state 3 (1 per input element: 2 x 18)
    assert report.independent["a"] == 90 + 3 * 90 + 18 + 2 * 18


def test_independent_cost_is_the_single_task_dag():
    spec = parse(CSE)
    report = cost(compile_dag(spec))
    for task in ("a", "c"):
        alone = spec.model_copy(update={
            "tasks": tuple(t for t in spec.tasks if t.name == task),
            "topologies": tuple(t for t in spec.topologies if t.task == task)})
        single = dag_cost(compile_dag(alone))
        assert report.independent[task] == single.flops
        assert report.independent_params[task] == single.params
    assert report.flops < sum(report.independent.values())


def test_shipped_dag_spec_compiles_runs_and_meets_its_budget():
    spec = load(SPECS / "nyuv2_dag.mtl").spec
    model = compile(spec).eval()
    with torch.no_grad():
        out = model(torch.randn(tuple(spec.input.shape)))
    assert [o.shape[1] for o in out.values()] == [13, 3, 1]  # NYUv2: 13 classes (MTAN)
    report = cost(model)
    assert report.flops == fvcore_total(model)[0]
    assert report.flops / 1e9 <= spec.budget.gmacs


def test_registries_match_the_catalogue():
    assert list_edge_ops() == sorted(catalog.EDGE_OPS)
    assert list_stem_ops() == sorted(catalog.STEM_OPS)
    assert edge_name((2, 4)) == "e2_4"


def test_ir_that_skipped_validation_gives_clear_errors():
    spec = parse(HAND.replace("EDGE", "conv1x1"))
    bad_op = spec.model_copy(update={"central": spec.central.model_copy(
        update={"edge": ir.Call(name="conv9x9")})})
    with pytest.raises(MtlspecError, match="unknown edge op `conv9x9`; edge ops: conv1x1"):
        compile_dag(bad_op)
    topo = ir.Topology(task="a", read_in=frozenset({2}), edges=frozenset({(1, 3)}),
                       read_out=frozenset({3}))
    unreachable = spec.model_copy(update={"topologies": (topo, *spec.topologies[1:])})
    with pytest.raises(MtlspecError, match="read-out state 3 of task `a` cannot be reached"):
        plan_dag(unreachable)
