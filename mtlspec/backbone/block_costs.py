"""FLOPs and parameters of each block (the counting convention is in `flops`).

The detector needs no extra pass: `partition_costs` adds up the per-node FLOPs the trace's
shape pass counted. `block_costs` counts modules one forward pass each (one thread, as
tracing), for blocks that did not come from a trace. Ops without a formula are returned as
data (op name → number of calls) so callers can warn about them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import networkx as nx
import torch
from torch import nn

from mtlspec.backbone.flops import count, counting
from mtlspec.backbone.partition import Partition

__all__ = ["Cost", "block_costs", "count", "partition_costs", "total_uncounted"]


@dataclass(frozen=True)
class Cost:
    """What one block costs.

    Attributes:
        flops: flops (multiply-adds for products, see `flops`) for one input of the given shape.
        params: parameters the block holds (each shared tensor once).
        output_shape: shape of the block's output tensor.
        uncounted: ops with no formula → how many times they ran.
    """

    flops: int
    params: int
    output_shape: tuple[int, ...]
    uncounted: dict[str, int] = field(default_factory=dict)


def partition_costs(graph: nx.DiGraph, part: Partition, blocks: Sequence[nn.Module]
                    ) -> list[Cost]:
    """Each block's cost from the per-node counts of `trace` (no forward pass).

    A block recomputes the input-independent nodes it reads (see `split`), so their flops
    count in every block that reads them, as they run.

    Args:
        graph: the facts graph of `trace` (vertex attributes `flops`, `uncounted`, `shape`).
        part: the partition the blocks were split with.
        blocks: the block modules (their parameters are counted).

    Returns:
        One `Cost` per block.

    Example:
        >>> from mtlspec.backbone import partition, split, trace
        >>> from mtlspec.backbone.convnet import ConvNet
        >>> t = trace(ConvNet(depth=2, width=2), (1, 3, 4, 4))
        >>> p = partition(t.graph, t.source, t.sink)
        >>> [c.flops for c in partition_costs(t.graph, p, split(t.module, p))]
        [960, 168]
    """
    members: list[list[str]] = [[] for _ in part.cuts]
    for v, b in part.assignment.items():
        members[b].append(v)
    costs = []
    for body, cut, block in zip(members, part.cuts, blocks, strict=True):
        nodes = set(body) | _constants(graph, body, part.assignment)
        uncounted: Counter[str] = Counter()
        for v in nodes:
            uncounted.update(graph.nodes[v].get("uncounted", {}))
        costs.append(Cost(sum(graph.nodes[v].get("flops", 0) for v in nodes),
                          sum(p.numel() for p in block.parameters()),
                          tuple(graph.nodes[cut]["shape"]), dict(uncounted)))
    return costs


def _constants(graph: nx.DiGraph, body: list[str], assigned: dict[str, int]) -> set[str]:
    """Input-independent ancestors of `body` (copied into the block by `split`)."""
    found: set[str] = set()
    stack = [p for v in body for p in graph.pred[v] if p not in assigned]
    while stack:
        v = stack.pop()
        if v in found or graph.nodes[v]["op"] == "placeholder":
            continue
        found.add(v)
        stack.extend(p for p in graph.pred[v] if p not in assigned)
    return found


def block_costs(blocks: Sequence[nn.Module], input_shape: tuple[int, ...]) -> list[Cost]:
    """Count each block's FLOPs and parameters, feeding each the previous block's output.

    One forward pass per block, on one thread; blocks run in eval mode (their mode is
    restored afterwards) on a fixed random input.

    Args:
        blocks: modules to chain, one tensor in and one out (from `split`).
        input_shape: shape of the first block's input, (N, C, H, W).

    Returns:
        One `Cost` per block. FLOPs add up: their sum is the count of the whole chain.

    Example:
        >>> from mtlspec.backbone.convnet import ConvNet
        >>> [c.flops for c in block_costs(list(ConvNet(depth=2, width=2).stages), (1, 3, 4, 4))]
        [960, 168]
    """
    x = torch.randn(input_shape, generator=torch.Generator().manual_seed(0))
    costs = []
    modes = [b.training for b in blocks]
    try:
        for block in blocks:
            block.eval()
            with counting() as counter:
                x = block(x)
            params = sum(p.numel() for p in block.parameters())  # shared tensors once
            costs.append(Cost(counter.flops, params, tuple(x.shape), dict(counter.uncounted)))
    finally:
        for block, mode in zip(blocks, modes, strict=True):
            block.train(mode)
    return costs


def total_uncounted(costs: Sequence[Cost]) -> dict[str, int]:
    """Uncounted ops of several blocks together, most frequent first.

    Example:
        >>> total_uncounted([Cost(0, 0, (), {"aten::foo": 2}), Cost(0, 0, (), {"aten::foo": 1})])
        {'aten::foo': 3}
    """
    total: Counter[str] = Counter()
    for c in costs:
        total.update(c.uncounted)
    return dict(total.most_common())
