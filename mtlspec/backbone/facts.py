"""Per-node facts of a traced backbone, as a networkx graph the partitioner and policy read.

Each fx node becomes a vertex with what it is (`kind`: weights, norm, act, shape or other; the
weight `role` merging reads), where it sits (`scopes`, `unit`: the innermost enclosing module
that is not a plain container), what it produces (`shape`, memory `layout`) and what it costs
(`flops`, `uncounted`, counted during the shape pass).
"""

from __future__ import annotations

import operator
from typing import Any

import networkx as nx
from torch import fx, nn

# Normalization layers: a block holding only these (and parameter-free ops) gets merged into a
# neighbour with weights, as in TreeMTL's detector.
NORM_TYPES: tuple[type[nn.Module], ...] = tuple(
    t for t in (
        nn.modules.batchnorm._NormBase,  # BatchNorm*, InstanceNorm*, SyncBatchNorm
        nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm, getattr(nn, "RMSNorm", None),
    ) if t is not None
)
ACT_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid,
    nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.Mish, nn.Softplus, nn.PReLU, nn.Hardtanh,
    nn.GLU, nn.Softsign, nn.Tanhshrink, nn.Threshold,
)
SHAPE_TYPES: tuple[type[nn.Module], ...] = (
    nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
    nn.Flatten, nn.Unflatten,
)
CONTAINERS: tuple[type[nn.Module], ...] = (nn.Sequential, nn.ModuleList, nn.ModuleDict)

NORM_FUNCTIONS = frozenset({"batch_norm", "layer_norm", "group_norm", "instance_norm",
                            "rms_norm", "local_response_norm"})
ACT_FUNCTIONS = frozenset({
    "relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "mish",
    "leaky_relu", "elu", "selu", "celu", "softplus", "hardtanh", "glu", "swish", "hard_swish",
    "hard_sigmoid", "gelu_tanh", "quick_gelu",
})
SHAPE_FUNCTIONS = frozenset({
    "permute", "transpose", "reshape", "view", "flatten", "contiguous", "unsqueeze", "squeeze",
    "dropout", "clone", "to", "type_as", "float", "expand", "expand_as", "unflatten",
})
WEIGHT_FUNCTIONS = frozenset({
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "linear", "matmul", "mm", "bmm", "einsum", "addmm", "baddbmm", "__matmul__", "bilinear",
})


def function_name(node: fx.Node) -> str:
    """The bare name of a call_function / call_method target (`relu_` → `relu`)."""
    if node.op == "call_method":
        name = str(node.target)
    elif node.op == "call_function":
        name = getattr(node.target, "__name__", str(node.target))
    else:
        return ""
    return name[:-1] if name.endswith("_") and not name.endswith("__") else name


def _kind(node: fx.Node, module: nn.Module | None) -> str:
    if module is not None:
        if isinstance(module, NORM_TYPES):
            return "norm"
        if isinstance(module, ACT_TYPES):
            return "act"
        if isinstance(module, SHAPE_TYPES):
            return "shape"
        return "weights" if any(True for _ in module.parameters()) else "other"
    name = function_name(node)
    if name in NORM_FUNCTIONS or name.endswith(("layer_norm", "rms_norm", "group_norm")):
        return "norm"
    if name in ACT_FUNCTIONS:
        return "act"
    if name in SHAPE_FUNCTIONS:
        return "shape"
    if name in WEIGHT_FUNCTIONS:
        return "weights"
    return "other"


def _permute_dims(node: fx.Node) -> tuple[int, ...] | None:
    if function_name(node) != "permute":
        return None
    dims = node.args[1:] or (node.kwargs.get("dims"),)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return tuple(dims) if all(isinstance(d, int) for d in dims) else None


