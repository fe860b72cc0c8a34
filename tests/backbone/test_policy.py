"""The branching-point policy: sensible block boundaries, each decision with its reason."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mtlspec.backbone import blocks_for, build, partition, trace
from mtlspec.backbone.partition import check
from mtlspec.cli import main


@pytest.mark.parametrize(("name", "count"), [("torchvision.resnet34", 17),
                                             ("torchvision.mobilenet_v2", 32)])
def test_treemtl_counts_stay(name, count):
    # TreeMTL's own detector gives these counts (issue 22 checked them block by block)
    bb = blocks_for(name, input_shape=(3, 64, 64), materialize=False)
    assert len(bb.blocks) == count


def test_convnet_keeps_conv_bn_relu_together():
    bb = blocks_for("convnet", input_shape=(3, 16, 16), args={"depth": 2})
    reasons = {d.cut: (d.kept, d.reason) for d in bb.decisions}
    assert reasons["stages.0.conv"] == (False, "feeds only its normalization (stages.0.bn)")
    assert reasons["stages.0.bn"] == (False, "feeds only its activation (stages.0.relu)")
    assert reasons["stages.0"][0] and "completes" in reasons["stages.0"][1]
    assert [b.first for b in bb.info] == ["stages.0.conv", "stages.1.conv"]


def test_convnext_norm_pieces_and_channels_last_tensors_are_not_cut():
    built = build("torchvision.convnext_tiny")
    traced = trace(built.model, (1, 3, 64, 64), head=built.head)
    part = partition(traced.graph, traced.source, traced.sink)
    assert check(traced.graph, traced.source, part) == []
    # stem + 3 + 3 + 9 + 3 ConvNeXt blocks; each downsample (LayerNorm2d, conv) joins the last
    # block of its stage, since the stage's end feeds only the downsample's norm
    assert len(part) == 19
    why = {d.cut: d.reason for d in part.decisions if not d.kept}
    assert any("channels-last" in r for r in why.values())
    assert any(r.startswith("output of a pre-normalization") for r in why.values())
    for cut in part.cuts:
        assert traced.graph.nodes[cut]["layout"] == "nchw"


def test_vit_is_cut_at_transformer_block_boundaries():
    bb = blocks_for("torchvision.vit_b_16", input_shape=(3, 32, 32), materialize=False)
    # patch embedding (+ class token + position embedding), then one block per encoder layer
    assert len(bb.blocks) == 13
    assert [b.last for b in bb.info[1:-1]] == [
        f"encoder.layers.encoder_layer_{i}" for i in range(11)]
    halves = [d for d in bb.decisions if not d.kept and "encoder_layer_" in d.reason]
    assert len(halves) == 12  # the cut after each attention half, inside its encoder layer
    assert all("a residual unit that continues after it" in d.reason for d in halves)


def test_check_reports_a_block_that_begins_with_a_norm():
    built = build("convnet", args={"depth": 2})
    traced = trace(built.model, (1, 3, 8, 8))
    raw = partition(traced.graph, traced.source, traced.sink, merge=False)
    problems = check(traced.graph, traced.source, raw)
    assert "block 1 begins with a norm layer (stages.0.bn)" in problems
    assert "block 1 holds no weights" in problems


def test_blocks_json_explains_each_cut_point():
    result = CliRunner().invoke(main, ["blocks", "torchvision.resnet18", "--input", "3x32x32",
                                       "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    policy = report["policy"]
    assert [p["cut"] for p in policy] == report["cut_points"]
    assert sum(p["kept"] for p in policy) == len(report["blocks"]) == 9
    assert policy[0] == {"cut": "conv1", "kept": False,
                         "reason": "feeds only its normalization (bn1)"}
    assert report["output_layout"]["kind"] == "nchw"
