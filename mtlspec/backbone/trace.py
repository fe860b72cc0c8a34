"""Trace a backbone with torch.fx into a features module and a networkx graph of facts.

The networkx graph is what the partitioner reads: one vertex per fx node (named like the node)
with its module, parameter count, role (weights / norm / free) and output shape, found by fx
shape propagation: on real CPU tensors, or on the `meta` device (no arithmetic) for big models
at big inputs, where that is faster, falling back to real tensors if an op has no meta kernel.
"""

from __future__ import annotations

import contextlib
import inspect
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import torch
from torch import fx, nn

from mtlspec.backbone.errors import BackboneError

# Normalization layers: a block holding only these (and parameter-free ops) gets merged into a
# neighbour with weights, as in TreeMTL's detector.
NORM_TYPES: tuple[type[nn.Module], ...] = tuple(
    t for t in (
        nn.modules.batchnorm._NormBase,  # BatchNorm*, InstanceNorm*, SyncBatchNorm
        nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm, getattr(nn, "RMSNorm", None),
    ) if t is not None
)


def _leaf_types() -> tuple[type[nn.Module], ...]:
    """torchvision modules kept whole because their forward reads `self.training` in Python.

    fx bakes such a branch into the graph at trace time; kept as leaves they stay live, so the
    blocks behave like the original in both train and eval mode (stochastic depth, DropBlock,
    Swin attention dropout).
    """
    from torchvision.models import swin_transformer
    from torchvision.ops import DropBlock2d, DropBlock3d, StochasticDepth

    return (StochasticDepth, DropBlock2d, DropBlock3d, swin_transformer.ShiftedWindowAttention,
            swin_transformer.ShiftedWindowAttentionV2)


@dataclass
class Traced:
    """A traced backbone.

    Attributes:
        name: backbone name (for messages).
        module: fx GraphModule from the input image to the last spatial feature map, in eval
            mode; it shares parameters with the model it was traced from.
        graph: one vertex per fx node (see `trace` for the attributes), edges follow data.
        source: the input (placeholder) vertex.
        sink: the output vertex; its only predecessor is the feature map.
        input_shape: the (N, C, H, W) shapes were propagated with.
    """

    name: str
    module: fx.GraphModule
    graph: nx.DiGraph
    source: str
    sink: str
    input_shape: tuple[int, ...]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.graph.nodes[next(iter(self.graph.pred[self.sink]))]["shape"]


class _Tracer(fx.Tracer):
    """fx tracer with extra leaf modules that remembers the innermost module a failure hit."""

    def __init__(self, leaf_types: tuple[type[nn.Module], ...]) -> None:
        super().__init__()
        self.leaf_types = leaf_types
        self.failed_in: tuple[str, str] | None = None

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, self.leaf_types) or super().is_leaf_module(m, module_qualified_name)

    def call_module(self, m: nn.Module, forward: Any, args: Any, kwargs: Any) -> Any:
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.failed_in is None:
                self.failed_in = (self.path_of_module(m) or "<root>", type(m).__name__)
            raise