def layouts(gm: fx.GraphModule, shapes: dict[str, Any]) -> dict[str, tuple[str | None, str]]:
    """node → (layout, excursion): nchw / nhwc / tokens / flat, and for channels-last tensors
    the node that moved the channels last (a permute, or a reshape from tokens)."""
    out: dict[str, tuple[str | None, str]] = {}
    for node in gm.graph.nodes:
        shape = shapes.get(node.name)
        rank = len(shape) if shape is not None else 0
        inputs = [out[n.name] for n in node.all_input_nodes if n.name in out]
        parent = next((lay for lay in inputs if lay[0] in ("nchw", "nhwc", "tokens")), None)
        dims = _permute_dims(node)
        layout: tuple[str | None, str] = ({4: "nchw", 3: "tokens", 2: "flat"}.get(rank), "")
        if rank == 4 and parent is not None:
            if dims == (0, 2, 3, 1) and parent[0] == "nchw":
                layout = ("nhwc", node.name)
            elif dims == (0, 3, 1, 2) and parent[0] == "nhwc":
                layout = ("nchw", "")
            elif parent[0] == "nhwc":
                layout = parent
            elif parent[0] == "tokens":
                first = next(n for n in node.all_input_nodes if n.name in out
                             and out[n.name][0] == "tokens")
                source = shapes.get(first.name)
                if source is not None and source[-1] == shape[-1] and shape[1] != shape[-1]:
                    layout = ("nhwc", "")  # a token grid (Swin), not a norm's excursion
        out[node.name] = layout
    return out


def _unit(node: fx.Node, modules: dict[str, nn.Module]) -> str | None:
    """Innermost enclosing module that is not a container (the node's own module excluded)."""
    stack = [qualname for qualname, _ in node.meta.get("nn_module_stack", {}).values()]
    if node.op == "call_module" and stack and stack[-1] == node.target:
        stack = stack[:-1]
    for qualname in reversed(stack):
        module = modules.get(qualname)
        if module is not None and not isinstance(module, CONTAINERS):
            return qualname
    return None


def _param_role(gm: fx.GraphModule, node: fx.Node, kinds: dict[str, str]) -> tuple[int, str]:
    """A parameter read with get_attr: weights when it feeds a weighted op (conv, linear,
    matmul) directly or through views, norm when its module is a norm layer, else free (class
    tokens, position embeddings, layer scales do not make a block worth cutting)."""
    value: Any = gm
    for part in str(node.target).split("."):
        value = getattr(value, part, None)
    if not isinstance(value, nn.Parameter):
        return 0, "free"
    owner = gm.get_submodule(str(node.target).rpartition(".")[0]) if "." in str(node.target) \
        else gm
    if isinstance(owner, NORM_TYPES):
        return value.numel(), "norm"
    frontier, seen = list(node.users), set()
    while frontier:
        user = frontier.pop()
        if user in seen:
            continue
        seen.add(user)
        if kinds[user.name] == "weights":
            return value.numel(), "weights"
        if kinds[user.name] == "norm":
            return value.numel(), "norm"
        if kinds[user.name] == "shape" or function_name(user) in ("expand", "getitem"):
            frontier.extend(user.users)
    return value.numel(), "free"


def to_networkx(gm: fx.GraphModule, shapes: dict[str, Any], flops: dict[str, int],
                uncounted: dict[str, dict[str, int]]) -> nx.DiGraph:
    """The facts graph of a traced module (see the module docstring for the attributes)."""
    modules = dict(gm.named_modules())
    kinds: dict[str, str] = {}
    for node in gm.graph.nodes:
        module = modules.get(node.target) if node.op == "call_module" else None
        kinds[node.name] = _kind(node, module) if node.op != "get_attr" else "other"
    layouts_ = layouts(gm, shapes)
    graph = nx.DiGraph()
    for order, node in enumerate(gm.graph.nodes):
        module = modules.get(node.target) if node.op == "call_module" else None
        if module is not None:
            params = sum(p.numel() for p in module.parameters())
            role = "free" if params == 0 else {"norm": "norm", "weights": "weights"}.get(
                kinds[node.name], "free")
        elif node.op == "get_attr":
            params, role = _param_role(gm, node, kinds)
        else:
            params, role = 0, "free"
        shape = shapes.get(node.name)
        scopes = [qualname for qualname, _ in node.meta.get("nn_module_stack", {}).values()]
        graph.add_node(
            node.name, op=node.op, target=_target_name(node),
            module=type(module).__name__ if module is not None else None,
            scopes=tuple(scopes), unit=_unit(node, modules), kind=kinds[node.name],
            params=params, role=role, tensor=shape is not None, shape=shape,
            layout=layouts_[node.name][0], excursion=layouts_[node.name][1],
            flops=flops.get(node.name, 0), uncounted=uncounted.get(node.name, {}), order=order,
        )
        graph.add_edges_from((src.name, node.name) for src in node.all_input_nodes)
    return graph


def _target_name(node: fx.Node) -> str:
    if node.op in ("call_module", "get_attr", "call_method"):
        return str(node.target)
    if node.target is operator.getitem:
        return "getitem"
    return getattr(node.target, "__name__", str(node.target))
