"""The layout of a backbone's output, and the view that turns it into what heads read.

Heads read an N×C×H×W feature map (dense heads) or an N×C vector (pooled heads). Backbones
end in one of four layouts; `output_layout` finds which (declared by the model, else detected)
and `adapt` appends parameter-free fx nodes so the traced features end in N×C×H×W (or N×C):

- `nchw`: channels first, nothing to do;
- `nhwc`: channels last (timm's Swin): permuted to channels first;
- `tokens`: N×L×C (ViT, DeiT, Mixer, LeViT): prefix tokens (class, distillation) dropped and
  the rest reshaped to the patch grid, h×w with h·w = L - prefix and the input's aspect;
- `pooled`: N×C (a model that pools itself, or a single class token): pooled heads only.

A model declares its layout with attributes: `mtlspec_layout` ("nchw", "nhwc", "tokens",
"pooled"), `num_prefix_tokens` (timm's name) or `mtlspec_prefix_tokens`; timm models also
declare channels-last output with `output_fmt = "NHWC"`. Undeclared, a 4-D output is channels
last when a permute moved its channels last (see `facts`), and a token sequence's prefix is
the smallest count (0 to 8) that leaves a grid of the input's aspect.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

from torch import fx, nn

from mtlspec.backbone.errors import BackboneError

LAYOUTS = ("nchw", "nhwc", "tokens", "pooled")
_MAX_PREFIX = 8


@dataclass(frozen=True)
class FeatureLayout:
    """How the backbone's raw output is laid out, and what heads get.

    Attributes:
        kind: one of `LAYOUTS`.
        channels: feature channels C.
        grid: (h, w) of the map heads get; None for pooled outputs.
        prefix_tokens: leading tokens dropped before the reshape (tokens only).
        declared: the model declared the layout (else it was detected).
        rank: rank of the raw output (3 for a pooled class token read out of N×1×C).
    """

    kind: str
    channels: int
    grid: tuple[int, int] | None
    prefix_tokens: int = 0
    declared: bool = False
    rank: int = 4

    def describe(self) -> str:
        """One line for reports, e.g. `tokens (1 prefix token dropped) → 768x14x14`."""
        how = "declared" if self.declared else "detected"
        if self.kind == "pooled":
            return f"pooled N×{self.channels} ({how}): pooled heads only (linear, mlp)"
        target = f"{self.channels}x{self.grid[0]}x{self.grid[1]}"
        if self.kind == "nchw":
            return f"nchw {target} ({how})"
        if self.kind == "nhwc":
            return f"nhwc ({how}), permuted to {target}"
        extra = f", {self.prefix_tokens} prefix token(s) dropped" if self.prefix_tokens else ""
        return f"tokens ({how}{extra}), reshaped to {target}"


def _declared(model: nn.Module) -> tuple[str | None, int | None]:
    kind = getattr(model, "mtlspec_layout", None)
    if kind is None and str(getattr(model, "output_fmt", "")).upper() == "NHWC":
        kind = "nhwc"
    prefix = getattr(model, "mtlspec_prefix_tokens", getattr(model, "num_prefix_tokens", None))
    if kind is not None and kind not in LAYOUTS:
        raise BackboneError(f"the model declares mtlspec_layout={kind!r}",
                            hint=f"use one of: {', '.join(LAYOUTS)}")
    return kind, prefix if isinstance(prefix, int) else None


def _token_grid(tokens: int, hw: tuple[int, int], prefix: int | None
                ) -> tuple[int, tuple[int, int]] | None:
    """(prefix, (h, w)) with h·w = tokens - prefix, h/w = H/W and h, w dividing H, W."""
    height, width = hw
    for p in ([prefix] if prefix is not None else range(_MAX_PREFIX + 1)):
        n = tokens - p
        if n <= 0:
            continue
        stride = math.isqrt(height * width // n) if height * width % n == 0 else 0
        if stride and stride * stride * n == height * width and not height % stride \
                and not width % stride:
            return p, (height // stride, width // stride)
    return None


def output_layout(model: nn.Module, shape: tuple[int, ...], detected: str | None,
                  input_hw: tuple[int, int], name: str) -> FeatureLayout:
    """The layout of an output of `shape`; `detected` is the facts graph's layout of it.

    Raises:
        BackboneError: a rank or token count that fits no layout, or a declaration that does
            not fit the output (the message says which and why).

    Example:
        >>> output_layout(nn.Identity(), (1, 197, 192), "tokens", (224, 224), "vit")
        FeatureLayout(kind='tokens', channels=192, grid=(14, 14), prefix_tokens=1, ...)
    """
    kind, prefix = _declared(model)
    declared = kind is not None
    rank = len(shape)
    if kind is None:
        kind = {4: "nhwc" if detected == "nhwc" else "nchw", 3: "tokens", 2: "pooled"}.get(rank)
    if kind is None or rank != {"nchw": 4, "nhwc": 4, "tokens": 3, "pooled": 2}[kind]:
        shown = "x".join(map(str, shape))
        raise BackboneError(
            f"{name}: the backbone's output ({shown}) is not a feature map heads can read",
            hint="a backbone must end in N×C×H×W, N×H×W×C, N×tokens×C or N×C (declare which "
            "with a `mtlspec_layout` attribute on the model)")
    if kind == "nchw":
        return FeatureLayout("nchw", shape[1], (shape[2], shape[3]), 0, declared)
    if kind == "nhwc":
        return FeatureLayout("nhwc", shape[3], (shape[1], shape[2]), 0, declared)
    if kind == "pooled":
        return FeatureLayout("pooled", shape[1], None, 0, declared, rank=2)
    if shape[1] == 1 or (prefix is not None and shape[1] == prefix):
        # Only class tokens (PiT's features): the first one is a read-out vector, not a grid.
        return FeatureLayout("pooled", shape[2], None, 0, declared, rank=3)
    found = _token_grid(shape[1], input_hw, prefix)
    if found is None:
        raise BackboneError(
            f"{name}: the backbone ends in {shape[1]} tokens of {shape[2]} channels, which fit "
            f"no patch grid of a {input_hw[0]}x{input_hw[1]} input"
            + (f" after {prefix} prefix tokens" if prefix is not None else ""),
            hint="declare the prefix with a `num_prefix_tokens` attribute on the model, or end "
            "the backbone in a feature map")
    return FeatureLayout("tokens", shape[2], found[1], found[0], declared, rank=3)


def adapt(gm: fx.GraphModule, layout: FeatureLayout) -> list[fx.Node]:
    """Append the parameter-free nodes that turn the output into what heads read (in place).

    Returns:
        The appended nodes, in order (none for nchw and N×C outputs).

    Example:
        >>> import torch
        >>> gm = fx.symbolic_trace(nn.Flatten(2))
        >>> [n.target for n in adapt(gm, FeatureLayout("tokens", 4, (2, 2), 0, rank=3))]
        ['transpose', 'reshape']
        >>> gm(torch.zeros(1, 4, 2, 2)).shape
        torch.Size([1, 4, 2, 2])
    """
    if layout.kind == "nchw" or (layout.kind == "pooled" and layout.rank == 2):
        return []
    graph = gm.graph
    output = next(n for n in graph.nodes if n.op == "output")
    x = feature = output.args[0]
    with graph.inserting_before(output):
        if layout.kind == "nhwc":
            x = graph.call_method("permute", (x, 0, 3, 1, 2))
        elif layout.kind == "pooled":  # N×1×C (a class token): its vector
            x = graph.call_function(operator.getitem, (x, (slice(None), 0)))
        else:
            if layout.prefix_tokens:
                x = graph.call_function(operator.getitem,
                                        (x, (slice(None), slice(layout.prefix_tokens, None))))
            x = graph.call_method("transpose", (x, 1, 2))
            x = graph.call_method("reshape", (x, -1, layout.channels, *layout.grid))
    output.args = (x,)
    graph.lint()
    gm.recompile()
    appended, node = [], x
    while node is not feature:
        appended.append(node)
        node = node.args[0]
    return appended[::-1]

