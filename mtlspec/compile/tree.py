"""Tree specs → a multi-task PyTorch model that computes every shared node once.

Row i of the layout holds one copy of backbone block i per task set ("node"); a node reads the
output of the node above it that holds its tasks; each task's head reads the last node of its
path. State-dict keys are stable so trained weights map back to the spec:

    nodes.b{i}.{task+task+...}.<block's own keys>   block i (1-based), tasks in declaration order
    heads.{task}.<head's own keys>
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mtlspec.backbone import BackboneBlocks, blocks_for
from mtlspec.compile.heads import build_head
from mtlspec.errors import MtlspecError
from mtlspec.spec import ir
from mtlspec.spec.layout import ordered_groups


@dataclass(frozen=True)
class Node:
    """One block copy: row `block` (0-based), serving `tasks`, fed by `parent` (None: input)."""

    block: int
    tasks: tuple[str, ...]
    parent: tuple[str, ...] | None

    @property
    def key(self) -> str:
        return "+".join(self.tasks)


def plan_nodes(spec: ir.TreeSpec) -> list[Node]:
    """The nodes of a (validated) layout, row by row, in canonical order."""
    order = [t.name for t in spec.tasks]
    nodes: list[Node] = []
    above: dict[str, tuple[str, ...]] = {}
    for i, row in enumerate(spec.layout):
        current: dict[str, tuple[str, ...]] = {}
        for group in ordered_groups(row, order):
            tasks = tuple(group)
            nodes.append(Node(i, tasks, above.get(tasks[0]) if i else None))
            current.update(dict.fromkeys(tasks, tasks))
        above = current
    return nodes


class TreeModel(nn.Module):
    """A compiled tree spec: `forward(x)` returns {task: prediction} in declaration order."""

    def __init__(self, spec: ir.TreeSpec, backbone: BackboneBlocks) -> None:
        super().__init__()
        self.spec = spec
        self.task_names = [t.name for t in spec.tasks]
        self.backbone_info = list(backbone.info)  # per-block FLOPs/params, for cost reports
        self.backbone_uncounted = dict(backbone.uncounted)
        self.plan = plan_nodes(spec)
        self.nodes = nn.ModuleDict()
        for node in self.plan:
            name = f"b{node.block + 1}"
            if name not in self.nodes:
                self.nodes[name] = nn.ModuleDict()
            self.nodes[name][node.key] = copy.deepcopy(backbone.blocks[node.block])
        last = len(spec.layout) - 1
        self.leaf = {t: n.key for n in self.plan if n.block == last for t in n.tasks}
        feature = backbone.info[-1].output_shape
        size = tuple(spec.input.shape[-2:])
        self.heads = nn.ModuleDict({
            t.name: build_head(t.head, in_channels=feature[1], size=size,
                               pooled=len(feature) == 2)
            for t in spec.tasks
        })

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each task's last shared-or-own feature map (every node computed once)."""
        outputs: dict[tuple[int, str], torch.Tensor] = {}
        for node in self.plan:
            source = x if node.parent is None else outputs[(node.block - 1, "+".join(node.parent))]
            outputs[(node.block, node.key)] = self.nodes[f"b{node.block + 1}"][node.key](source)
        last = len(self.spec.layout) - 1
        return {t: outputs[(last, key)] for t, key in self.leaf.items()}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.features(x)
        return {t: self.heads[t](feats[t]) for t in self.task_names}


def selection_of(blocks: ir.AutoBlocks | ir.CutAfter) -> int | tuple[str, ...] | None:
    """The detector's selection for a spec's `blocks:` option."""
    if isinstance(blocks, ir.CutAfter):
        return blocks.after
    return blocks.count


def compile_tree(
    spec: ir.TreeSpec, *, base_dir: str | Path = ".", allow_import: bool = False
) -> TreeModel:
    """Build the multi-task model of a validated tree spec.

    Args:
        spec: the spec (validate it first).
        base_dir: folder that `init` / `weights` paths are relative to (the spec's folder).
        allow_import: allow a `"pkg.module:callable"` backbone even if the spec does not.

    Returns:
        The model, in training mode like any fresh nn.Module.

    Raises:
        MtlspecError: the backbone cannot be built or cut as asked, the layout's row count
            differs from the detected block count, or a weights file does not fit.

    Example:
        >>> from mtlspec.spec import load
        >>> model = compile_tree(load("specs/conal_multidigits.mtl").spec)
        >>> model(torch.zeros(1, 1, 8, 16))["left"].shape
        torch.Size([1, 10])
    """
    base = Path(base_dir)
    bb = spec.backbone
    backbone = blocks_for(
        bb.ref,
        input_shape=tuple(spec.input.shape),
        args=dict(bb.args),
        selection=selection_of(bb.blocks),
        allow_import=allow_import,  # the user allows it; the spec cannot (mtlspec.usercode)
        weights=base / spec.init if spec.init else None,
    )
    if len(backbone.blocks) != len(spec.layout):
        raise MtlspecError(
            f"{spec.name}: the layout has {len(spec.layout)} rows but {bb.ref} has "
            f"{len(backbone.blocks)} blocks; write one row per block or `blocks: "
            f"auto({len(spec.layout)})`"
        )
    model = TreeModel(spec, backbone)
    if spec.weights:
        load_state(model, base / spec.weights)
    return model


def load_state(model: nn.Module, path: Path) -> None:
    """Load a whole multi-task state dict (`weights_only=True`: a weights file runs no code)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise MtlspecError(f"weights file {path} does not exist") from None
    except Exception as err:  # unpickling refused or corrupt file
        raise MtlspecError(f"cannot load weights from {path}: {err}") from None
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        raise MtlspecError(f"weights in {path} do not fit the model: {err}") from None
