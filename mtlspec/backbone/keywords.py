"""Keyword arguments of a backbone builder, checked against its signature before it runs.

torchvision's builders take `**kwargs` and pass them on to the model class, so the names a
builder accepts are its own keywords and those of the class it returns (its annotation).
An unknown name is reported with the accepted ones instead of torch's TypeError.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any

from mtlspec.backbone.errors import BackboneError


def accepted_keywords(builder: Callable[..., Any]) -> set[str] | None:
    """Names `builder` accepts as keywords, or None when it takes any (`**kwargs` that go
    nowhere we can see).

    Example:
        >>> from torchvision.models import resnet18
        >>> {"num_classes", "groups"} <= accepted_keywords(resnet18)
        True
    """
    try:
        sig = inspect.signature(builder)
    except (TypeError, ValueError):
        return None
    names, open_ended = _keywords(sig)
    if not open_ended:
        return names
    target = sig.return_annotation
    if not inspect.isclass(target):
        return None
    try:
        inner, inner_open = _keywords(inspect.signature(target))
    except (TypeError, ValueError):
        return None
    return None if inner_open else (names | inner) - {"weights", "progress"}


def _keywords(sig: inspect.Signature) -> tuple[set[str], bool]:
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = {p.name for p in sig.parameters.values() if p.kind in kinds} - {"self"}
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    return names, open_ended


def check_keywords(name: str, builder: Callable[..., Any], args: dict[str, Any]) -> None:
    """Raise BackboneError naming the first argument `builder` does not take.

    Example:
        >>> from torchvision.models import resnet18
        >>> try:
        ...     check_keywords("torchvision.resnet18", resnet18, {"num_clases": 3})
        ... except BackboneError as err:
        ...     print(err)
        torchvision.resnet18 has no argument `num_clases`
    """
    accepted = accepted_keywords(builder)
    if accepted is None:
        return
    for key in args:
        if key not in accepted:
            close = difflib.get_close_matches(key, sorted(accepted), n=1)
            hint = (f"did you mean `{close[0]}`?" if close
                    else "its arguments: " + ", ".join(sorted(accepted)))
            raise BackboneError(f"{name} has no argument `{key}`", hint=hint)
