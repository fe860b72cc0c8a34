"""The CoNAL supernet: an all-shared chain f_S, purely-specific chains, α over branch points.

Plain CoNAL (Yue et al., AAAI 2023) over B backbone blocks: every task t has its own chain h_t
of B blocks and a weight vector α_t over the B+1 branch points p = 0..B, and

    o_t = Σ_p softmax(α_t)_p · head_t(h_t(f_S(x, p), p))

where f_S(x, p) runs the first p shared blocks and h_t(z, p) runs t's own blocks p+1..B. The
weights of h_t are the same for every p (one chain, entered at different depths), and one head
per task reads every branch's features: the mixture is over the heads' outputs.

The same module serves a CoNAL-Pro stage (see `conal_pro`): there the "units" that pick a
branch point are groups of tasks, the shared chain stops at the stage's block, each unit may
only choose between two branch points, and the blocks below the stage are a fixed subtree per
unit (decided by earlier stages). Plain CoNAL is the special case of singleton units, the whole
depth shared, every branch point allowed and no subtree.

State-dict keys: `shared.{i}` (block i+1 of f_S), `own.{unit}.{j}`, `tail.b{i}.{group}`,
`heads.{task}`, `alpha.{unit}` (unit and group keys: task names joined by "+").
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mtlspec.backbone import BackboneBlocks, blocks_for
from mtlspec.compile.heads import build_head
from mtlspec.compile.tree import selection_of
from mtlspec.spec import ir

Partition = tuple[tuple[str, ...], ...]  # groups of task names, each in declaration order


@dataclass(frozen=True)
class Unit:
    """Tasks that pick one branch point together (one task in plain CoNAL).

    Attributes:
        tasks: the tasks, in declaration order.
        candidates: the branch points it may pick, increasing (p = number of shared blocks).
    """

    tasks: tuple[str, ...]
    candidates: tuple[int, ...]

    @property
    def key(self) -> str:
        return "+".join(self.tasks)


class ConalSupernet(nn.Module):
    """A supernet whose `forward(x)` returns {task: α-weighted prediction}.

    Args:
        backbone: the base spec's blocks (copied: the supernet owns its weights).
        heads: one head per task (owned).
        task_names: all tasks, declaration order (the output order).
        units: who picks a branch point; together they hold every task once.
        depth: blocks in the shared chain (B for plain CoNAL; the stage's block for Pro).
        tail: for blocks depth+1..B, the fixed partition of the tasks per block (each refines
            the units and the row above); empty when depth == B.

    Raises:
        ValueError: inconsistent units, candidates or tail.
    """

    def __init__(self, backbone: BackboneBlocks, heads: dict[str, nn.Module],
                 task_names: Sequence[str], units: Sequence[Unit], depth: int,
                 tail: Sequence[Partition] = ()) -> None:
        super().__init__()
        blocks = backbone.blocks
        if depth + len(tail) != len(blocks):
            raise ValueError(f"depth {depth} + {len(tail)} tail rows != {len(blocks)} blocks")
        if sorted(t for u in units for t in u.tasks) != sorted(task_names):
            raise ValueError("the units must hold every task exactly once")
        self.task_names = list(task_names)
        self.units = list(units)
        self.depth = depth
        self.tail_rows = [tuple(row) for row in tail]
        self.backbone_info = list(backbone.info)
        self.shared = nn.ModuleList(copy.deepcopy(blocks[i]) for i in range(depth))
        self.own = nn.ModuleDict()
        self.alpha = nn.ParameterDict()
        for unit in self.units:
            points = unit.candidates
            if not points or not 0 <= points[0] <= points[-1] <= depth:
                raise ValueError(f"unit {unit.key}: candidates {points} outside 0..{depth}")
            lo = unit.candidates[0]
            self.own[unit.key] = nn.ModuleList(copy.deepcopy(blocks[i]) for i in range(lo, depth))
            self.alpha[unit.key] = nn.Parameter(torch.zeros(len(unit.candidates)))
        self.tail = nn.ModuleDict()
        for r, row in enumerate(self.tail_rows):
            self.tail[f"b{depth + r + 1}"] = nn.ModuleDict(
                {"+".join(g): copy.deepcopy(blocks[depth + r]) for g in row})
        self.heads = nn.ModuleDict({t: heads[t] for t in self.task_names})

    def arch_parameters(self) -> list[nn.Parameter]:
        """The α vectors (updated on validation batches)."""
        return list(self.alpha.values())

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every parameter but α (updated on training batches)."""
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def branch_weights(self) -> dict[str, torch.Tensor]:
        """unit key → softmax(α) over its candidates (detached)."""
        return {u.key: torch.softmax(self.alpha[u.key].detach(), 0) for u in self.units}

    def choices(self) -> dict[str, int]:
        """unit key → its argmax branch point (ties: the deeper point, i.e. more sharing)."""
        out = {}
        for unit in self.units:
            w = self.alpha[unit.key].detach()
            best = max(range(len(w)), key=lambda j: (float(w[j]), j))
            out[unit.key] = unit.candidates[best]
        return out

    def _own_chain(self, unit: Unit, z: torch.Tensor, point: int) -> torch.Tensor:
        lo = unit.candidates[0]
        for i in range(point, self.depth):
            z = self.own[unit.key][i - lo](z)
        return z

    def _subtree(self, unit: Unit, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the unit's fixed blocks below the shared depth; then each task's head."""
        feats = dict.fromkeys(unit.tasks, z)
        for r, row in enumerate(self.tail_rows):
            nodes = self.tail[f"b{self.depth + r + 1}"]
            new = {}
            for group in row:
                if group[0] in feats:
                    out = nodes["+".join(group)](feats[group[0]])
                    new.update(dict.fromkeys(group, out))
            feats = new
        return {t: self.heads[t](feats[t]) for t in unit.tasks}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        shared = [x]  # shared[p] = f_S(x, p)
        for block in self.shared:
            shared.append(block(shared[-1]))
        outputs: dict[str, torch.Tensor] = {}
        for unit in self.units:
            weights = torch.softmax(self.alpha[unit.key], 0)
            for j, point in enumerate(unit.candidates):
                preds = self._subtree(unit, self._own_chain(unit, shared[point], point))
                for task, pred in preds.items():
                    term = weights[j] * pred
                    outputs[task] = term if task not in outputs else outputs[task] + term
        return {t: outputs[t] for t in self.task_names}


def base_blocks(spec: ir.TreeSpec, *, allow_import: bool = False) -> BackboneBlocks:
    """The base spec's backbone cut into its blocks, as `compile_tree` cuts it.

    Raises:
        MtlspecError: the backbone cannot be built or cut as the spec asks.
    """
    bb = spec.backbone
    return blocks_for(bb.ref, input_shape=tuple(spec.input.shape), args=dict(bb.args),
                      selection=selection_of(bb.blocks), allow_import=allow_import)


def build_supernet(spec: ir.TreeSpec, *, units: Sequence[Unit] | None = None,
                   depth: int | None = None, tail: Sequence[Partition] = (),
                   backbone: BackboneBlocks | None = None,
                   allow_import: bool = False) -> ConalSupernet:
    """The CoNAL supernet of a base tree spec (its layout is ignored; backbone and heads kept).

    Args:
        spec: a validated tree spec.
        units: default one unit per task with every branch point 0..B (plain CoNAL).
        depth: shared blocks; default B.
        tail: fixed rows below `depth` (CoNAL-Pro stages).
        backbone: the spec's blocks if already built (else built here).
        allow_import: allow a `"pkg.module:callable"` backbone.

    Returns:
        The supernet (fresh weights: seed torch first for a reproducible start).

    Raises:
        MtlspecError: the spec is not a tree spec or its backbone cannot be built.

    Example:
        >>> from mtlspec.spec import load
        >>> net = build_supernet(load("specs/conal_multidigits.mtl").spec)
        >>> sorted(net(torch.zeros(2, 1, 8, 16)))
        ['left', 'parity', 'right']
    """
    ir.require_kind(spec, "model", "CoNAL needs its backbone and heads from")
    bb = backbone if backbone is not None else base_blocks(spec, allow_import=allow_import)
    count = len(bb.blocks)
    depth = count if depth is None else depth
    names = [t.name for t in spec.tasks]
    if units is None:
        units = [Unit((t,), tuple(range(depth + 1))) for t in names]
    channels = bb.info[-1].output_shape[1]
    size = tuple(spec.input.shape[-2:])
    heads = {t.name: build_head(t.head, in_channels=channels, size=size) for t in spec.tasks}
    return ConalSupernet(bb, heads, names, units, depth, tail)
