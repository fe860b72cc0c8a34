"""Every registered backbone: its blocks, chained, compute its features exactly (eval and train).

Parametrized over the registry (like timm's tests), at a small input the model accepts (32x32
where it can), with weights drawn from a shared random pool (see `pooled_random_init`), so the
whole registry takes well under a minute.
"""

from __future__ import annotations

import pytest
import torch

from mtlspec.backbone import list_backbones, partition, registry, split, trace
from mtlspec.backbone.partition import check
from mtlspec.backbone.registry import _REGISTRY


def _size(name: str) -> int:
    entry = _REGISTRY[name]
    if entry.size_multiple > 1:
        return entry.size_multiple
    return max(32, entry.min_size)


def _chain(blocks, x):
    for block in blocks:
        x = block(x)
    return x


@pytest.mark.parametrize("name", list_backbones())
def test_blocks_compose_to_the_backbone(name: str, pooled_init):
    size = _size(name)
    with pooled_init():
        built = registry.build(name, input_shape=(1, 3, size, size))
    traced = trace(built.model, (1, 3, size, size), head=built.head, end=built.end, name=name)
    part = partition(traced.graph, traced.source, traced.sink)
    blocks = split(traced.module, part)
    assert len(blocks) >= 1
    assert traced.output_shape[0] == 1 and len(traced.output_shape) == 4  # a spatial map
    # the branching-point policy: no block begins with a norm or holds no weights, no
    # channels-last cut tensor
    assert check(traced.graph, traced.source, part) == []
    features = traced.module
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for module in (features, *blocks):
            module.eval()
        expected = features(x[:1])
        assert torch.isfinite(expected).all()
        out = x[:1]
        for i, block in enumerate(blocks):
            before = out.clone()
            out, inp = block(out), out
            # task branches will share a block's input: no block may change it in place
            assert torch.equal(inp, before), f"block {i} modifies its input in place"
        assert torch.allclose(out, expected, rtol=0, atol=1e-6)
        assert not any(p.numel() == 0 for p in features.parameters())
        # Train mode: batch statistics (and stochastic depth under one seed) must match too.
        for module in (features, *blocks):
            module.train()
        torch.manual_seed(1)
        expected = features(x)
        torch.manual_seed(1)
        assert torch.allclose(_chain(blocks, x), expected, rtol=0, atol=1e-6)
    # every input-dependent node is in exactly one block, blocks own disjoint parameters
    params = [{id(p) for p in b.parameters()} for b in blocks]
    assert sum(map(len, params)) == len(set().union(*params)) == len(list(features.parameters()))


def test_the_classifier_is_dropped():
    built = registry.build("torchvision.resnet18")
    traced = trace(built.model, (1, 3, 64, 64), head=built.head)
    modules = {name for name, _ in traced.module.named_modules()}
    assert "fc" not in modules and "avgpool" not in modules and "layer4" in modules
    assert traced.output_shape == (1, 512, 2, 2)
