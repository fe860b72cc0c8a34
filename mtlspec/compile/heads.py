"""Task heads: a registry of builders, one per head name in `mtlspec.spec.catalog.HEADS`.

A head reads the last feature map of its task's path (N, C, h, w). Dense heads (`conv`,
`aspp`) return a map upsampled to the input's spatial size; `linear` and `mlp` pool first and
return (N, K). Builders take keyword-only arguments, exactly those the catalogue declares.
Backbones that end in tokens or channels-last maps are adapted to N×C×h×w by the detector
(`mtlspec.backbone.layout`); one that ends pooled (N×C) feeds pooled heads only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from mtlspec.errors import MtlspecError
from mtlspec.registry import registers_into
from mtlspec.spec import catalog, ir

HeadBuilder = Callable[..., nn.Module]
_HEADS: dict[str, HeadBuilder] = {}


register_head = registers_into(_HEADS, "head")


def list_heads() -> list[str]:
    return sorted(_HEADS)


class Upsample(nn.Module):
    """Resize a dense prediction to the input's spatial size (bilinear)."""

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = tuple(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) == self.size:
            return x
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)


def _pool(x: torch.Tensor) -> torch.Tensor:
    return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1) if x.dim() == 4 else x


class Pooled(nn.Module):
    """Global average pool, then `body` (linear layers)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(_pool(x))


def _outputs(classes: int | None, out: int | None) -> int:
    return classes if classes is not None else out  # validation guarantees exactly one


@register_head("linear")
def linear(*, in_channels: int, size: tuple[int, int], classes: int | None = None,
           out: int | None = None, dropout: float = 0.0) -> nn.Module:
    layers: list[nn.Module] = [nn.Dropout(dropout)] if dropout else []
    return Pooled(nn.Sequential(*layers, nn.Linear(in_channels, _outputs(classes, out))))


@register_head("mlp")
def mlp(*, in_channels: int, size: tuple[int, int], classes: int | None = None,
        out: int | None = None, hidden: int | Sequence[int] = (256,),
        dropout: float = 0.0) -> nn.Module:
    widths = [hidden] if isinstance(hidden, int) else list(hidden)
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(in_channels, width), nn.ReLU(inplace=True)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        in_channels = width
    return Pooled(nn.Sequential(*layers, nn.Linear(in_channels, _outputs(classes, out))))


@register_head("conv")
def conv(*, in_channels: int, size: tuple[int, int], classes: int | None = None,
         out: int | None = None, hidden: int | None = None) -> nn.Module:
    layers: list[nn.Module] = []
    if hidden:
        layers += [nn.Conv2d(in_channels, hidden, 3, padding=1, bias=False),
                   nn.BatchNorm2d(hidden), nn.ReLU(inplace=True)]
        in_channels = hidden
    layers += [nn.Conv2d(in_channels, _outputs(classes, out), 1), Upsample(size)]
    return nn.Sequential(*layers)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (DeepLabv3): a 1x1 conv, one dilated 3x3 conv per rate
    and image-level pooling, each conv-BN-ReLU to `channels`, concatenated and projected back
    to `channels` (1x1 conv-BN-ReLU, dropout 0.5).

    Same submodules (`convs`, `project`), parameters and operations as torchvision's ASPP, so
    state dicts and costs are the same; written here because importing it would import all
    of torchvision (`torch._dynamo` and sympy too), seconds for every compile.

    Example:
        >>> ASPP(8, [2], 4)(torch.zeros(2, 8, 5, 5)).shape
        torch.Size([2, 4, 5, 5])
    """

    def __init__(self, in_channels: int, rates: Sequence[int], channels: int = 256) -> None:
        super().__init__()

        def conv_bn_relu(conv: nn.Conv2d) -> list[nn.Module]:
            return [conv, nn.BatchNorm2d(channels), nn.ReLU()]

        branches = [nn.Sequential(*conv_bn_relu(nn.Conv2d(in_channels, channels, 1, bias=False)))]
        branches += [nn.Sequential(*conv_bn_relu(nn.Conv2d(
            in_channels, channels, 3, padding=rate, dilation=rate, bias=False)))
            for rate in rates]
        branches.append(_ImagePooling(
            nn.AdaptiveAvgPool2d(1),
            *conv_bn_relu(nn.Conv2d(in_channels, channels, 1, bias=False))))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            *conv_bn_relu(nn.Conv2d(len(branches) * channels, channels, 1, bias=False)),
            nn.Dropout(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.convs], dim=1))


class _ImagePooling(nn.Sequential):
    """ASPP's image-level branch: pool to 1x1, conv-BN-ReLU, upsample back (bilinear)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        for layer in self:
            x = layer(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


@register_head("aspp")
def aspp(*, in_channels: int, size: tuple[int, int], classes: int | None = None,
         out: int | None = None, rates: int | Sequence[int] = (6, 12, 18),
         channels: int = 256) -> nn.Module:
    """DeepLabv3's head: ASPP, a 3x3 conv-BN-ReLU, a 1x1 classifier, upsampled."""
    rates = [rates] if isinstance(rates, int) else list(rates)
    return nn.Sequential(
        ASPP(in_channels, rates, channels),
        nn.Conv2d(channels, channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, _outputs(classes, out), 1),
        Upsample(size),
    )


DENSE_HEADS = frozenset({"conv", "aspp"})


def set_output_size(model: nn.Module, size: tuple[int, int]) -> int:
    """Make every dense head of `model` upsample to `size` (H, W) instead of the spec's input
    size, e.g. to train on images of another size. Heads hold no size-dependent weights, so
    the trained state dict still loads into the model compiled from the spec.

    Returns:
        How many heads changed.

    Example:
        >>> head = build_head(ir.Call(name="conv", args={"out": 1}), in_channels=4, size=(8, 8))
        >>> set_output_size(head, (16, 12)), head(torch.zeros(1, 4, 2, 2)).shape
        (1, torch.Size([1, 1, 16, 12]))
    """
    changed = 0
    for module in model.modules():
        if isinstance(module, Upsample) and module.size != tuple(size):
            module.size = tuple(size)
            changed += 1
    return changed


def build_head(head: ir.Call, *, in_channels: int, size: tuple[int, int],
               pooled: bool = False) -> nn.Module:
    """Build the head a spec names, for a feature map of `in_channels` channels.

    Args:
        head: the spec's head call (validated against the catalogue).
        in_channels: channels of the feature map the head reads.
        size: the input's spatial size (H, W); dense heads upsample to it.
        pooled: the features are N×C vectors (a backbone that pools itself), not a map.

    Raises:
        MtlspecError: a head name the catalogue knows but no builder implements, or a dense
            head on pooled features.

    Example:
        >>> head = build_head(ir.Call(name="linear", args={"classes": 10}), in_channels=64,
        ...                   size=(8, 8))
        >>> head(torch.zeros(2, 64, 8, 8)).shape
        torch.Size([2, 10])
    """
    builder = _HEADS.get(head.name)
    if builder is None or head.name not in catalog.HEADS:
        raise MtlspecError(f"unknown head `{head.name}`; heads: {', '.join(list_heads())}")
    if pooled and head.name in DENSE_HEADS:
        raise MtlspecError(
            f"head `{head.name}` needs a spatial feature map, but the backbone's output is "
            f"pooled (N×{in_channels}); use a pooled head (linear, mlp) or a backbone that "
            "ends in a feature map")
    from mtlspec.backbone.memory import check_build

    check_build(lambda: builder(in_channels=in_channels, size=size, **head.args),
                f"head {head.name}")
    return builder(in_channels=in_channels, size=size, **head.args)
