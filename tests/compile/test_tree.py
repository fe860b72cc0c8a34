"""Tree compiler and cost report on a small convnet (fast), checked against hand-built truths."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mtlspec.compile.tree import compile_tree, plan_nodes
from mtlspec.cost import fvcore_total, tree_cost
from mtlspec.errors import MtlspecError
from mtlspec.spec import parse

SPEC = """model small {
  input image: float[2, 3, 16, 16]
  backbone convnet(depth=3, width=8) { blocks: auto(3) }
  tasks {
    a: head linear(classes=4)
    b: head conv(out=2)
    c: head mlp(classes=3, hidden=[8])
  }
  layout [
    ROWS
  ]
}
"""
TREE = "{a, b, c}\n{a, b} {c}\n{a} {b} {c}"
SHARED = "{a, b, c}\n{a, b, c}\n{a, b, c}"
SEPARATE = "{a} {b} {c}\n{a} {b} {c}\n{a} {b} {c}"


def spec_of(rows: str, **replace: str):
    text = SPEC.replace("ROWS", rows)
    for old, new in replace.items():
        text = text.replace(old, new)
    return parse(text)


def compiled(rows: str = TREE):
    torch.manual_seed(0)
    return compile_tree(spec_of(rows)).eval()


def test_outputs_one_tensor_per_task_in_declaration_order():
    out = compiled()(torch.randn(2, 3, 16, 16))
    assert list(out) == ["a", "b", "c"]
    assert out["a"].shape == (2, 4) and out["b"].shape == (2, 2, 16, 16)
    assert out["c"].shape == (2, 3)


def test_every_node_runs_exactly_once_per_forward():
    model = compiled()
    calls: dict[str, int] = {}
    for row_name, row in model.nodes.items():
        for key, node in row.items():
            name = f"{row_name}.{key}"
            node.register_forward_hook(lambda *_, n=name: calls.__setitem__(n, calls.get(n, 0) + 1))
    model(torch.randn(2, 3, 16, 16))
    assert calls == {"b1.a+b+c": 1, "b2.a+b": 1, "b2.c": 1, "b3.a": 1, "b3.b": 1, "b3.c": 1}


def test_state_dict_keys_are_stable():
    keys = set(compiled().state_dict())
    assert any(k.startswith("nodes.b1.a+b+c.") for k in keys)
    assert any(k.startswith("nodes.b2.a+b.") for k in keys)
    assert any(k.startswith("heads.c.") for k in keys)
    assert {k.split(".")[1] for k in keys if k.startswith("nodes.")} == {"b1", "b2", "b3"}


def test_nodes_have_independent_parameters():
    model = compiled()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        before = model(x)
        for p in model.nodes["b3"]["c"].parameters():
            p.add_(1.0)
        after = model(x)
    assert torch.equal(before["a"], after["a"]) and torch.equal(before["b"], after["b"])
    assert not torch.equal(before["c"], after["c"])


def test_all_shared_tree_equals_backbone_then_heads():
    model = compiled(SHARED)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        features = x
        for i in (1, 2, 3):
            features = model.nodes[f"b{i}"]["a+b+c"](features)
        out = model(x)
        for task in "abc":
            assert torch.allclose(out[task], model.heads[task](features), atol=1e-6)


def test_plan_parents_follow_the_layout():
    plan = plan_nodes(spec_of(TREE))
    parents = {(n.block, n.tasks): n.parent for n in plan}
    assert parents[(1, ("c",))] == ("a", "b", "c")
    assert parents[(2, ("b",))] == ("a", "b")


@pytest.mark.parametrize("rows", [TREE, SHARED, SEPARATE])
def test_analytic_cost_equals_fvcore_and_parameter_count(rows: str):
    model = compiled(rows)
    report = tree_cost(model)
    total, _ = fvcore_total(model)
    assert report.flops == total
    assert report.params == sum(p.numel() for p in model.parameters())


def test_cost_relative_to_independent_networks():
    separate = tree_cost(compiled(SEPARATE))
    shared = tree_cost(compiled(SHARED))
    tree = tree_cost(compiled(TREE))
    assert separate.flops_vs_independent == pytest.approx(0.0)
    assert separate.units == pytest.approx(3.0)
    assert shared.flops < tree.flops < separate.flops
    # all-shared: one backbone + three heads, over the mean single-task network
    backbone = sum(n.flops for n in shared.nodes)
    heads = sum(f for f, _ in shared.heads.values())
    mean = sum(separate.independent.values()) / 3
    assert shared.units == pytest.approx((backbone + heads) / mean)


def test_weights_file_round_trip(tmp_path: Path):
    model = compiled()
    torch.save(model.state_dict(), tmp_path / "w.pt")
    spec = spec_of(TREE, **{"  layout [": '  weights "w.pt"\n  layout ['})
    loaded = compile_tree(spec, base_dir=tmp_path).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert all(torch.equal(a[t], b[t]) for t in a)


def test_weights_that_do_not_fit_are_a_clear_error(tmp_path: Path):
    torch.save({"nodes.b9.x.weight": torch.zeros(1)}, tmp_path / "w.pt")
    spec = spec_of(TREE, **{"  layout [": '  weights "w.pt"\n  layout ['})
    with pytest.raises(MtlspecError, match="do not fit the model"):
        compile_tree(spec, base_dir=tmp_path)
    with pytest.raises(MtlspecError, match="does not exist"):
        compile_tree(spec, base_dir=tmp_path / "nowhere")


def test_row_count_must_match_detected_blocks():
    spec = spec_of("{a, b, c}\n{a} {b} {c}", **{"auto(3)": "auto"})
    with pytest.raises(MtlspecError, match="the layout has 2 rows but convnet has 3 blocks"):
        compile_tree(spec)
