"""Tracing: the graph's per-node facts, and clear errors for models fx cannot handle."""

from __future__ import annotations

import importlib

import pytest
import torch
from torch import nn
from torchvision.ops import StochasticDepth

from mtlspec.backbone import BackboneError, build, partition, split, trace
from mtlspec.backbone.convnet import ConvNet


def test_convnet_graph_facts():
    traced = trace(ConvNet(depth=2, width=4), (1, 3, 8, 8), name="convnet")
    g = traced.graph
    assert (traced.source, traced.sink) == ("x", "output")
    conv = g.nodes["stages_0_conv"]
    assert conv["module"] == "Conv2d" and conv["target"] == "stages.0.conv"
    assert conv["params"] == 3 * 4 * 9 and conv["role"] == "weights"
    assert conv["shape"] == (1, 4, 8, 8) and conv["tensor"]
    assert conv["scopes"] == ("stages", "stages.0", "stages.0.conv")
    assert g.nodes["stages_0_bn"]["role"] == "norm" and g.nodes["stages_0_bn"]["params"] == 8
    assert g.nodes["stages_1_relu"]["role"] == "free"
    assert g.nodes["stages_1_relu"]["shape"] == (1, 4, 4, 4) == traced.output_shape
    orders = [g.nodes[v]["order"] for v in ("x", "stages_0_conv", "stages_1_relu", "output")]
    assert orders == sorted(orders)
    assert list(g.successors("stages_0_relu")) == ["stages_1_conv"]


class _DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate = _Gate()

    def forward(self, x):
        return self.gate(x)


class _Gate(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # control flow on a tensor value: fx cannot trace this
            return x
        return -x


def test_untraceable_submodule_becomes_a_leaf():
    traced = trace(_DataDependent(), (1, 3, 8, 8), name="custom")
    assert traced.leaves == ("_Gate",)
    assert traced.graph.nodes["gate"]["op"] == "call_module"
    x = torch.randn(1, 3, 8, 8)
    assert torch.equal(traced.module(x), _DataDependent()(x))
    assert torch.equal(traced.module(-x.abs()), x.abs())  # the branch stays live


class _DataDependentRoot(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        x = self.conv(x)
        if x.sum() > 0:  # in the root itself: nothing to keep whole
            return x
        return -x


def test_untraceable_model_names_the_line():
    with pytest.raises(BackboneError) as err:
        trace(_DataDependentRoot(), (1, 3, 8, 8), name="custom")
    message = err.value.message
    assert "cannot trace custom" in message
    assert "test_backbone_trace.py:" in message
    assert "torch.fx.wrap" in err.value.hint


class _TwoInputs(nn.Module):
    def forward(self, x, y):
        return x + y


class _OptionalInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, x, scale=None):
        x = self.conv(x)
        return x if scale is None else x * scale


class _Pair(nn.Module):
    def forward(self, x):
        return x, x


class _Constant(nn.Module):
    def __init__(self):
        super().__init__()
        self.value = nn.Parameter(torch.zeros(1, 3))

    def forward(self, x):
        return self.value * 2


def test_input_and_output_contract():
    with pytest.raises(BackboneError, match="more than one input"):
        trace(_TwoInputs(), (1, 3, 8, 8))
    traced = trace(_OptionalInput(), (1, 3, 8, 8))  # later arguments keep their defaults
    assert traced.output_shape == (1, 2, 8, 8)
    with pytest.raises(BackboneError, match="not a single tensor"):
        trace(_Pair(), (1, 3, 8, 8))
    with pytest.raises(BackboneError, match="does not depend on its input"):
        trace(_Constant(), (1, 3, 8, 8))


def test_failing_op_names_the_node():
    model = nn.Sequential(nn.Conv2d(3, 4, 5), nn.ReLU())
    with pytest.raises(BackboneError) as err:
        trace(model, (1, 3, 3, 3), name="tiny")
    assert "tiny fails on a 3x3x3 input at node '_0' (0)" in err.value.message
    with pytest.raises(BackboneError, match="at node"):
        trace(model, (1, 5, 8, 8), name="tiny")  # wrong number of channels


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.drop = StochasticDepth(0.5, "row")

    def forward(self, x):
        return x + self.drop(self.conv(x))


def test_training_dependent_modules_stay_live():
    # StochasticDepth reads self.training in Python; kept as a leaf it is not frozen at trace.
    model = nn.Sequential(nn.Conv2d(3, 4, 1), _Residual(), _Residual())
    traced = trace(model, (1, 3, 8, 8))
    assert traced.graph.nodes["_1_drop"]["op"] == "call_module"
    blocks = split(traced.module, partition(traced.graph, traced.source, traced.sink))
    x = torch.randn(8, 3, 8, 8)
    with torch.no_grad():
        model.train()
        torch.manual_seed(3)
        expected = model(x)
        for block in blocks:
            block.train()
        torch.manual_seed(3)
        out = x
        for block in blocks:
            out = block(out)
        assert torch.equal(out, expected)
        model.eval()
        assert not torch.equal(model(x), expected)  # the training branch was really random


def test_meta_and_real_shape_propagation_agree(monkeypatch):
    # the package attribute `trace` is the function; the module lives in sys.modules
    module = importlib.import_module("mtlspec.backbone.trace")

    built = build("torchvision.resnet18")
    shapes = {}
    for device, threshold in (("meta", 0.0), ("real", float("inf"))):
        monkeypatch.setattr(module, "_META_ABOVE", threshold)
        traced = trace(built.model, (1, 3, 64, 64), head=built.head)
        shapes[device] = dict(traced.graph.nodes(data="shape"))
    assert shapes["meta"] == shapes["real"]
    assert shapes["real"]["layer4_1_relu_1"] == (1, 512, 2, 2)
