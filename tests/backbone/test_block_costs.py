"""Per-block FLOPs and parameters: hand-computed truths, and blocks adding up to the backbone."""

from __future__ import annotations

import pytest
import torch

from mtlspec.backbone import block_costs, blocks_for
from mtlspec.backbone.flops import count


def test_convnet_flops_and_params_by_hand():
    # ConvNet(depth=3, width=4) on 3x16x16. A conv costs (outputs x C_in x k x k)
    # multiply-adds; an eval BatchNorm with affine costs 2 per element; ReLU 1 per element.
    bb = blocks_for("convnet", input_shape=(3, 16, 16), args={"depth": 3, "width": 4})
    conv0 = (4 * 16 * 16) * (3 * 3 * 3)  # stride 1: 4x16x16 outputs
    conv1 = (4 * 8 * 8) * (4 * 3 * 3)  # stride 2: 4x8x8
    conv2 = (4 * 4 * 4) * (4 * 3 * 3)  # stride 2: 4x4x4
    bn_relu = [3 * 4 * 16 * 16, 3 * 4 * 8 * 8, 3 * 4 * 4 * 4]
    assert [b.flops for b in bb.info] == [conv0 + bn_relu[0], conv1 + bn_relu[1],
                                          conv2 + bn_relu[2]]
    # conv weights (no bias) + BN weight and bias
    assert [b.params for b in bb.info] == [3 * 4 * 9 + 8, 4 * 4 * 9 + 8, 4 * 4 * 9 + 8]
    assert [b.output_shape for b in bb.info] == [(1, 4, 16, 16), (1, 4, 8, 8), (1, 4, 4, 4)]
    assert bb.uncounted == {}


def test_linear_and_conv_counts_by_hand():
    assert count(torch.nn.Conv2d(2, 3, 3, bias=False), torch.zeros(1, 2, 5, 5))[0] == 3 * 9 * 18
    assert count(torch.nn.Linear(7, 5), torch.zeros(4, 7))[0] == 4 * 7 * 5


@pytest.mark.parametrize("name", ["torchvision.resnet18", "torchvision.mobilenet_v3_small",
                                  "torchvision.densenet121", "torchvision.swin_t"])
def test_block_costs_add_up_to_the_whole_backbone(name):
    bb = blocks_for(name, input_shape=(3, 64, 64))
    flops, _ = count(bb.features.eval(), torch.randn(1, 3, 64, 64))
    assert bb.flops == flops > 0
    assert bb.params == sum(p.numel() for p in bb.features.parameters())
    assert sum(b.params for b in bb.info) == bb.params
    # costs of re-chained blocks are those of the blocks taken one by one
    again = block_costs(bb.blocks, (1, 3, 64, 64))
    assert [c.flops for c in again] == [b.flops for b in bb.info]


def test_elementwise_pooling_and_attention_are_counted():
    bb = blocks_for("torchvision.resnet18", input_shape=(3, 32, 32))
    assert bb.uncounted == {}
    assert bb.info[-1].output_shape == (1, 512, 1, 1)

    class Ops(torch.nn.Module):
        def forward(self, x):
            y = torch.nn.functional.max_pool2d(x, 2) + 1  # 4 per output, then 1 per element
            return torch.nn.functional.gelu(y).mean()  # 1 per element, then 1 per input

    assert count(Ops(), torch.zeros(1, 2, 4, 4)) == (8 * 4 + 8 + 8 + 8, {})
    q = torch.zeros(1, 2, 5, 4)  # 2 heads, 5 tokens, 4 channels
    attention = count(_Attention(), q)[0]
    # scale q and k, QKᵀ (2·5·5·4), softmax (3 per score), AV (2·5·5·4)
    assert attention == 2 * q.numel() + 200 + 3 * 50 + 200


class _Attention(torch.nn.Module):
    def forward(self, q):
        return torch.nn.functional.scaled_dot_product_attention(q, q, q)


def test_ops_without_a_formula_are_reported_not_hidden():
    class Spectrum(torch.nn.Module):
        def forward(self, x):
            return torch.fft.rfft2(x).abs()

    flops, uncounted = count(Spectrum(), torch.zeros(1, 1, 4, 4))
    assert uncounted == {"aten::_fft_r2c": 1}
    assert flops == 1 * 4 * 3  # abs of the 4x3 spectrum