def trace(
    model: nn.Module, input_shape: tuple[int, ...], *, head: str | None = None,
    name: str = "backbone",
) -> Traced:
    """Symbolically trace `model`, cut off its classifier and record per-node facts.

    Vertex attributes of the returned graph: `op`, `target` (module name for call_module),
    `module` (class name or None), `scopes` (enclosing module names, outermost first),
    `params` (parameters the node owns), `role` ("weights", "norm" or "free"), `tensor` (the
    output is one tensor), `shape` (its shape, or None) and `order` (topological index).

    Args:
        model: the backbone; it is put in eval mode (Python branches on `self.training` are
            traced as in eval mode, see `_leaf_types` for the ones kept live).
        input_shape: (N, C, H, W) of the input; shapes are propagated with it.
        head: first node of the classifier (module or node name); its input is the feature
            map. None: the model's output is the feature map.
        name: backbone name used in error messages.

    Returns:
        The `Traced` backbone.

    Raises:
        BackboneError: fx cannot trace the model (naming the module and source line), the
            model takes several inputs, its output is not one tensor, does not depend on the
            input, or an op fails on `input_shape` (naming the node).

    Example:
        >>> from mtlspec.backbone.convnet import ConvNet
        >>> t = trace(ConvNet(depth=2, width=4), (1, 3, 8, 8))
        >>> t.output_shape, t.graph.nodes["stages_0_conv"]["params"]
        ((1, 4, 4, 4), 108)
    """
    model.eval()
    tracer = _Tracer(_leaf_types())
    try:
        graph = tracer.trace(model, concrete_args=_defaults_beyond_first(model, name))
    except Exception as err:
        raise _trace_error(name, err, tracer.failed_in) from err
    gm = fx.GraphModule(tracer.root, graph, type(model).__name__)
    source, sink = _truncate(gm, head, name)
    gm.eval()
    facts = _propagate(gm, input_shape, name)
    if facts[sink] is None:
        raise BackboneError(f"{name}: the backbone's output is not a single tensor",
                            hint="a custom backbone must return the feature map tensor")
    return Traced(name, gm, _to_networkx(gm, facts), source, sink, tuple(input_shape))


def _defaults_beyond_first(model: nn.Module, name: str) -> dict[str, Any]:
    """Arguments after the image keep their defaults; a second required input is an error."""
    params = list(inspect.signature(model.forward).parameters.values())
    positional = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if not positional:
        raise BackboneError(f"{name}: forward() takes no input tensor")
    extra = {}
    for p in positional[1:]:
        if p.default is p.empty:
            raise BackboneError(f"{name}: forward() needs more than one input ({p.name!r}); "
                                "a backbone takes exactly one image tensor")
        extra[p.name] = p.default
    return extra


def _trace_error(name: str, err: Exception, failed_in: tuple[str, str] | None) -> BackboneError:
    where = f" in module '{failed_in[0]}' ({failed_in[1]})" if failed_in else ""
    torch_dir = str(Path(torch.__file__).parent)
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if not f.filename.startswith(torch_dir)]
    if frames:
        where += f" at {frames[-1].filename}:{frames[-1].lineno}"
    return BackboneError(
        f"cannot trace {name} with torch.fx{where}: {type(err).__name__}: {err}",
        hint="fx cannot follow Python control flow that depends on tensor values; rewrite it "
        "without tensor values, wrap the function with torch.fx.wrap, or hide the module "
        "behind a leaf module (see 'Limitations of Symbolic Tracing' in the torch.fx docs)",
    )


def _truncate(gm: fx.GraphModule, head: str | None, name: str) -> tuple[str, str]:
    """Make the graph return the head's input; drop what only the classifier used."""
    graph = gm.graph
    output = next(n for n in graph.nodes if n.op == "output")
    if head is not None:
        start = next((n for n in graph.nodes if n.name == head or (
            n.op == "call_module" and (n.target == head or n.target.startswith(head + "."))
        )), None)
        if start is None or not start.all_input_nodes:
            raise BackboneError(f"{name}: classifier start {head!r} not found in the traced graph")
        output.args = (start.all_input_nodes[0],)
    elif not isinstance(output.args[0], fx.Node):
        raise BackboneError(f"{name}: the backbone's output is not a single tensor",
                            hint="a custom backbone must return the feature map tensor")
    graph.eliminate_dead_code()
    inputs = [n for n in graph.nodes if n.op == "placeholder"]
    if not inputs[0].users:
        raise BackboneError(f"{name}: the backbone's output does not depend on its input")
    for extra in inputs[1:]:
        if not extra.users:
            graph.erase_node(extra)
    graph.lint()
    # The module must not keep the classifier's weights: they would count as backbone
    # parameters and be required in weights files.
    gm.delete_all_unused_submodules()
    used = {str(n.target) for n in graph.nodes if n.op == "get_attr"}
    for attr, _ in list(gm.named_parameters(recurse=False)):
        if attr not in used:
            delattr(gm, attr)
    gm.recompile()
    return inputs[0].name, output.name


