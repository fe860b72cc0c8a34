"""`blocks_for`: the one call the compiler and the CLI make (build → trace → partition → select →
split → cost), and `verify`, which checks that the blocks recompose the backbone exactly.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import fx

from mtlspec.backbone import registry
from mtlspec.backbone.block_costs import Cost, partition_costs, total_uncounted
from mtlspec.backbone.errors import BackboneError
from mtlspec.backbone.layout import FeatureLayout
from mtlspec.backbone.partition import Partition, partition
from mtlspec.backbone.policy import Decision
from mtlspec.backbone.select import balanced_groups, display_names, regroup, select_named
from mtlspec.backbone.split import split
from mtlspec.backbone.trace import Traced, trace

Selection = None | str | int | Sequence[str]


@dataclass(frozen=True)
class BlockInfo:
    """One block of a backbone.

    Attributes:
        index: position, from 0.
        first: the block's first node (module name, or fx node name for a function).
        last: readable name of the cut point ending it (outermost module whose output it is).
        cut: fx node name of that cut point.
        output_shape: shape of the block's output for the requested input shape.
        params: parameters held by the block.
        flops: flops of the block (multiply-adds for products; see `flops`).
    """

    index: int
    first: str
    last: str
    cut: str
    output_shape: tuple[int, ...]
    params: int
    flops: int


@dataclass
class BackboneBlocks:
    """A backbone cut into blocks.

    Attributes:
        name: the backbone name.
        input_shape: (N, C, H, W) the costs were counted at.
        features: the whole backbone (input → last spatial feature map), an fx GraphModule.
        blocks: one module per block; chained they compute `features`. They share parameters
            with `features` (deep-copy a block to give a task branch its own weights).
        info: per-block facts, aligned with `blocks`.
        cut_points: readable names of every detected cut point (before merging): the names an
            explicit selection may use.
        detected: number of blocks the detector found (after merging), whatever the selection.
        uncounted: ops without a flop formula → calls (show as warnings).
        decisions: per cut point (readable name), whether the policy kept it and why.
        layout: the backbone's output layout and what heads get.
        leaves: module classes kept whole because fx could not trace through them.
    """

    name: str
    input_shape: tuple[int, ...]
    features: fx.GraphModule
    blocks: list[fx.GraphModule]
    info: list[BlockInfo]
    cut_points: list[str]
    detected: int
    uncounted: dict[str, int]
    decisions: list[Decision] = field(default_factory=list)
    layout: FeatureLayout | None = None
    leaves: tuple[str, ...] = ()

    @property
    def flops(self) -> int:
        return sum(b.flops for b in self.info)

    @property
    def params(self) -> int:
        return sum(b.params for b in self.info)


def blocks_for(
    backbone: str,
    *,
    input_shape: tuple[int, ...],
    args: Mapping[str, Any] | None = None,
    selection: Selection = None,
    allow_import: bool = False,
    weights: str | Path | None = None,
    materialize: bool = True,
) -> BackboneBlocks:
    """Build, trace and cut a backbone into blocks, with per-block FLOPs and parameters.

    Args:
        backbone: registered name (`torchvision.resnet34`, `convnet`) or, with
            `allow_import`, `"pkg.module:callable"`.
        input_shape: input shape; (C, H, W) or (N, C, H, W). Costs are for this shape.
        args: keyword arguments of the backbone builder (e.g. `{"width_mult": 0.5}`).
        selection: None or "auto": every detected block; an int K: K FLOPs-balanced groups of
            detected blocks (`auto(K)`); a sequence of module / fx node names: cut after each
            (any detected cut point, even one merging would remove).
        allow_import: allow a `"pkg.module:callable"` backbone (runs user code).
        weights: a weights file (state dict) loaded with `torch.load(weights_only=True)`.
        materialize: False builds the model on the `meta` device (no memory, no random
            init) when only the report is wanted: blocks, shapes, FLOPs and parameter counts
            are the same, but the modules cannot run (falls back to a real build if the
            model cannot be built or traced that way).

    Returns:
        The `BackboneBlocks`.

    Raises:
        BackboneError: bad name, arguments, input shape, weights file or selection, or a
            backbone that cannot be traced.

    Example:
        >>> bb = blocks_for("convnet", input_shape=(3, 32, 32), selection=2)
        >>> [b.output_shape for b in bb.info]
        [(1, 32, 32, 32), (1, 32, 4, 4)]
    """
    shape = _normalize_shape(input_shape)
    traced = None
    if not materialize and weights is None:
        try:
            with torch.device("meta"):
                built = registry.build(backbone, args=args, input_shape=shape,
                                       allow_import=allow_import)
            traced = trace(built.model, shape, head=built.head, end=built.end, name=backbone)
        except Exception:
            traced = None  # some builders or ops need real tensors: build for real
    if traced is None:
        built = registry.build(backbone, args=args, input_shape=shape,
                               allow_import=allow_import)
        traced = trace(built.model, shape, head=built.head, end=built.end, name=backbone)
    if weights is not None:
        registry.load_weights(traced.module, weights)
    if traced.source in traced.graph.pred[traced.sink]:
        raise BackboneError(f"{backbone}: the backbone has no layers to cut")
    merged = partition(traced.graph, traced.source, traced.sink)
    chosen, costs = _select(traced, merged, selection, backbone)
    blocks = split(traced.module, chosen)
    names = display_names(traced.graph, merged.raw_cuts)
    info = [
        BlockInfo(i, _first(traced, chosen, i), names.get(cut, cut), cut, cost.output_shape,
                  sum(p.numel() for p in block.parameters()), cost.flops)
        for i, (block, cut, cost) in enumerate(zip(blocks, chosen.cuts, costs, strict=True))
    ]
    decisions = [Decision(names[d.cut], d.kept, d.reason) for d in merged.decisions]
    return BackboneBlocks(backbone, shape, traced.module, blocks, info,
                          [names[c] for c in merged.raw_cuts], len(merged),
                          total_uncounted(costs), decisions, traced.layout, traced.leaves)


def _normalize_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    shape = tuple(shape)
    if len(shape) == 3:
        shape = (1, *shape)
    if len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise BackboneError(f"input shape must be C x H x W (positive integers), got {shape}")
    return shape


def _select(traced: Traced, merged: Partition, selection: Selection,
            backbone: str) -> tuple[Partition, list[Cost]]:
    """The chosen partition and the cost of each of its blocks."""
    if selection is None or selection == "auto":
        return merged, partition_costs(traced.graph, merged, split(traced.module, merged))
    if isinstance(selection, int) and not isinstance(selection, bool):
        costs = partition_costs(traced.graph, merged, split(traced.module, merged))
        if not 1 <= selection <= len(merged):
            raise BackboneError(
                f"{backbone}: cannot make {selection} blocks: the detector found "
                f"{len(merged)}", hint=f"ask for between 1 and {len(merged)} blocks")
        ends = balanced_groups([c.flops for c in costs], selection)
        chosen = regroup(merged, [merged.cuts[e] for e in ends])
        starts = [0, *(e + 1 for e in ends[:-1])]
        return chosen, [_sum_costs(costs[s:e + 1]) for s, e in zip(starts, ends, strict=True)]
    if isinstance(selection, Sequence) and not isinstance(selection, str) and selection and all(
            isinstance(n, str) for n in selection):
        raw = partition(traced.graph, traced.source, traced.sink, merge=False)
        chosen = select_named(traced.graph, raw, list(selection), backbone=backbone)
        return chosen, partition_costs(traced.graph, chosen, split(traced.module, chosen))
    raise BackboneError(f"{backbone}: bad block selection {selection!r}",
                        hint="use auto, a number of blocks K, or a list of module names")


def _sum_costs(costs: Sequence[Cost]) -> Cost:
    # FLOPs add up exactly (counted per op); parameters are recounted from the modules.
    return Cost(sum(c.flops for c in costs), sum(c.params for c in costs),
                costs[-1].output_shape, dict(total_uncounted(costs)))


def _first(traced: Traced, part: Partition, index: int) -> str:
    first = min(part.members(index), key=lambda v: traced.graph.nodes[v]["order"])
    data = traced.graph.nodes[first]
    if data["op"] == "call_module":
        return data["target"]
    return data["scopes"][-1] if data["scopes"] else first


@dataclass(frozen=True)
class Verification:
    """Result of `verify`: largest differences, relative to the output's magnitude."""

    eval_diff: float
    train_diff: float
    mutating_blocks: tuple[int, ...]
    tolerance: float

    @property
    def ok(self) -> bool:
        return (max(self.eval_diff, self.train_diff) <= self.tolerance
                and not self.mutating_blocks)


