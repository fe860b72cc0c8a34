"""Trace a backbone with torch.fx into a features module and a networkx graph of facts.

The networkx graph is what the partitioner reads: one vertex per fx node (named like the node)
with its module, parameter count, kind, role, output shape and layout, and its FLOPs (see
`facts`). Shapes and FLOPs come from one fx pass: on real CPU tensors, or on the `meta` device
(no arithmetic) for big models at big inputs, where that is faster, falling back to real
tensors if an op has no meta kernel. That pass, like tracing, runs on one thread.

Modules fx cannot trace through (Python control flow on tensor values) become leaves: the
tracer retries with the failing module's class as a leaf, and timm's registered leaf modules
and functions are leaves from the start. The traced output is then adapted to what heads read
(`layout`: channels-last maps permuted, token sequences reshaped to their patch grid).
"""

from __future__ import annotations

import inspect
import sys
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import torch
from torch import fx, nn

from mtlspec.backbone.errors import BackboneError
from mtlspec.backbone.facts import NORM_TYPES, layouts, to_networkx
from mtlspec.backbone.flops import OpCounter, counting, one_thread
from mtlspec.backbone.layout import FeatureLayout, adapt, output_layout

__all__ = ["NORM_TYPES", "Traced", "trace"]

# Leaves added by retrying: a module class that fails tracing is kept whole, up to this many.
_MAX_LEAF_RETRIES = 12


def _leaf_types() -> tuple[type[nn.Module], ...]:
    """torchvision modules kept whole because their forward reads `self.training` in Python.

    fx bakes such a branch into the graph at trace time; kept as leaves they stay live, so the
    blocks behave like the original in both train and eval mode (stochastic depth, DropBlock,
    Swin attention dropout). Only when torchvision is already imported (a model of it is
    being traced): importing it imports `torch._dynamo` and sympy, seconds for a plain convnet.
    """
    if "torchvision" not in sys.modules:
        return _timm_leaves()[0]
    from torchvision.models import swin_transformer
    from torchvision.ops import DropBlock2d, DropBlock3d, StochasticDepth

    return (StochasticDepth, DropBlock2d, DropBlock3d, swin_transformer.ShiftedWindowAttention,
            swin_transformer.ShiftedWindowAttentionV2, *_timm_leaves()[0])


