"""Grouping compiler and cost report: serving networks, idle heads, width scaling, cost."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest
import torch

import mtlspec.compile.grouping as grouping_module
from mtlspec.compile import compile
from mtlspec.compile.grouping import build_backbone, compile_grouping
from mtlspec.cost import cost, fvcore_total, grouping_cost
from mtlspec.errors import MtlspecError
from mtlspec.spec import load, parse

SPECS = Path(__file__).parents[2] / "specs"

SPEC = """grouping small {
  input image: float[2, 3, 16, 16]
  tasks { a: head linear(classes=4); b: head conv(out=2); c: head mlp(classes=3, hidden=[8]) }
  network A: convnet(depth=3, width=0.5) trains {a, b} serves {a, b}
  network B: convnet(depth=3, width=0.25) trains {b, c} serves {c}
}
"""


def compiled(text: str = SPEC):
    torch.manual_seed(0)
    return compile_grouping(parse(text)).eval()


def params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_outputs_in_declaration_order_with_stable_keys():
    model = compiled()
    out = model(torch.randn(2, 3, 16, 16))
    assert list(out) == model.task_names == ["a", "b", "c"]
    assert out["a"].shape == (2, 4) and out["b"].shape == (2, 2, 16, 16)
    assert out["c"].shape == (2, 3)
    keys = set(model.state_dict())
    assert "networks.A.backbone.stages.0.conv.weight" in keys
    assert "networks.B.heads.b.0.weight" in keys  # trained, not served: still there
    assert {k.split(".")[3] for k in keys if ".heads." in k} == {"a", "b", "c"}
    assert model.server == {"a": "A", "b": "A", "c": "B"}


def test_each_task_comes_from_the_network_that_serves_it():
    model = compiled()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        before = model(x)
        for p in model.networks["B"].backbone.parameters():
            p.add_(0.5)
        after_b = model(x)
        for p in model.networks["A"].backbone.parameters():
            p.add_(0.5)
        after_a = model(x)
    assert [t for t in "abc" if not torch.equal(before[t], after_b[t])] == ["c"]
    assert [t for t in "abc" if not torch.equal(after_b[t], after_a[t])] == ["a", "b"]


def test_backbones_run_once_and_unserved_heads_not_at_all():
    model = compiled()
    modules = {"A": model.networks["A"].backbone, "B": model.networks["B"].backbone,
               "B.b": model.networks["B"].heads["b"], "A.b": model.networks["A"].heads["b"]}
    calls = dict.fromkeys(modules, 0)
    for name, module in modules.items():
        module.register_forward_hook(lambda *_, n=name: calls.__setitem__(n, calls[n] + 1))
    with torch.no_grad():
        model(torch.randn(2, 3, 16, 16))
    assert calls == {"A": 1, "B": 1, "B.b": 0, "A.b": 1}


def convnet_params(width: int) -> int:
    """ConvNet(depth=3): 3x3 convs 3->w, w->w, w->w (no bias) and three BatchNorms."""
    return 3 * width * 9 + 2 * width * width * 9 + 3 * 2 * width


def test_convnet_width_scales_channels_by_hand():
    model = compiled()
    assert model.networks["A"].feature_shape == (2, 16, 4, 4)  # round(32 x 0.5)
    assert model.networks["B"].feature_shape == (2, 8, 4, 4)
    assert params(model.networks["A"].backbone) == convnet_params(16)
    assert params(model.networks["B"].backbone) == convnet_params(8)


@pytest.mark.parametrize("name, channels", [
    ("torchvision.resnet18", 256), ("torchvision.resnext50_32x4d", 1024)])
def test_resnet_width_half_quarters_the_parameters(name: str, channels: int):
    shape = (1, 3, 32, 32)
    full, full_shape = build_backbone(name, args={}, width=1.0, input_shape=shape)
    half, half_shape = build_backbone(name, args={}, width=0.5, input_shape=shape)
    assert half_shape[1] == channels == full_shape[1] // 2
    assert 0.24 < params(half) / params(full) < 0.26
    # same module names as torchvision's model, so its checkpoints' layout still applies
    assert [k for k in half.state_dict()] == [k for k in full.state_dict()]
    assert half.conv1.out_channels == 32
    assert half.get_submodule("layer1.0.conv1").in_channels == 32


@pytest.mark.parametrize("name", ["torchvision.mobilenet_v2", "torchvision.mnasnet0_5"])
def test_width_multipliers_of_mobile_backbones(name: str):
    shape = (1, 3, 32, 32)
    full, _ = build_backbone(name, args={}, width=1.0, input_shape=shape)
    half, _ = build_backbone(name, args={}, width=0.5, input_shape=shape)
    assert params(half) < params(full)
    assert half(torch.zeros(shape)).dim() == 4


def test_backbone_without_width_mechanism_is_a_clear_error():
    with pytest.raises(MtlspecError, match=r"squeezenet1_1 cannot be width-scaled .*convnet"):
        build_backbone("torchvision.squeezenet1_1", args={}, width=0.5,
                       input_shape=(1, 3, 32, 32))
    spec = parse(SPEC.replace("convnet(depth=3, width=0.25)", '"no.such:net"(width=0.25)'))
    with pytest.raises(MtlspecError, match="user code"):
        compile_grouping(spec)


def test_analytic_cost_equals_fvcore():
    model = compiled()
    report = grouping_cost(model)
    total, uncounted = fvcore_total(model)
    assert report.flops == total and report.uncounted == uncounted
    assert report.total_params == params(model)
    assert report.params == params(model) - params(model.networks["B"].heads["b"])
    assert report.unused == {"network B: head b": params(model.networks["B"].heads["b"])}
    assert [n.label for n in report.nodes] == ["network A (width 0.5)", "network B (width 0.25)"]
    assert report.units == pytest.approx(0.75)  # Σ widths
    assert report.flops_units < report.units  # narrow networks cost about width² in FLOPs


def test_independent_is_a_full_width_single_task_network():
    report = cost(compiled())
    alone = compiled(SPEC.replace("width=0.25) trains {b, c}", "width=1.0) trains {c}"))
    single = grouping_cost(alone)
    assert report.independent["c"] == single.per_task["c"]
    node = single.nodes[1]
    assert report.independent_params["c"] == node.params + single.heads["c"][1]
    # hand check of the convnet's FLOPs at width 32: 3x3 convs at 16x16, 8x8, 4x4 + BatchNorms
    # (2 per element) + ReLUs (1 per element)
    convs = 2 * (3 * 32 * 9 * 256 + 32 * 32 * 9 * (64 + 16))
    norms_relus = 2 * 3 * 32 * (256 + 64 + 16)
    assert node.flops == convs + norms_relus


def test_shipped_grouping_spec_compiles_runs_and_meets_its_budget():
    spec = load(SPECS / "taskonomy_grouping_2_5.mtl").spec
    small = spec.model_copy(update={"input": spec.input.model_copy(
        update={"shape": (1, 3, 64, 64)})})
    model = compile(small).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64))
    assert list(out) == ["segment", "depth", "normal", "keypoint", "edge"]
    assert out["normal"].shape == (1, 3, 64, 64)
    assert model.networks["C"].feature_shape[1] == 256
    report = cost(model)
    assert report.flops == fvcore_total(model)[0]
    assert report.units == pytest.approx(2.5) and report.units <= spec.budget.units


def test_docstring_examples():
    result = doctest.testmod(grouping_module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0 and result.failed == 0
