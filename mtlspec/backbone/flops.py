"""FLOPs and parameters of each block, counted by fvcore at a given input shape.

fvcore's convention: one multiply-add counts as one flop. Ops fvcore has no rule for are not
counted; they are returned as data (op name → number of calls) so callers can warn about them.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass(frozen=True)
class Cost:
    """What one block costs.

    Attributes:
        flops: fvcore flops (multiply-adds) for one input of the given shape.
        params: parameters the block holds (each shared tensor once).
        output_shape: shape of the block's output tensor.
        uncounted: ops fvcore could not count → how many times they ran.
    """

    flops: int
    params: int
    output_shape: tuple[int, ...]
    uncounted: dict[str, int] = field(default_factory=dict)


def count(module: nn.Module, x: torch.Tensor) -> tuple[int, dict[str, int]]:
    """fvcore flops of `module` on `x`, and the ops it could not count.

    Args:
        module: any module taking one tensor.
        x: its input.

    Returns:
        (flops, uncounted ops → calls).

    Example:
        >>> count(nn.Conv2d(1, 1, 3, bias=False), torch.zeros(1, 1, 5, 5))
        (81, {})
    """
    with warnings.catch_warnings():
        # fvcore.nn scripts its focal losses at import, which torch now flags as deprecated.
        warnings.simplefilter("ignore", FutureWarning)
        from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(module, (x,))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    # fvcore logs every skipped op at WARNING level; the caller reports `uncounted` instead.
    logger = logging.getLogger("fvcore.nn.jit_analysis")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        flops = int(analysis.total())
        uncounted = dict(analysis.unsupported_ops())
    finally:
        logger.setLevel(level)
    return flops, uncounted


def block_costs(blocks: Sequence[nn.Module], input_shape: tuple[int, ...]) -> list[Cost]:
    """Count each block's FLOPs and parameters, feeding each the previous block's output.

    Blocks run in eval mode (their mode is restored afterwards) on a fixed random input.

    Args:
        blocks: modules to chain, one tensor in and one out (from `split`).
        input_shape: shape of the first block's input, (N, C, H, W).

    Returns:
        One `Cost` per block. FLOPs add up: their sum is the fvcore count of the whole chain.

    Example:
        >>> from mtlspec.backbone.convnet import ConvNet
        >>> [c.flops for c in block_costs(list(ConvNet(depth=2, width=2).stages), (1, 3, 4, 4))]
        [928, 160]
    """
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(input_shape, generator=generator)
    costs = []
    modes = [b.training for b in blocks]
    try:
        with torch.no_grad():
            for block in blocks:
                block.eval()
                flops, uncounted = count(block, x)
                x = block(x)
                params = sum(p.numel() for p in block.parameters())  # shared tensors once
                costs.append(Cost(flops, params, tuple(x.shape), uncounted))
    finally:
        for block, mode in zip(blocks, modes, strict=True):
            block.train(mode)
    return costs


def total_uncounted(costs: Sequence[Cost]) -> dict[str, int]:
    """Uncounted ops of several blocks together, most frequent first.

    Example:
        >>> total_uncounted([Cost(0, 0, (), {"aten::mul": 2}), Cost(0, 0, (), {"aten::mul": 1})])
        {'aten::mul': 3}
    """
    total: Counter[str] = Counter()
    for c in costs:
        total.update(c.uncounted)
    return dict(total.most_common())
