"""DAG specs → a multi-task PyTorch model over a shared central network of hidden states.

The stem maps the input to a feature map of C channels; hidden states 1..N all have that shape.
Edge i→j is one module with ONE set of weights, shared by every task whose topology uses it.
For task k (read-in states R, edges E, read-out states O):

    v_j = mean of the terms reaching j:  the stem output if j ∈ R, and e_ij(v_i) for each
          edge i→j of E            (a read-in state with no incoming edge is the stem output)
    feature_k = Σ_{j ∈ O} v_j,     prediction_k = head_k(feature_k)

Only a task's *live* sub-graph counts: the states on a path from a read-in to a read-out and
the edges between them. Other edges could not change its prediction (their source is never
computed, or their target is never read), so they are dropped; an edge no task uses live has
no module and costs nothing.

Common sub-expressions are computed once across tasks: a value is keyed by its state and the
keys of its terms, `(j, j ∈ R, sorted((i, key(v_i)) for edges i→j))`. By induction two keys
are equal exactly when the upstream sub-graphs (read-ins and edges reaching j) are identical,
so equal keys mean equal tensors. Each edge application e_ij(v) is likewise run once per
distinct source value. `plan_dag` makes these decisions as plain data; `DagModel` applies them.

State-dict keys (stable, so trained weights map back to the spec):

    stem.<op's own keys>            e.g. stem.0.weight (conv), stem.1.* (BatchNorm)
    edges.e{i}_{j}.<op's own keys>  e.g. edges.e2_4.0.weight; only edges some task uses
    heads.{task}.<head's own keys>
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from mtlspec.backbone.resnet import BasicBlock
from mtlspec.compile.heads import build_head
from mtlspec.errors import MtlspecError
from mtlspec.registry import registers_into
from mtlspec.spec import catalog, graph, ir

Edge = tuple[int, int]
OpBuilder = Callable[..., nn.Module]
_STEM_OPS: dict[str, OpBuilder] = {}
_EDGE_OPS: dict[str, OpBuilder] = {}


_register_stem = registers_into(_STEM_OPS, "stem op")
_register_edge = registers_into(_EDGE_OPS, "edge op")


def list_edge_ops() -> list[str]:
    return sorted(_EDGE_OPS)


def list_stem_ops() -> list[str]:
    return sorted(_STEM_OPS)


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> list:
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


@_register_stem("conv")
def stem_conv(*, in_channels: int, out: int, stride: int = 1, kernel: int = 3) -> nn.Module:
    """Conv (K×K, stride S, padding K//2, no bias) → BatchNorm → ReLU."""
    return nn.Sequential(*_conv_bn_relu(in_channels, out, kernel, stride))


@_register_edge("conv3x3")
def edge_conv3x3(*, channels: int) -> nn.Module:
    return nn.Sequential(*_conv_bn_relu(channels, channels, 3))


@_register_edge("conv1x1")
def edge_conv1x1(*, channels: int) -> nn.Module:
    return nn.Sequential(*_conv_bn_relu(channels, channels, 1))


@_register_edge("sepconv3x3")
def edge_sepconv3x3(*, channels: int) -> nn.Module:
    """Depthwise 3x3 conv → pointwise 1x1 conv → BatchNorm → ReLU."""
    depthwise = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels, bias=False)
    return nn.Sequential(depthwise, *_conv_bn_relu(channels, channels, 1))


@_register_edge("residual")
def edge_residual(*, channels: int) -> nn.Module:
    """ResNet's BasicBlock: conv3x3-BN-ReLU-conv3x3-BN, + input, ReLU."""
    return BasicBlock(channels, channels)


