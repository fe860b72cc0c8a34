"""Compute (MACs) and parameters of a compiled model: per node, per task path, heads, total.

Compute is in MACs: `mtlspec.backbone.flops`'s convention, fvcore's for products (one
multiply-add counts once; papers that count 2 FLOPs per multiply-add report twice these
figures), with norms, activations, pooling, attention and elementwise ops counted too. The
attributes keep the name `flops` (the Python API predates the unit's name); every user-facing
output (tables, JSON keys, budgets) says MACs. The analytic figures add up the counts of the
unique modules that run (tree nodes, DAG stem and edge applications, grouping networks) plus
each head that runs; `fvcore_total` (name kept from when fvcore counted) counts the whole
compiled model in one pass, and the two must agree (tests hold them to it). Ops without a
formula are listed in `uncounted`, not hidden. `cost(model)` picks the report for the model's
kind.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from mtlspec.backbone.flops import count
from mtlspec.compile.dag import DagModel, edge_name
from mtlspec.compile.grouping import GroupingModel, build_backbone
from mtlspec.compile.heads import build_head
from mtlspec.compile.tree import TreeModel
from mtlspec.errors import MtlspecError


@dataclass(frozen=True)
class NodeCost:
    """One unique module (or group of modules) that runs.

    Attributes:
        block: position: 1-based block of a tree, target state of a DAG edge (0: the stem),
            1-based network of a grouping.
        tasks: tasks it serves.
        flops: its flops per forward (all its applications: a DAG edge may run on several
            distinct inputs).
        params: its parameters.
        label: display name ("stem", "edge 2->4", "network A (width 0.5)"); empty for trees.
    """

    block: int
    tasks: tuple[str, ...]
    flops: int
    params: int
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or f"block {self.block}"


@dataclass
class CostReport:
    """What a compiled model costs, and what the same tasks cost as separate networks.

    Attributes:
        nodes: the unique modules that run (tree: block copies; DAG: stem and edges;
            grouping: the networks that serve a task).
        heads: task → (flops, params) of the head that produces its prediction.
        per_task: task → flops along its path (its nodes and its head).
        independent: task → flops of its own single-task network (tree: every block + head;
            DAG: stem + its edges + head; grouping: a full-width network + head).
        uncounted: ops fvcore could not count → calls.
        kind: "model" (tree), "dag" or "grouping".
        unused: modules that exist but do not run → params (a grouping's heads for tasks a
            network trains but does not serve); they are left out of `params`.
        width_units: a grouping's Σ network widths (its `units` budget); None otherwise.
    """

    name: str
    nodes: list[NodeCost]
    heads: dict[str, tuple[int, int]]
    per_task: dict[str, int]
    independent: dict[str, int]
    independent_params: dict[str, int]
    uncounted: dict[str, int] = field(default_factory=dict)
    kind: str = "model"
    unused: dict[str, int] = field(default_factory=dict)
    width_units: float | None = None

    @property
    def flops(self) -> int:
        return sum(n.flops for n in self.nodes) + sum(f for f, _ in self.heads.values())

    @property
    def params(self) -> int:
        """Parameters of the modules that run (all of them for trees and DAGs)."""
        return sum(n.params for n in self.nodes) + sum(p for _, p in self.heads.values())

    @property
    def total_params(self) -> int:
        """Every parameter the model holds, including `unused` modules."""
        return self.params + sum(self.unused.values())

    @property
    def flops_units(self) -> float:
        """FLOPs in single-task networks (TreeMTL's "N models"): total ÷ mean independent."""
        mean = sum(self.independent.values()) / len(self.independent)
        return self.flops / mean

    @property
    def units(self) -> float:
        """The `units` a budget checks: Σ widths for a grouping, else `flops_units`."""
        return self.width_units if self.width_units is not None else self.flops_units

    @property
    def models(self) -> float:
        """TreeMTL's "K models" (`recommend --max-models`): the FLOPs outside the heads ÷ the
        mean FLOPs of one task's own network without its head (heads left out)."""
        backbone = self.flops - sum(f for f, _ in self.heads.values())
        own = [self.independent[t] - self.heads[t][0] for t in self.independent]
        return backbone / (sum(own) / len(own))

    @property
    def flops_vs_independent(self) -> float:
        """Relative change of FLOPs against independent single-task networks (−0.67 = −67%)."""
        return self.flops / sum(self.independent.values()) - 1.0

    @property
    def params_vs_independent(self) -> float:
        return self.params / sum(self.independent_params.values()) - 1.0


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _merge(into: dict[str, int], more: Mapping[str, int], times: int = 1) -> None:
    for op, calls in more.items():
        into[op] = into.get(op, 0) + calls * times


def _zeros_for(module: nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    """Zeros in the module's dtype (a float16 spec compiles to a float16 model); counts do not
    depend on the dtype."""
    first = next(module.parameters(), None)
    return torch.zeros(shape, dtype=torch.float32 if first is None else first.dtype)


def _count_eval(module: nn.Module, shape: tuple[int, ...]) -> tuple[int, dict[str, int]]:
    """Flops of `module` on zeros of `shape`, in eval mode (its mode is restored)."""
    mode = module.training
    module.eval()
    try:
        with torch.no_grad():
            return count(module, _zeros_for(module, shape))
    finally:
        module.train(mode)


def _head_costs(heads: Mapping[str, tuple[nn.Module, tuple[int, ...]]], uncounted: dict[str, int],
                ) -> dict[str, tuple[int, int]]:
    """task → (flops, params) of each (head, feature shape); uncounted ops go into `uncounted`."""
    costs: dict[str, tuple[int, int]] = {}
    for task, (head, shape) in heads.items():
        flops, missing = _count_eval(head, shape)
        costs[task] = (flops, _params(head))
        _merge(uncounted, missing)
    return costs


def tree_cost(model: TreeModel) -> CostReport:
    """The analytic cost report of a compiled tree model (blocks from the detector's counts).

    Example:
        >>> from mtlspec import load_model
        >>> report = tree_cost(load_model("specs/conal_multidigits.mtl"))
        >>> [node.name for node in report.nodes][:3], round(report.units, 2)
        (['block 1', 'block 2', 'block 2'], 1.95)
    """
    block_flops = [info.flops for info in model.backbone_info]
    block_params = [info.params for info in model.backbone_info]
    nodes = [NodeCost(n.block + 1, n.tasks, block_flops[n.block], block_params[n.block])
             for n in model.plan]
    feature = tuple(model.backbone_info[-1].output_shape)
    uncounted = dict(model.backbone_uncounted)
    heads = _head_costs({t: (model.heads[t], feature) for t in model.task_names}, uncounted)
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


def dag_cost(model: DagModel) -> CostReport:
    """The analytic cost report of a compiled DAG model.

    Nodes: the stem, then each edge with a module (its flops × the distinct inputs it runs
    on). A task's own network ("independent") is the stem, its live edges and its head.

    Example:
        >>> from mtlspec import load_model
        >>> report = dag_cost(load_model("specs/nyuv2_dag.mtl"))
        >>> round(report.flops / 1e9, 3), round(report.units, 3)
        (0.108, 2.337)
    """
    plan, tasks, uncounted = model.plan, model.task_names, {}
    stem_flops, missing = _count_eval(model.stem, tuple(model.spec.input.shape))
    _merge(uncounted, missing)
    stem_params = _params(model.stem)
    nodes = [NodeCost(0, tuple(tasks), stem_flops, stem_params, label="stem")]
    runs = {e: 0 for e in plan.edges}
    for edge, _ in plan.applications:
        runs[edge] += 1
    edge_cost: dict[tuple[int, int], tuple[int, int]] = {}
    for e in plan.edges:
        module = model.edges[edge_name(e)]
        flops, missing = _count_eval(module, model.state_shape)
        _merge(uncounted, missing, runs[e])
        edge_cost[e] = (flops, _params(module))
        users = tuple(t for t in tasks if e in plan.task_edges[t])
        label = f"edge {e[0]}->{e[1]}" + (f" (x{runs[e]})" if runs[e] > 1 else "")
        nodes.append(NodeCost(e[1], users, flops * runs[e], edge_cost[e][1], label=label))
    heads = _head_costs({t: (model.heads[t], model.state_shape) for t in tasks}, uncounted)
    # The model's own elementwise ops: the mean of several terms reaching a state (a stack,
    # then a mean over its k·numel inputs), the sum of several read-out states (once per
    # distinct set).
    numel = math.prod(model.state_shape)

    def terms(ns: list) -> int:
        return sum(len(n.inputs) + n.read_in for n in ns if len(n.inputs) + n.read_in > 1)

    merges = numel * (terms(list(plan.nodes))
                      + sum(len(outs) - 1 for outs in set(plan.outputs.values())))
    if merges:
        nodes.append(NodeCost(0, tuple(tasks), merges, 0, label="state means and sums"))
    own_merges = {t: numel * (terms([n for n in plan.nodes if t in n.tasks])
                              + len(plan.outputs[t]) - 1) for t in tasks}
    independent = {t: stem_flops + heads[t][0] + own_merges[t]
                   + sum(edge_cost[e][0] for e in plan.task_edges[t]) for t in tasks}
    independent_params = {
        t: stem_params + heads[t][1] + sum(edge_cost[e][1] for e in plan.task_edges[t])
        for t in tasks
    }
    return CostReport(model.spec.name, nodes, heads, dict(independent), independent,
                      independent_params, uncounted, kind="dag")


def grouping_cost(model: GroupingModel) -> CostReport:
    """The analytic cost report of a compiled grouping model.

    Nodes: each network that serves a task (its whole backbone, run once); heads: the served
    head of each task. Heads of trained-but-not-served tasks do not run: they are listed in
    `unused`, outside `params`. A task's own network ("independent") is its serving network's
    backbone at width 1.0 with its head (built here when the network is narrower). `units` is
    Σ widths (the spec's budget); `flops_units` is the FLOPs-based figure.

    Example:
        >>> from mtlspec import load_model
        >>> from mtlspec.spec import parse
        >>> spec = parse("grouping g { input x: float[1, 3, 8, 16]; "
        ...              "tasks { a: head linear(classes=10); b: head linear(classes=2) }; "
        ...              "network A: convnet(depth=2, width=1.0) trains {a, b} serves {a}; "
        ...              "network B: convnet(depth=2, width=0.5) trains {b} serves {b} }")
        >>> report = grouping_cost(load_model(spec))
        >>> report.units, round(report.flops_units, 2), report.unused
        (1.5, 1.33, {'network A: head b': 66})
    """
    shape = tuple(model.spec.input.shape)
    nodes: list[NodeCost] = []
    heads: dict[str, tuple[int, int]] = {}
    unused: dict[str, int] = {}
    uncounted: dict[str, int] = {}
    backbone_flops: dict[str, int] = {}
    for i, (name, net) in enumerate(model.networks.items(), 1):
        for task in net.heads:
            if task not in net.serves:
                unused[f"network {name}: head {task}"] = _params(net.heads[task])
        if not net.serves:
            unused[f"network {name}: backbone"] = _params(net.backbone)
            continue
        flops, missing = _count_eval(net.backbone, shape)
        _merge(uncounted, missing)
        backbone_flops[name] = flops
        nodes.append(NodeCost(i, net.serves, flops, _params(net.backbone),
                              label=f"network {name} (width {net.spec.width:g})"))
        served = {t: (net.heads[t], net.feature_shape) for t in net.serves}
        heads.update(_head_costs(served, uncounted))
    per_task = {t: backbone_flops[model.server[t]] + heads[t][0] for t in model.task_names}
    independent, independent_params = _full_width(model, backbone_flops, heads)
    return CostReport(model.spec.name, nodes, {t: heads[t] for t in model.task_names},
                      per_task, independent, independent_params, uncounted, kind="grouping",
                      unused=unused, width_units=sum(n.width for n in model.spec.networks))


def _full_width(model: GroupingModel, backbone_flops: dict[str, int],
                heads: dict[str, tuple[int, int]]) -> tuple[dict[str, int], dict[str, int]]:
    """task → (flops, params) of a width-1.0 copy of its serving network with its head."""
    shape = tuple(model.spec.input.shape)
    specs = {t.name: t.head for t in model.spec.tasks}
    full: dict[str, tuple[int, int, tuple[int, ...]]] = {}  # backbone + args → its costs
    flops: dict[str, int] = {}
    params: dict[str, int] = {}
    for task in model.task_names:
        name = model.server[task]
        net = model.networks[name]
        if net.spec.width == 1.0:  # the network itself is the reference
            flops[task] = backbone_flops[name] + heads[task][0]
            params[task] = _params(net.backbone) + heads[task][1]
            continue
        key = f"{net.spec.backbone}{sorted(net.spec.args.items())}"
        if key not in full:
            backbone, feature = build_backbone(
                net.spec.backbone, args=dict(net.spec.args), width=1.0, input_shape=shape,
                allow_import=model.allow_import)
            full[key] = (_count_eval(backbone, shape)[0], _params(backbone), feature)
        backbone_f, backbone_p, feature = full[key]
        head = build_head(specs[task], in_channels=feature[1], size=shape[-2:])
        flops[task] = backbone_f + _count_eval(head, feature)[0]
        params[task] = backbone_p + _params(head)
    return flops, params


def cost(model: nn.Module) -> CostReport:
    """The analytic cost report of any compiled model (tree, DAG or grouping).

    Args:
        model: a model returned by `mtlspec.compile.compile` (or `mtlspec.load_model`).

    Returns:
        Its `CostReport`; `report.flops` equals `fvcore_total(model)[0]`.

    Raises:
        MtlspecError: `model` is not a compiled mtlspec model.

    Example:
        >>> from mtlspec import load_model
        >>> model = load_model("specs/nyuv2_dag.mtl")
        >>> report = cost(model)
        >>> report.flops == fvcore_total(model)[0], round(report.units, 3)
        (True, 2.337)
    """
    kinds = {TreeModel: tree_cost, DagModel: dag_cost, GroupingModel: grouping_cost}
    report = next((fn for kind, fn in kinds.items() if isinstance(model, kind)), None)
    if report is None:
        raise MtlspecError(f"cannot cost a {type(model).__name__}: not a compiled mtlspec "
                           "model")
    return report(model)


class _Outputs(torch.nn.Module):
    """The model with a tuple output in task order (what tracers and exporters want)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(x)
        return tuple(out[t] for t in self.model.task_names)


def fvcore_total(model: nn.Module) -> tuple[int, dict[str, int]]:
    """The count of a whole compiled model (any kind) at the spec's input shape (eval mode).

    Example:
        >>> from mtlspec import load_model
        >>> fvcore_total(load_model("specs/nyuv2_dag.mtl"))
        (107708416, {})
    """
    mode = model.training
    model.eval()
    try:
        with torch.no_grad():
            return count(_Outputs(model), _zeros_for(model, tuple(model.spec.input.shape)))
    finally:
        model.train(mode)