def _timm_leaves() -> tuple[tuple[type[nn.Module], ...], tuple[Any, ...]]:
    """timm's registered no-trace modules and functions, when timm is already imported."""
    fx_registry = sys.modules.get("timm.layers._fx")
    if fx_registry is None:
        return (), ()
    modules = tuple(m for m in fx_registry.get_notrace_modules() if isinstance(m, type))
    functions = tuple(f for f in fx_registry.get_notrace_functions() if callable(f))
    return modules, functions


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
        layout: the raw output's layout and what heads get (`module` already ends in it).
        leaves: module classes kept whole because fx could not trace through them.
    """

    name: str
    module: fx.GraphModule
    graph: nx.DiGraph
    source: str
    sink: str
    input_shape: tuple[int, ...]
    layout: FeatureLayout | None = None
    leaves: tuple[str, ...] = ()

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.graph.nodes[next(iter(self.graph.pred[self.sink]))]["shape"]


class _Tracer(fx.Tracer):
    """fx tracer with extra leaf modules that remembers the innermost module a failure hit."""

    def __init__(self, leaf_types: tuple[type[nn.Module], ...],
                 autowrap: tuple[Any, ...] = ()) -> None:
        super().__init__(autowrap_functions=autowrap)
        self.leaf_types = leaf_types
        self.failed_in: tuple[str, str] | None = None
        self.added_leaves: tuple[type[nn.Module], ...] = ()

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
    end: str | None = None, name: str = "backbone",
) -> Traced:
    """Symbolically trace `model`, cut off its classifier and record per-node facts.

    Vertex attributes of the returned graph (see `facts`): `op`, `target` (module name for
    call_module), `module` (class name or None), `scopes` (enclosing module names, outermost
    first), `unit` (innermost enclosing non-container module), `kind` ("weights", "norm",
    "act", "shape", "other"), `params` (parameters the node owns), `role` ("weights", "norm"
    or "free"), `tensor` (the output is one tensor), `shape` (its shape, or None), `layout`
    ("nchw", "nhwc", "tokens", "flat"), `excursion`, `flops`, `uncounted` and `order`.

    Args:
        model: the backbone; it is put in eval mode (Python branches on `self.training` are
            traced as in eval mode, see `_leaf_types` for the ones kept live).
        input_shape: (N, C, H, W) of the input; shapes are propagated with it.
        head: first node of the classifier (module or node name); its input is the feature
            map. None: the model's output is the feature map (unless `end` is given).
        end: a module whose output is the feature map (torchvision ViT's `encoder`).
        name: backbone name used in error messages.

    Returns:
        The `Traced` backbone; its module ends in N×C×H×W or N×C (see `layout`).

    Raises:
        BackboneError: fx cannot trace the model even with leaves (naming the module and
            source line), the model takes several inputs, its output is not one tensor, does
            not depend on the input, fits no layout, or an op fails on `input_shape` (naming
            the node).

    Example:
        >>> from mtlspec.backbone.convnet import ConvNet
        >>> t = trace(ConvNet(depth=2, width=4), (1, 3, 8, 8))
        >>> t.output_shape, t.graph.nodes["stages_0_conv"]["params"]
        ((1, 4, 4, 4), 108)
    """
    model.eval()
    with one_thread():
        graph, tracer = _trace_with_leaves(model, name)
    gm = fx.GraphModule(tracer.root, graph, type(model).__name__)
    source, sink = _truncate(gm, head, end, name)
    gm.eval()
    shapes, flops, uncounted = _propagate(gm, input_shape, name)
    feature = next(n for n in gm.graph.nodes if n.op == "output").args[0]
    if shapes.get(feature.name) is None:
        raise BackboneError(f"{name}: the backbone's output is not a single tensor",
                            hint="a custom backbone must return the feature map tensor")
    detected = layouts(gm, shapes)[feature.name][0]
    layout = output_layout(model, shapes[feature.name], detected, tuple(input_shape[-2:]), name)
    shapes.update(_shapes_of(adapt(gm, layout), shapes))
    leaves = tuple(sorted(t.__name__ for t in tracer.added_leaves))
    return Traced(name, gm, to_networkx(gm, shapes, flops, uncounted), source, sink,
                  tuple(input_shape), layout, leaves)


def _trace_with_leaves(model: nn.Module, name: str) -> tuple[fx.Graph, _Tracer]:
    """Trace; on failure inside a module, retry with that module's class as a leaf."""
    timm_functions = _timm_leaves()[1]
    leaves = _leaf_types()
    added: list[type[nn.Module]] = []
    concrete = _defaults_beyond_first(model, name)
    while True:
        tracer = _Tracer((*leaves, *added), timm_functions)
        try:
            graph = tracer.trace(model, concrete_args=concrete)
            tracer.added_leaves = tuple(added)
            return graph, tracer
        except Exception as err:
            failed = tracer.failed_in
            culprit = None if failed is None or failed[0] == "<root>" else type(
                model.get_submodule(failed[0]))
            if culprit is None or culprit in added or len(added) >= _MAX_LEAF_RETRIES:
                raise _trace_error(name, err, failed) from err
            added.append(culprit)


def _shapes_of(nodes: list[fx.Node], shapes: dict[str, Any]) -> dict[str, Any]:
    """Shapes of appended parameter-free nodes, computed on meta tensors."""
    env: dict[fx.Node, Any] = {}

    def value(n: fx.Node) -> Any:
        return env[n] if n in env else torch.empty(shapes[n.name], device="meta")

    out = {}
    for node in nodes:
        args = fx.node.map_arg(node.args, value)
        if node.op == "call_method":
            result = getattr(args[0], str(node.target))(*args[1:])
        else:
            result = node.target(*args)
        env[node] = result
        out[node.name] = tuple(result.shape)
    return out


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


def _truncate(gm: fx.GraphModule, head: str | None, end: str | None,
              name: str) -> tuple[str, str]:
    """Make the graph return the head's input (or `end`'s output); drop what only the
    classifier used."""
    graph = gm.graph
    output = next(n for n in graph.nodes if n.op == "output")
    if end is not None:
        inside = [n for n in graph.nodes
                  if end in [q for q, _ in n.meta.get("nn_module_stack", {}).values()]]
        if not inside:
            raise BackboneError(f"{name}: feature module {end!r} not found in the traced graph")
        output.args = (inside[-1],)
    elif head is not None:
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
    """Runs the graph once under a flop counter, keeping each node's output shape (None when
    not one tensor), flops and uncounted ops."""

    def __init__(self, gm: fx.GraphModule, counter: OpCounter) -> None:
        super().__init__(gm)
        self.counter = counter
        self.shapes: dict[str, tuple[int, ...] | None] = {}
        self.flops: dict[str, int] = {}
        self.uncounted: dict[str, dict[str, int]] = {}
        self.failed: fx.Node | None = None

    def run_node(self, n: fx.Node) -> Any:
        flops, missing = self.counter.flops, self.counter.uncounted.total()
        before = Counter(self.counter.uncounted) if missing else Counter()
        try:
            out = super().run_node(n)
        except Exception:
            self.failed = self.failed or n
            raise
        self.shapes[n.name] = tuple(out.shape) if isinstance(out, torch.Tensor) else None
        self.flops[n.name] = self.counter.flops - flops
        if self.counter.uncounted.total() != missing:
            self.uncounted[n.name] = dict(self.counter.uncounted - before)
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

Facts = tuple[dict[str, Any], dict[str, int], dict[str, dict[str, int]]]


def _propagate(gm: fx.GraphModule, shape: tuple[int, ...], name: str) -> Facts:
    """Shapes, flops and uncounted ops of every node, from one pass (meta or real tensors)."""
    tensors = dict(gm.named_parameters(remove_duplicate=False))
    work = sum(p.numel() for p in tensors.values()) * shape[-1] * shape[-2]
    on_meta = any(t.is_meta for t in tensors.values())
    if on_meta or work > _META_ABOVE * len(gm.graph.nodes):
        tensors.update(gm.named_buffers(remove_duplicate=False))
        meta = {f"gm.{k}": torch.empty_like(v, device="meta") for k, v in tensors.items()}
        try:
            with counting() as counter:
                recorder = _Recorder(gm, counter)
                torch.func.functional_call(_Probe(gm, recorder), meta,
                                           (torch.zeros(shape, device="meta"),))
            return recorder.shapes, recorder.flops, recorder.uncounted
        except Exception as err:
            if on_meta:  # a model built on the meta device cannot run for real
                raise BackboneError(f"{name}: shapes cannot be found on the meta device: "
                                    f"{type(err).__name__}: {err}") from err
            # an op without a meta kernel, or a genuine failure: the real run tells which
    try:
        with counting() as counter:
            recorder = _Recorder(gm, counter)
            recorder.run(torch.zeros(shape))
    except Exception as err:
        node = recorder.failed
        at = f" at node '{node.name}' ({_target_name(node)})" if node is not None else ""
        shown = "x".join(map(str, shape[1:]))
        raise BackboneError(
            f"{name} fails on a {shown} input{at}: {type(err).__name__}: {err}",
            hint="the input may be too small or have the wrong number of channels",
        ) from err
    return recorder.shapes, recorder.flops, recorder.uncounted


def _target_name(node: fx.Node) -> str:
    if node.op in ("call_module", "get_attr", "call_method"):
        return str(node.target)
    return getattr(node.target, "__name__", str(node.target))