def _build_op(table: dict[str, OpBuilder], kind: str, call: ir.Call, **fixed: int) -> nn.Module:
    builder = table.get(call.name)
    known = catalog.STEM_OPS if table is _STEM_OPS else catalog.EDGE_OPS
    if builder is None or call.name not in known:
        raise MtlspecError(f"unknown {kind} op `{call.name}`; "
                           f"{kind} ops: {', '.join(sorted(table))}")
    try:
        return builder(**fixed, **call.args)
    except (TypeError, ValueError) as err:  # an IR that skipped validation (bad arguments)
        raise MtlspecError(
            f"cannot build {kind} op `{call.name}` with {call.args}: {err}") from None


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class StateNode:
    """One distinct value of a hidden state, computed once.

    Attributes:
        index: position in the plan (inputs refer to earlier nodes by it).
        state: the hidden state (1..N).
        read_in: the stem output is one of its terms.
        inputs: (edge, index of the source node) per incoming edge, sorted by edge.
        tasks: tasks whose live sub-graph contains this value, in declaration order.
    """

    index: int
    state: int
    read_in: bool
    inputs: tuple[tuple[Edge, int], ...]
    tasks: tuple[str, ...]


@dataclass(frozen=True)
class DagPlan:
    """What a DAG model computes: distinct values in order, and which ones each task reads.

    Attributes:
        nodes: distinct state values in a topological order (by state, then first use).
        outputs: task → indices of its read-out nodes (its feature is their sum).
        edges: every edge some task uses live, sorted: exactly the edges that get a module.
        task_edges: task → its live edges.
    """

    nodes: tuple[StateNode, ...]
    outputs: dict[str, tuple[int, ...]]
    edges: tuple[Edge, ...]
    task_edges: dict[str, frozenset[Edge]]

    @property
    def applications(self) -> tuple[tuple[Edge, int], ...]:
        """Distinct edge applications (edge, source node): each runs once per forward."""
        return tuple(dict.fromkeys(i for node in self.nodes for i in node.inputs))


def live_edges(topo: ir.Topology) -> frozenset[Edge]:
    """The edges of a topology on some path from a read-in state to a read-out state."""
    return graph.live_edges(topo.read_in, topo.read_out, topo.edges)


def plan_dag(spec: ir.DagSpec) -> DagPlan:
    """Decide which state values to compute, sharing every common sub-expression across tasks.

    Args:
        spec: a validated DAG spec.

    Returns:
        The `DagPlan`.

    Raises:
        MtlspecError: a task has no topology, or a read-out state cannot be reached.

    Example:
        >>> from mtlspec.spec import load
        >>> plan = plan_dag(load("specs/nyuv2_dag.mtl").spec)
        >>> len(plan.nodes), plan.edges[:2]
        (11, ((1, 2), (1, 3)))
    """
    topologies = {topo.task: topo for topo in spec.topologies}
    keys: dict[tuple, int] = {}  # canonical key → provisional node id (creation order)
    made: list[tuple[int, bool, tuple[tuple[Edge, int], ...]]] = []
    users: dict[int, list[str]] = {}
    outputs: dict[str, tuple[int, ...]] = {}
    task_edges: dict[str, frozenset[Edge]] = {}
    for task in (t.name for t in spec.tasks):
        topo = topologies.get(task)
        if topo is None:
            raise MtlspecError(f"{spec.name}: task `{task}` has no topology")
        edges = live_edges(topo)
        states = {s for e in edges for s in e} | set(topo.read_in & topo.read_out)
        mine: dict[int, int] = {}
        for j in sorted(states):
            inputs = tuple(sorted(((i, j), mine[i]) for i, jj in edges if jj == j))
            key = (j, j in topo.read_in, inputs)
            if key not in keys:
                keys[key] = len(made)
                made.append(key)
            mine[j] = keys[key]
            users.setdefault(mine[j], []).append(task)
        missing = sorted(topo.read_out - mine.keys())
        if missing:
            raise MtlspecError(f"{spec.name}: read-out state {missing[0]} of task `{task}` "
                               "cannot be reached from its read-in states")
        outputs[task] = tuple(mine[s] for s in sorted(topo.read_out))
        task_edges[task] = edges
    # Creation order is already topological per task; sorting by state makes it global.
    order = sorted(range(len(made)), key=lambda n: (made[n][0], n))
    new = {old: pos for pos, old in enumerate(order)}
    nodes = tuple(
        StateNode(new[n], made[n][0], made[n][1],
                  tuple((edge, new[src]) for edge, src in made[n][2]), tuple(users[n]))
        for n in order
    )
    used = sorted(set().union(*task_edges.values()))
    return DagPlan(nodes, {t: tuple(new[n] for n in o) for t, o in outputs.items()},
                   tuple(used), task_edges)


