"""FLOPs with attention: ViT-Ti/16 against an independent analytic count."""

from __future__ import annotations

import pytest

from mtlspec.backbone import blocks_for


def vit_macs(depth: int, dim: int, heads: int, patch: int, size: int, mlp: int = 4,
             prefix: int = 1) -> tuple[int, int]:
    """(matrix-product MACs, the rest under mtlspec's convention) of a ViT's features."""
    grid = (size // patch) ** 2
    tokens = grid + prefix
    embed = grid * dim * 3 * patch * patch
    per_block = (tokens * dim * 3 * dim  # qkv
                 + 2 * heads * tokens * tokens * (dim // heads)  # QKᵀ and AV
                 + tokens * dim * dim  # output projection
                 + 2 * tokens * dim * mlp * dim)  # MLP
    small = (2 * 5 * tokens * dim  # two LayerNorms with affine, 5 per element
             + 2 * tokens * dim  # scaling q and k
             + 3 * heads * tokens * tokens  # softmax
             + tokens * mlp * dim  # GELU
             + 2 * tokens * dim)  # two residual adds
    rest = depth * small + tokens * dim + 5 * tokens * dim  # position add, final norm
    return embed + depth * per_block, rest


@pytest.mark.parametrize("name", ["timm.vit_tiny_patch16_224", "torchvision.vit_b_16"])
def test_vit_flops_include_attention(name):
    if name.startswith("timm."):
        pytest.importorskip("timm")
        depth, dim, heads = 12, 192, 3
    else:
        depth, dim, heads = 12, 768, 12
    products, rest = vit_macs(depth, dim, heads, 16, 224)
    bb = blocks_for(name, input_shape=(3, 224, 224), materialize=False)
    assert bb.uncounted == {}
    assert bb.flops == pytest.approx(products, rel=0.02)  # the bar
    assert bb.flops == pytest.approx(products + rest, rel=1e-3)  # the convention, exactly
