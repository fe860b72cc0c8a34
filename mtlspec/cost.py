"""FLOPs and parameters of a compiled tree model: per node, per task path, heads, total.

fvcore's convention: one multiply-add is one flop. The analytic figures add up the detector's
per-block counts over the unique nodes plus each head; `fvcore_total` counts the whole
compiled model in one pass, and the two must agree (a test holds them to it). Ops fvcore
cannot count are listed in `uncounted`, not hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from mtlspec.backbone.cost import count
from mtlspec.compile.tree import TreeModel


@dataclass(frozen=True)
class NodeCost:
    block: int  # 1-based
    tasks: tuple[str, ...]
    flops: int
    params: int


@dataclass
class CostReport:
    """What a compiled tree costs, and what the same tasks cost as separate networks.

    Attributes:
        nodes: one entry per block copy.
        heads: task → (flops, params) of its head.
        per_task: task → flops along its path (its blocks and its head).
        independent: task → flops of its own single-task network (every block + its head).
        uncounted: ops fvcore could not count → calls.
    """

    name: str
    nodes: list[NodeCost]
    heads: dict[str, tuple[int, int]]
    per_task: dict[str, int]
    independent: dict[str, int]
    independent_params: dict[str, int]
    uncounted: dict[str, int] = field(default_factory=dict)

    @property
    def flops(self) -> int:
        return sum(n.flops for n in self.nodes) + sum(f for f, _ in self.heads.values())

    @property
    def params(self) -> int:
        return sum(n.params for n in self.nodes) + sum(p for _, p in self.heads.values())

    @property
    def units(self) -> float:
        """FLOPs in single-task networks (TreeMTL's "N models"): total ÷ mean independent."""
        mean = sum(self.independent.values()) / len(self.independent)
        return self.flops / mean

    @property
    def flops_vs_independent(self) -> float:
        """Relative change of FLOPs against independent single-task networks (−0.67 = −67%)."""
        return self.flops / sum(self.independent.values()) - 1.0

    @property
    def params_vs_independent(self) -> float:
        return self.params / sum(self.independent_params.values()) - 1.0


def tree_cost(model: TreeModel) -> CostReport:
    """The analytic cost report of a compiled tree model (blocks from the detector's counts).

    Example:
        >>> report = tree_cost(compile_tree(spec))  # doctest: +SKIP
        >>> report.units  # doctest: +SKIP
        1.47
    """
    block_flops = [info.flops for info in model.backbone_info]
    block_params = [info.params for info in model.backbone_info]
    nodes = [NodeCost(n.block + 1, n.tasks, block_flops[n.block], block_params[n.block])
             for n in model.plan]
    feature = torch.zeros(model.backbone_info[-1].output_shape)
    heads: dict[str, tuple[int, int]] = {}
    uncounted = dict(model.backbone_uncounted)
    with torch.no_grad():
        for task in model.task_names:
            head = model.heads[task]
            mode = head.training
            head.eval()
            flops, missing = count(head, feature)
            head.train(mode)
            heads[task] = (flops, sum(p.numel() for p in head.parameters()))
            for op, calls in missing.items():
                uncounted[op] = uncounted.get(op, 0) + calls
    per_task = {t: heads[t][0] for t in model.task_names}
    for node in nodes:
        for t in node.tasks:
            per_task[t] += node.flops
    backbone_flops, backbone_params = sum(block_flops), sum(block_params)
    return CostReport(
        name=model.spec.name,
        nodes=nodes,
        heads=heads,
        per_task=per_task,
        independent={t: backbone_flops + heads[t][0] for t in model.task_names},
        independent_params={t: backbone_params + heads[t][1] for t in model.task_names},
        uncounted=uncounted,
    )


class _Outputs(torch.nn.Module):
    """The model with a tuple output in task order (what tracers and exporters want)."""

    def __init__(self, model: TreeModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(x)
        return tuple(out[t] for t in self.model.task_names)


def fvcore_total(model: TreeModel) -> tuple[int, dict[str, int]]:
    """fvcore's count of the whole compiled model at the spec's input shape (eval mode)."""
    mode = model.training
    model.eval()
    try:
        with torch.no_grad():
            return count(_Outputs(model), torch.zeros(tuple(model.spec.input.shape)))
    finally:
        model.train(mode)