def verify(bb: BackboneBlocks, *, tolerance: float = 1e-6, seed: int = 0) -> Verification:
    """Check that the blocks, chained, compute the backbone's features exactly.

    Eval mode on one random input; train mode (batch statistics, stochastic depth under the
    same random seed) on a batch of two, with copies so running statistics are not touched.
    Also reports blocks that modify their input in place (unsafe when branches share it).

    Args:
        bb: the result of `blocks_for`.
        tolerance: largest allowed |blocks - original| / max(1, max |original|).
        seed: seed of the inputs and of random layers.

    Returns:
        The `Verification` (`.ok` tells whether it passed).

    Example:
        >>> verify(blocks_for("convnet", input_shape=(3, 16, 16))).ok
        True
    """
    shape = bb.input_shape
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    features, blocks = copy.deepcopy((bb.features, bb.blocks))  # one copy keeps them shared
    mutating = []
    with torch.no_grad():
        for module in (features, *blocks):
            module.eval()
        reference, out = features(x), x
        for i, block in enumerate(blocks):
            before = out.clone()
            out, inp = block(out), out
            if not torch.equal(before, inp):
                mutating.append(i)
        eval_diff = _relative_diff(reference, out)
        for module in (features, *blocks):
            module.train()
        xs = torch.randn((2, *shape[1:]), generator=torch.Generator().manual_seed(seed))
        torch.manual_seed(seed)
        reference = features(xs)
        torch.manual_seed(seed)
        out = xs
        for block in blocks:
            out = block(out)
        train_diff = _relative_diff(reference, out)
    return Verification(eval_diff, train_diff, tuple(mutating), tolerance)


def _relative_diff(reference: torch.Tensor, out: torch.Tensor) -> float:
    if reference.shape != out.shape:
        return float("inf")
    scale = max(1.0, reference.abs().max().item())
    return (reference - out).abs().max().item() / scale