class _Recorder(fx.Interpreter):
    """Runs the graph once, keeping each node's output shape (None when not one tensor)."""

    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm)
        self.facts: dict[str, tuple[int, ...] | None] = {}
        self.failed: fx.Node | None = None

    def run_node(self, n: fx.Node) -> Any:
        try:
            out = super().run_node(n)
        except Exception:
            self.failed = self.failed or n
            raise
        self.facts[n.name] = tuple(out.shape) if isinstance(out, torch.Tensor) else None
        return out


class _Probe(nn.Module):
    """Owns the graph module so `functional_call` can swap its tensors for meta ones."""

    def __init__(self, gm: fx.GraphModule, recorder: _Recorder) -> None:
        super().__init__()
        self.gm = gm
        self.recorder = recorder

    def forward(self, x: torch.Tensor) -> None:
        self.recorder.run(x)


# Meta tensors cost about a millisecond of Python per node and no arithmetic; real tensors
# cost arithmetic, roughly params x pixels / 250 multiply-adds at ~1e10 per second. Above this
# ratio of params x pixels per node (ResNet-152 at 224x224) the meta device is faster.
_META_ABOVE = 3e9


def _propagate(gm: fx.GraphModule, shape: tuple[int, ...], name: str) -> dict[str, Any]:
    tensors = dict(gm.named_parameters(remove_duplicate=False))
    work = sum(p.numel() for p in tensors.values()) * shape[-1] * shape[-2]
    if work > _META_ABOVE * len(gm.graph.nodes):
        tensors.update(gm.named_buffers(remove_duplicate=False))
        meta = {f"gm.{k}": torch.empty_like(v, device="meta") for k, v in tensors.items()}
        recorder = _Recorder(gm)
        try:
            with torch.no_grad():
                torch.func.functional_call(_Probe(gm, recorder), meta,
                                           (torch.zeros(shape, device="meta"),))
            return recorder.facts
        except Exception:
            pass  # an op without a meta kernel, or a genuine failure: the real run tells which
    recorder = _Recorder(gm)
    try:
        with torch.no_grad(), _one_thread():
            recorder.run(torch.zeros(shape))
    except Exception as err:
        node = recorder.failed
        at = f" at node '{node.name}' ({_target_name(node)})" if node is not None else ""
        shown = "x".join(map(str, shape[1:]))
        raise BackboneError(
            f"{name} fails on a {shown} input{at}: {type(err).__name__}: {err}",
            hint="the input may be too small or have the wrong number of channels",
        ) from err
    return recorder.facts


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """One batch-1 pass of mostly small ops gains little from intra-op threads, and loses a
    lot when another process holds a core (thread barriers then stall: 10x slower on DenseNet).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _target_name(node: fx.Node) -> str:
    if node.op in ("call_module", "get_attr", "call_method"):
        return str(node.target)
    return getattr(node.target, "__name__", str(node.target))


def _to_networkx(gm: fx.GraphModule, facts: dict[str, Any]) -> nx.DiGraph:
    graph = nx.DiGraph()
    modules = dict(gm.named_modules())
    for order, node in enumerate(gm.graph.nodes):
        module = modules.get(node.target) if node.op == "call_module" else None
        params, role = _params_and_role(gm, node, module)
        shape = facts.get(node.name)
        scopes = [qualname for qualname, _ in node.meta.get("nn_module_stack", {}).values()]
        graph.add_node(
            node.name, op=node.op, target=_target_name(node),
            module=type(module).__name__ if module is not None else None,
            scopes=tuple(scopes), params=params, role=role, tensor=shape is not None,
            shape=shape, order=order,
        )
        graph.add_edges_from((src.name, node.name) for src in node.all_input_nodes)
    return graph


def _params_and_role(gm: fx.GraphModule, node: fx.Node,
                     module: nn.Module | None) -> tuple[int, str]:
    if module is not None:
        params = sum(p.numel() for p in module.parameters())
        if params == 0:
            return 0, "free"
        return params, "norm" if isinstance(module, NORM_TYPES) else "weights"
    if node.op == "get_attr":
        value = gm
        for part in str(node.target).split("."):
            value = getattr(value, part)
        if isinstance(value, nn.Parameter):
            return value.numel(), "weights"
    return 0, "free"
