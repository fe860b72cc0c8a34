"""Grouping specs → several networks, each a backbone at its width with heads for its tasks.

Each network (Standley et al.'s task grouping) is a whole backbone feature extractor (the
registry's model, traced and cut before its classifier) with one head per task it *trains*.
At inference a task's prediction comes from the one network that *serves* it. Heads of tasks a
network trains but does not serve exist (training needs them, and their weights load from a
trained state dict) but `forward` does not run them; a network that serves no task is not run.

Width scales a backbone's channel counts (width 1.0 is the backbone as registered):

- `convnet`: `width = round(base × w)` (base: the spec's `width=` or 32);
- `torchvision.mobilenet_v2`, `torchvision.mobilenet_v3_*`: `width_mult × w`;
- `torchvision.mnasnet*`: `alpha × w` (MNASNet's own multiplier);
- torchvision ResNets (`resnet*`, `resnext*`, `wide_resnet*`): torchvision has no width
  argument (`width_per_group` only widens a bottleneck's inner conv), so `ScaledResNet` builds
  torchvision's `ResNet` class with the stem's and every stage's planes scaled by w (rounded);
  bottleneck inner widths follow, since torchvision derives them from the planes.

Parameters then scale by about w², FLOPs too. Other backbones take only width 1.0.

State-dict keys (stable, so trained weights map back to the spec):

    networks.{NAME}.backbone.<backbone's own keys>   e.g. networks.A.backbone.layer1.0.conv1.weight
    networks.{NAME}.heads.{task}.<head's own keys>
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torchvision.models import MNASNet, ResNet

from mtlspec.backbone import registry
from mtlspec.backbone.convnet import ConvNet
from mtlspec.backbone.trace import trace
from mtlspec.compile.heads import build_head
from mtlspec.errors import MtlspecError
from mtlspec.spec import ir

_WIDTH_MULT = ("torchvision.mobilenet_v2", "torchvision.mobilenet_v3_large",
               "torchvision.mobilenet_v3_small")
SCALABLE = ("convnet", *_WIDTH_MULT, "torchvision.mnasnet*", "torchvision.resnet*",
            "torchvision.resnext*", "torchvision.wide_resnet*")


def scaled(channels: int, width: float) -> int:
    """`channels × width`, rounded, at least 1."""
    return max(1, round(channels * width))


class ScaledResNet(ResNet):
    """torchvision's ResNet with the stem's and every stage's channel counts scaled by `width`.

    `ResNet.__init__` hard-codes 64 stem channels and planes 64/128/256/512; overriding
    `_make_layer` scales each stage's planes, and the stem (built before the stages, at 64
    channels) and the classifier are rebuilt at the scaled width afterwards.

    Args:
        block, layers: as for `ResNet` (BasicBlock or Bottleneck, blocks per stage).
        width: the channel multiplier (> 0).
        **kwargs: other `ResNet` arguments (groups, width_per_group, num_classes, ...).

    Example:
        >>> from torchvision.models.resnet import BasicBlock
        >>> ScaledResNet(BasicBlock, [2, 2, 2, 2], width=0.5).layer4[0].conv1.out_channels
        256
    """

    def __init__(self, block: Any, layers: list[int], *, width: float, **kwargs: Any) -> None:
        self.width = width  # read by _make_layer during ResNet.__init__
        super().__init__(block, layers, **kwargs)
        stem = scaled(64, width)
        self.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.bn1 = self._norm_layer(stem)
        self.fc = nn.Linear(scaled(512, width) * block.expansion, self.fc.out_features)

    def _make_layer(self, block: Any, planes: int, blocks: int, stride: int = 1,
                    dilate: bool = False) -> nn.Sequential:
        if planes == 64:  # the first stage reads the stem, whose width is scaled too
            self.inplanes = scaled(64, self.width)
        return super()._make_layer(block, scaled(planes, self.width), blocks, stride, dilate)


def _width_args(ref: str, args: dict[str, Any], width: float) -> dict[str, Any] | None:
    """Builder arguments that give `width`, for backbones with a width argument; else None."""
    if width == 1.0:
        return args
    if ref == "convnet":
        base = args.get("width", inspect.signature(ConvNet).parameters["width"].default)
        return {**args, "width": scaled(base, width)}
    if ref in _WIDTH_MULT:
        return {**args, "width_mult": args.get("width_mult", 1.0) * width}
    return None


def _rescale(ref: str, model: nn.Module, args: dict[str, Any], width: float) -> nn.Module:
    """The same architecture as `model` with channels scaled by `width` (ResNets, MNASNet)."""
    if ref.startswith("torchvision.") and isinstance(model, ResNet):
        layers = [len(getattr(model, f"layer{i}")) for i in range(1, 5)]
        kwargs = {**args, "groups": model.groups, "width_per_group": model.base_width}
        return ScaledResNet(type(model.layer1[0]), layers, width=width, **kwargs)
    if ref.startswith("torchvision.") and isinstance(model, MNASNet):
        return MNASNet(model.alpha * width, **args)
    raise MtlspecError(
        f"{ref} cannot be width-scaled (width={width}); backbones with a width mechanism: "
        f"{', '.join(SCALABLE)}; use width=1.0 or one of those")


def build_backbone(ref: str, *, args: dict[str, Any], width: float,
                   input_shape: tuple[int, ...], allow_import: bool = False,
                   ) -> tuple[nn.Module, tuple[int, ...]]:
    """A backbone's whole feature extractor at a width (fx GraphModule, classifier cut off).

    Args:
        ref: registered name (`torchvision.resnet18`, `convnet`) or `"pkg.module:callable"`.
        args: builder arguments from the spec.
        width: channel multiplier (1.0: the backbone as registered).
        input_shape: (N, C, H, W) the model will see.
        allow_import: allow user code.

    Returns:
        (the feature extractor in eval mode, its output shape for `input_shape`).

    Raises:
        MtlspecError: unknown backbone, bad arguments, input too small, or a width other than
            1.0 for a backbone without a width mechanism.

    Example:
        >>> build_backbone("convnet", args={}, width=0.5, input_shape=(1, 3, 8, 8))[1]
        (1, 16, 1, 1)
    """
    if not width > 0:
        raise MtlspecError(f"{ref}: width must be positive, got {width}")
    direct = _width_args(ref, dict(args), width)
    built = registry.build(ref, args=direct if direct is not None else args,
                           input_shape=input_shape, allow_import=allow_import)
    model = built.model if direct is not None else _rescale(ref, built.model, built.args, width)
    traced = trace(model, input_shape, head=built.head, end=built.end, name=ref)
    return traced.module, tuple(traced.output_shape)


class GroupNetwork(nn.Module):
    """One network of a grouping: a backbone and a head per task it trains.

    `forward(x)` returns {task: prediction} for every task it trains (served or not): that is
    what training needs. MGDA-UB's shared representation is the backbone's output.

    Attributes:
        spec: the network's IR; `serves`: its served tasks in declaration order.
        feature_shape: the backbone's output shape for the spec's input.
    """

    def __init__(self, net: ir.Network, backbone: nn.Module, heads: dict[str, nn.Module],
                 serves: tuple[str, ...], feature_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.spec = net
        self.backbone = backbone
        self.heads = nn.ModuleDict(heads)
        self.serves = serves
        self.feature_shape = feature_shape

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feature = self.backbone(x)
        return {task: head(feature) for task, head in self.heads.items()}

    def shared_split(self) -> tuple[nn.Module, Callable[[torch.Tensor], dict[str, torch.Tensor]]]:
        """(trunk, rest) for MGDA-UB: the backbone, then the heads."""
        return self.backbone, lambda z: {task: head(z) for task, head in self.heads.items()}


class GroupingModel(nn.Module):
    """A compiled grouping spec: `forward(x)` returns {task: prediction} in declaration order.

    Each task comes from the network that serves it; a network's backbone runs once for all
    the tasks it serves. Heads of trained-but-not-served tasks are not run. Training follows
    Standley et al.: each network learns its own `trains` set on its own (`training_parts`).

    Attributes:
        spec, task_names: the IR and the output order.
        networks: network name → `GroupNetwork`.
        server: task → name of the network that serves it.
        allow_import: whether user code was allowed (cost reports build reference networks).
    """

    def __init__(self, spec: ir.GroupingSpec, networks: dict[str, GroupNetwork],
                 allow_import: bool) -> None:
        super().__init__()
        self.spec = spec
        self.task_names = [t.name for t in spec.tasks]
        self.networks = nn.ModuleDict(networks)
        self.server: dict[str, str] = {}
        for name, net in networks.items():
            for task in net.serves:
                if task in self.server:
                    raise MtlspecError(f"{spec.name}: task `{task}` is served by networks "
                                       f"`{self.server[task]}` and `{name}`")
                self.server[task] = name
        self.allow_import = allow_import
        missing = [t for t in self.task_names if t not in self.server]
        if missing:
            raise MtlspecError(f"{spec.name}: no network serves task `{missing[0]}`")

    def training_parts(self) -> dict[str, GroupNetwork]:
        """The networks, each trained separately on the tasks it trains."""
        return dict(self.networks.items())

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for net in self.networks.values():
            if net.serves:
                feature = net.backbone(x)
                for task in net.serves:
                    out[task] = net.heads[task](feature)
        return {t: out[t] for t in self.task_names}


def build_network(net: ir.Network, spec: ir.GroupingSpec, *, allow_import: bool) -> GroupNetwork:
    """One network of a grouping spec: backbone at its width, heads for the tasks it trains."""
    shape = tuple(spec.input.shape)
    backbone, feature_shape = build_backbone(net.backbone, args=dict(net.args), width=net.width,
                              input_shape=shape, allow_import=allow_import)
    known = {t.name: t for t in spec.tasks}
    unknown = sorted(net.trains - known.keys())
    if unknown:
        raise MtlspecError(f"{spec.name}: network `{net.name}` trains unknown task `{unknown[0]}`")
    heads = {t.name: build_head(t.head, in_channels=feature_shape[1], size=shape[-2:],
                                pooled=len(feature_shape) == 2)
             for t in spec.tasks if t.name in net.trains}
    serves = tuple(t.name for t in spec.tasks if t.name in net.serves & net.trains)
    return GroupNetwork(net, backbone, heads, serves, feature_shape)


def compile_grouping(spec: ir.GroupingSpec, *, allow_import: bool = False) -> GroupingModel:
    """Build the multi-task model of a validated grouping spec.

    Args:
        spec: the spec (validate it first).
        allow_import: allow `"pkg.module:callable"` backbones (importing runs user code).

    Returns:
        The model, in training mode like any fresh nn.Module.

    Raises:
        MtlspecError: a backbone cannot be built or width-scaled, or a task is not served.

    Example:
        >>> from mtlspec.spec import load
        >>> spec = load("specs/taskonomy_grouping_2_5.mtl").spec
        >>> model = compile_grouping(spec)
        >>> list(model.networks), model.server["normal"]
        (['A', 'B', 'C'], 'C')
    """
    if len(spec.input.shape) != 4:
        raise MtlspecError(f"{spec.name}: the input must be (N, C, H, W), got {spec.input.shape}")
    networks = {net.name: build_network(net, spec, allow_import=allow_import)
                for net in spec.networks}
    return GroupingModel(spec, networks, allow_import).train()
