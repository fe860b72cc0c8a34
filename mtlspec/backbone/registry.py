"""Backbones by name, built with random weights and ending at their last spatial feature map.

Three kinds of names (the torch-free list a spec may use is `mtlspec.spec.catalog`):

- `torchvision.NAME`: a torchvision classification model, built with `weights=None` (never
  downloaded). The classifier is dropped later, by `trace`, at the node named by the entry's
  `head` (its input is the feature map), because dense tasks need the spatial map and heads are
  the compiler's business.
- `convnet`: the built-in `ConvNet`; `resnet`: the built-in `SmallResNet`.
- `timm.NAME`: a timm model (optional extra `mtlspec[timm]`), random weights, its
  `forward_features` (see `timm_source`).
- `"pkg.module:callable"`: user code returning a module whose output is the feature map; it is
  imported only when explicitly allowed, since importing runs arbitrary code.

The registry follows torchvision's `_api.py`: a decorator, duplicates rejected, `list_backbones()`,
keyword-only builders.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from mtlspec import usercode
from mtlspec.backbone.convnet import ConvNet
from mtlspec.backbone.errors import BackboneError
from mtlspec.backbone.resnet import SmallResNet
from mtlspec.backbone.timm_source import build_timm, is_timm
from mtlspec.errors import MtlspecError
from mtlspec.registry import registers_into
from mtlspec.spec import catalog


@dataclass(frozen=True)
class BackboneDef:
    """One registry entry.

    Attributes:
        name: the name a spec uses (`torchvision.resnet34`, `convnet`).
        builder: keyword-only callable returning the model with random weights.
        head: where the classifier starts: a module name or fx node name whose first input is
            the last spatial feature map; None when the model's output already is that map.
        min_size: smallest input height and width the model accepts.
        size_multiple: height and width must be multiples of this (MaxViT's fixed windows).
        sized: the builder takes `input_size=(H, W)`; `build` passes the input's.
        end: a module whose output is the feature map (instead of a `head` to cut off).
        size_arg: the builder's input-size argument when `sized`: "input_size" takes (H, W),
            "image_size" (torchvision ViT) takes one int and needs a square input.
    """

    name: str
    builder: Callable[..., nn.Module]
    head: str | None = None
    min_size: int = 1
    size_multiple: int = 1
    sized: bool = False
    end: str | None = None
    size_arg: str = "input_size"


@dataclass
class Backbone:
    """A built backbone: the whole model plus where its features end (see `BackboneDef.head`)."""

    name: str
    model: nn.Module
    head: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    end: str | None = None


_REGISTRY: dict[str, BackboneDef] = {}
_register = registers_into(_REGISTRY, "backbone", BackboneDef)


def register_backbone(
    name: str, *, head: str | None = None, min_size: int = 1, size_multiple: int = 1,
    sized: bool = False, end: str | None = None, size_arg: str = "input_size",
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a keyword-only builder under `name` (duplicates are rejected).

    Args:
        name: registry name; must also be listed in `mtlspec.spec.catalog`.
        head, min_size, size_multiple, sized, end, size_arg: see `BackboneDef`.

    Returns:
        The decorator; it returns the builder unchanged.

    Raises:
        ValueError: `name` is already registered (a programming error, not a user error).

    Example:
        >>> @register_backbone("convnet")  # the name is taken: a new backbone needs its own
        ... def mynet(*, width: int = 8) -> nn.Module: ...
        Traceback (most recent call last):
        ...
        ValueError: backbone 'convnet' is already registered
    """

    return _register(name, head=head, min_size=min_size, size_multiple=size_multiple,
                     sized=sized, end=end, size_arg=size_arg)


def list_backbones() -> list[str]:
    """Every registered backbone name, sorted.

    Example:
        >>> "torchvision.resnet34" in list_backbones()
        True
    """
    return sorted(_REGISTRY)


# --- torchvision ------------------------------------------------------------------------------

# Family prefix → (head, min_size, extra builder defaults). The head is the classifier's first
# node: its input is the last spatial feature map. Minimum sizes were found by running each
# model on shrinking inputs (tests/backbone check them).
_GOOGLE = {"aux_logits": False, "init_weights": True}  # no aux heads; silences a FutureWarning
_FAMILIES: dict[str, tuple[str, int, dict[str, Any]]] = {
    "alexnet": ("avgpool", 63, {}),
    "convnext": ("avgpool", 32, {}),
    "densenet": ("adaptive_avg_pool2d", 29, {}),
    "efficientnet": ("avgpool", 1, {}),
    "googlenet": ("avgpool", 15, _GOOGLE),
    "inception": ("avgpool", 75, _GOOGLE),
    "maxvit": ("classifier.0", 224, {}),
    "mnasnet": ("mean", 1, {}),
    "mobilenet_v2": ("adaptive_avg_pool2d", 1, {}),
    "mobilenet_v3": ("avgpool", 1, {}),
    "regnet": ("avgpool", 1, {}),
    "resnet": ("avgpool", 1, {}),
    "resnext": ("avgpool", 1, {}),
    "wide_resnet": ("avgpool", 1, {}),
    "shufflenet": ("mean", 1, {}),
    "squeezenet1_0": ("classifier.0", 21, {}),
    "squeezenet1_1": ("classifier.0", 17, {}),
    "swin": ("avgpool", 4, {}),
    "vgg": ("avgpool", 32, {}),
    "vit": ("", 14, {}),  # ends at `encoder` (tokens); see _register_torchvision
}

# Catalogue names deliberately left out of the registry, with the reason shown to users.
EXCLUDED: dict[str, str] = catalog.UNSUPPORTED_BACKBONES


def _torchvision_builder(model: str, defaults: dict[str, Any]) -> Callable[..., nn.Module]:
    def builder(**kwargs: Any) -> nn.Module:
        from torchvision import models

        for key in ("weights", "pretrained"):
            if key in kwargs:
                raise BackboneError(
                    f"torchvision.{model}: `{key}` is not a backbone argument; mtlspec never "
                    "downloads weights",
                    hint="pass a weights file instead (--weights FILE), loaded with "
                    "torch.load(weights_only=True)",
                )
        from mtlspec.backbone.keywords import check_keywords

        check_keywords(f"torchvision.{model}", models.get_model_builder(model), kwargs)
        built = models.get_model(model, weights=None, **{**defaults, **kwargs})
        if model.startswith("vit_"):
            built.mtlspec_prefix_tokens = 1  # the class token, before the patch tokens
        return built

    builder.__name__ = model
    return builder


def _register_torchvision() -> None:
    for model in sorted(catalog.TORCHVISION_BACKBONES):
        name = f"torchvision.{model}"
        if name in EXCLUDED:
            continue
        family = max((f for f in _FAMILIES if model.startswith(f)), key=len)
        head, min_size, defaults = _FAMILIES[family]
        # MaxViT's attention windows are fixed at construction: 7x7 partitions of H/32 x W/32.
        multiple, sized = (224, True) if family == "maxvit" else (1, False)
        if family == "vit":  # a square image_size fixed at construction, a multiple of the patch
            patch = int(model.rsplit("_", 1)[1])
            register_backbone(name, min_size=patch, size_multiple=patch, sized=True,
                              end="encoder", size_arg="image_size",
                              )(_torchvision_builder(model, defaults))
            continue
        register_backbone(name, head=head, min_size=min_size, size_multiple=multiple,
                          sized=sized)(_torchvision_builder(model, defaults))


_register_torchvision()


@register_backbone("convnet", min_size=1)
def convnet(*, depth: int = 4, width: int = 32, in_channels: int = 3) -> nn.Module:
    """The built-in `ConvNet` (see `mtlspec.backbone.convnet`)."""
    return ConvNet(depth=depth, width=width, in_channels=in_channels)


@register_backbone("resnet", min_size=1)
def resnet(*, stages: int = 4, blocks: int = 1, width: int = 16, in_channels: int = 3
           ) -> nn.Module:
    """The built-in `SmallResNet` (see `mtlspec.backbone.resnet`)."""
    return SmallResNet(stages=stages, blocks=blocks, width=width, in_channels=in_channels)


# --- building ---------------------------------------------------------------------------------


def build(
    name: str,
    *,
    args: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
    allow_import: bool = False,
) -> Backbone:
    """Build a backbone by name with random weights.

    Args:
        name: a registered name (`torchvision.resnet34`, `convnet`) or, with `allow_import`,
            `"pkg.module:callable"` returning an `nn.Module` whose output is the feature map.
        args: keyword arguments for the builder (e.g. `{"width_mult": 0.5}`).
        input_shape: the input the backbone will see, (N, C, H, W); checked against the
            backbone's minimum size and passed to builders that need it (MaxViT).
        allow_import: allow `"pkg.module:callable"` (importing it runs user code).

    Returns:
        The `Backbone` (model in training mode, as built).

    Raises:
        BackboneError: unknown or excluded name, custom code not allowed or not importable,
            bad builder arguments, input too small.

    Example:
        >>> build("convnet", args={"depth": 2}).model.stages[1].conv.stride
        (2, 2)
    """
    args = dict(args or {})
    if catalog.is_custom_ref(name):
        return Backbone(name, _import_custom(name, args, allow_import), None, args)
    if is_timm(name):
        return Backbone(name, build_timm(name, args, input_shape), None, args)
    entry = _lookup(name)
    if input_shape is not None:
        _check_size(entry, input_shape)
        if entry.sized and entry.size_arg not in args:
            args[entry.size_arg] = _size_value(entry, input_shape)
    model = _call_builder(name, entry.builder, args)
    return Backbone(name, model, entry.head, args, entry.end)


def _size_value(entry: BackboneDef, input_shape: tuple[int, ...]) -> Any:
    h, w = input_shape[-2:]
    if entry.size_arg != "image_size":
        return (h, w)
    if h != w:
        raise BackboneError(f"{entry.name} needs a square input (its image_size is one number), "
                            f"got {h}x{w}", hint="use a timm ViT (timm.vit_*) for other shapes")
    return h


def _lookup(name: str) -> BackboneDef:
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in EXCLUDED:
        raise BackboneError(f"{name} cannot be used as a backbone: {EXCLUDED[name]}",
                            hint="pick a convolutional or Swin backbone (`mtlspec blocks --help`)")
    if f"torchvision.{name}" in _REGISTRY:
        close = [f"torchvision.{name}"]
    else:
        close = difflib.get_close_matches(name, list_backbones(), n=3)
    hint = f"did you mean {', '.join(close)}?" if close else (
        "torchvision models are named `torchvision.NAME`; user code needs `pkg.module:callable`"
        " and --allow-import")
    raise BackboneError(f"unknown backbone {name!r}", hint=hint)


def _check_size(entry: BackboneDef, input_shape: tuple[int, ...]) -> None:
    if len(input_shape) != 4:
        raise BackboneError(f"{entry.name}: input shape must be (N, C, H, W), got {input_shape}")
    h, w = input_shape[-2:]
    if min(h, w) < entry.min_size:
        raise BackboneError(
            f"{entry.name} needs an input of at least {entry.min_size}x{entry.min_size} pixels, "
            f"got {h}x{w}")
    if h % entry.size_multiple or w % entry.size_multiple:
        raise BackboneError(
            f"{entry.name} needs input height and width that are multiples of "
            f"{entry.size_multiple}, got {h}x{w}")


def _call_builder(name: str, builder: Callable[..., nn.Module], args: dict[str, Any]) -> nn.Module:
    from mtlspec.backbone.memory import check_build

    if not catalog.is_custom_ref(name):  # user code runs once, as written
        check_build(lambda: builder(**args), f"backbone {name}")
    try:
        model = builder(**args)
    except BackboneError:
        raise
    except (TypeError, ValueError, AssertionError) as err:
        # Builders reject unknown or out-of-range arguments with these; say which backbone.
        raise BackboneError(f"cannot build {name} with arguments {args}: {err}") from err
    if not isinstance(model, nn.Module):
        raise BackboneError(f"{name} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _import_custom(ref: str, args: dict[str, Any], allow_import: bool) -> nn.Module:
    if not usercode.allowed(allow_import):
        raise BackboneError(
            f"backbone {ref!r} is user code; importing it would run arbitrary code",
            hint=usercode.HINT,
        )
    if not usercode.is_ref(ref):
        raise BackboneError(f"custom backbone {ref!r} must look like 'pkg.module:callable'")
    try:
        obj = usercode.import_object(ref, what="custom backbone", allow=True)
    except MtlspecError as err:
        raise BackboneError(str(err)) from None
    if not callable(obj):
        raise BackboneError(f"custom backbone {ref!r} is not callable")
    return _call_builder(ref, obj, args)


def load_weights(module: nn.Module, path: str | Path) -> None:
    """Load a weights file into `module` in place, safely (`torch.load(weights_only=True)`).

    The file holds a state dict (or `{"state_dict": ...}`) of the backbone, possibly with its
    classifier: keys the module does not have (the dropped classifier) are ignored, but every
    parameter and buffer of `module` must be present.

    Args:
        module: the module to fill (e.g. the traced features module).
        path: the file written by `torch.save(model.state_dict(), path)`.

    Raises:
        BackboneError: unreadable file, not a state dict, missing keys or wrong shapes.

    Example:
        >>> import tempfile
        >>> import torch
        >>> source, target = ConvNet(depth=2, width=4), ConvNet(depth=2, width=4)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     torch.save(source.state_dict(), f"{folder}/w.pt")
        ...     load_weights(target, f"{folder}/w.pt")
        >>> all(torch.equal(a, b) for a, b in zip(source.state_dict().values(),
        ...                                       target.state_dict().values()))
        True
    """
    import torch

    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as err:
        # Missing file, truncated file, or pickled code that weights_only refuses: all of them
        # are problems with the user's file, reported as such.
        raise BackboneError(f"cannot read weights file {str(path)!r}: {err}") from err
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(k, str) for k in state):
        raise BackboneError(f"weights file {str(path)!r} does not hold a state dict")
    wanted = module.state_dict()
    missing = [k for k in wanted if k not in state]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise BackboneError(f"weights file {str(path)!r} lacks {len(missing)} of the "
                            f"backbone's {len(wanted)} tensors: {shown}")
    try:
        module.load_state_dict({k: state[k] for k in wanted})
    except RuntimeError as err:
        raise BackboneError(f"weights file {str(path)!r} does not fit the backbone: {err}") from err
