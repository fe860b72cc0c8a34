"""`timm.NAME`: any timm model as a backbone (optional extra `mtlspec[timm]`).

The model is created with random weights (`pretrained=False`, never downloaded; load trained
weights with an `init` file) and used as a feature extractor: its `forward_features`, the
unpooled features before timm's pooling and classifier. Models whose patch grid is fixed at
construction (ViT, Swin, MaxViT, ...) are created for the spec's input size (`img_size`).
What fx cannot trace becomes a leaf module (see `trace`), including timm's registered ones.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from torch import nn

from mtlspec.backbone.errors import BackboneError

PREFIX = "timm."
EXTRA_HINT = "install the optional extra: pip install 'mtlspec[timm]' (or pip install timm)"


def is_timm(name: str) -> bool:
    """Whether `name` refers to a timm model (`timm.resnet50`)."""
    return name.startswith(PREFIX)


def _import_timm() -> Any:
    try:
        return importlib.import_module("timm")
    except ImportError as err:
        raise BackboneError("timm backbones need the timm package, which is not installed",
                            hint=EXTRA_HINT) from err


def build_timm(name: str, args: dict[str, Any], input_shape: tuple[int, ...] | None
               ) -> nn.Module:
    """Create timm model `name` (`timm.NAME`) with random weights, ending in its features.

    Args:
        name: `timm.` followed by a timm model name (`timm.list_models()`).
        args: keyword arguments for `timm.create_model` (e.g. `{"drop_path_rate": 0.1}`).
        input_shape: (N, C, H, W) the model will see; its size becomes `img_size` for
            models that take one, and C becomes `in_chans`.

    Returns:
        The model; calling it returns `forward_features(x)`.

    Raises:
        BackboneError: timm is not installed (naming the extra), unknown model name (with
            close matches), pretrained weights asked for, or arguments timm rejects.

    Example:
        >>> import torch
        >>> model = build_timm("timm.resnet18", {}, (1, 3, 64, 64))
        >>> model(torch.zeros(1, 3, 64, 64)).shape
        torch.Size([1, 512, 2, 2])
    """
    timm = _import_timm()
    model_name = name[len(PREFIX):]
    if model_name not in timm.list_models():
        close = difflib.get_close_matches(model_name, timm.list_models(), n=3)
        hint = f"did you mean {', '.join(PREFIX + c for c in close)}?" if close else \
            "see timm.list_models() for the names"
        raise BackboneError(f"unknown timm model {model_name!r}", hint=hint)
    for key in ("pretrained", "pretrained_cfg", "pretrained_cfg_overlay", "checkpoint_path"):
        if key in args:
            raise BackboneError(
                f"{name}: `{key}` is not a backbone argument; mtlspec never downloads weights",
                hint="pass a weights file instead (the spec's `init`, or --weights FILE)")
    kwargs = dict(args)
    if input_shape is not None:
        kwargs.setdefault("in_chans", input_shape[1])
        default = getattr(timm.models.get_pretrained_cfg(model_name), "input_size", None)
        if default is not None and tuple(default[1:]) != tuple(input_shape[-2:]):
            kwargs.setdefault("img_size", tuple(input_shape[-2:]))
    model = _create(timm, name, model_name, kwargs, args)
    return _features_only(model)


def _create(timm: Any, name: str, model_name: str, kwargs: dict[str, Any],
            args: dict[str, Any]) -> nn.Module:
    """`timm.create_model`, dropping the size arguments a model does not take."""
    for optional in ("img_size", "in_chans", None):
        try:
            return timm.create_model(model_name, pretrained=False, **kwargs)
        except TypeError as err:
            if optional is None or optional in args or optional not in str(err):
                raise BackboneError(f"cannot build {name} with arguments {args}: {err}") from err
            kwargs.pop(optional)
        except (ValueError, AssertionError, RuntimeError) as err:
            raise BackboneError(f"cannot build {name} with arguments {args}: {err}") from err
    raise AssertionError("unreachable")


def _features_only(model: nn.Module) -> nn.Module:
    """Make `model(x)` return `model.forward_features(x)` (state-dict keys unchanged)."""
    cls = type(model)
    if not hasattr(cls, "forward_features"):
        return model
    model.__class__ = type(f"{cls.__name__}Features", (cls,), {"forward": cls.forward_features})
    return model