def edge_name(edge: Edge) -> str:
    """The module key of edge i→j: `e{i}_{j}` (fx/state-dict names cannot hold `->`)."""
    return f"e{edge[0]}_{edge[1]}"


# --------------------------------------------------------------------------- the model


class DagModel(nn.Module):
    """A compiled DAG spec: `forward(x)` returns {task: prediction} in declaration order.

    Attributes:
        spec, task_names: the IR and the output order.
        plan: the `DagPlan` it executes.
        state_shape: shape of every hidden state (the stem's output) for the spec's input.
    """

    def __init__(self, spec: ir.DagSpec, plan: DagPlan) -> None:
        super().__init__()
        self.spec = spec
        self.task_names = [t.name for t in spec.tasks]
        self.plan = plan
        shape = tuple(spec.input.shape)
        if len(shape) != 4:
            raise MtlspecError(f"{spec.name}: a DAG's input must be (N, C, H, W), got {shape}")
        stem = spec.central.stem
        self.stem = _build_op(_STEM_OPS, "stem", stem, in_channels=shape[1])
        channels = int(stem.args["out"])
        self.edges = nn.ModuleDict({
            edge_name(e): _build_op(_EDGE_OPS, "edge", spec.central.edge, channels=channels)
            for e in plan.edges
        })
        self.heads = nn.ModuleDict({
            t.name: build_head(t.head, in_channels=channels, size=shape[-2:]) for t in spec.tasks
        })
        # The stem's output shape, from one image through a copy in eval mode: the real stem's
        # BatchNorm statistics stay untouched. (Not on the meta device: BatchNorm there runs
        # torch's decompositions, which import torch._dynamo and sympy, seconds of start-up.)
        probe = copy.deepcopy(self.stem).eval()
        with torch.no_grad():
            out = probe(torch.zeros((1, *shape[1:])))
        self.state_shape = (shape[0], *out.shape[1:])

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each task's feature (sum of its read-out states), every distinct value once."""
        stem = self.stem(x)
        values: list[torch.Tensor] = []
        terms: dict[tuple[Edge, int], torch.Tensor] = {}
        for node in self.plan.nodes:
            parts = [stem] if node.read_in else []
            for edge, src in node.inputs:
                if (edge, src) not in terms:
                    terms[(edge, src)] = self.edges[edge_name(edge)](values[src])
                parts.append(terms[(edge, src)])
            values.append(parts[0] if len(parts) == 1 else torch.stack(parts).mean(0))
        sums: dict[tuple[int, ...], torch.Tensor] = {}
        for outs in self.plan.outputs.values():
            if outs not in sums:
                total = values[outs[0]]
                for n in outs[1:]:
                    total = total + values[n]
                sums[outs] = total
        return {t: sums[outs] for t, outs in self.plan.outputs.items()}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.features(x)
        return {t: self.heads[t](feats[t]) for t in self.task_names}


def compile_dag(spec: ir.DagSpec) -> DagModel:
    """Build the multi-task model of a validated DAG spec.

    Args:
        spec: the spec (validate it first).

    Returns:
        The model, in training mode like any fresh nn.Module.

    Raises:
        MtlspecError: an op or head the catalogue knows but no builder implements, a task
            without topology, an unreachable read-out state, or an input that is not 4-D.

    Example:
        >>> from mtlspec.spec import load
        >>> model = compile_dag(load("specs/nyuv2_dag.mtl").spec)
        >>> model(torch.zeros(1, 3, 128, 128))["depth"].shape
        torch.Size([1, 1, 128, 128])
    """
    return DagModel(spec, plan_dag(spec))
