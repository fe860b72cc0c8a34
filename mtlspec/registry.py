"""Name → entry tables filled by a decorator, like torchvision's `_api.py`: task heads, DAG
ops, losses, metrics, data sets and backbones all register through `registers_into`.

A name is registered once; a second registration is a programming error (`ValueError`), not
a user error, so it surfaces at import time.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar

Fn = TypeVar("Fn", bound=Callable[..., Any])


def registers_into(table: MutableMapping[str, Any], what: str,
                   entry: Callable[..., Any] | None = None) -> Callable[..., Callable[[Fn], Fn]]:
    """A decorator factory: `@register(name, **details)` puts an entry for the function into
    `table` under `name` and returns the function unchanged.

    Args:
        table: the registry (name → entry).
        what: what the entries are, for the duplicate message (`head`, `loss`, ...).
        entry: builds the stored entry from `(name, function, **details)`; default: the
            function itself (and no details are accepted).

    Returns:
        `register(name, **details)`, the decorator.

    Raises:
        ValueError: (when decorating) `name` is already registered.

    Example:
        >>> HEADS = {}
        >>> register_head = registers_into(HEADS, "head")
        >>> @register_head("linear")
        ... def linear(): ...
        >>> sorted(HEADS)
        ['linear']
        >>> METRICS = {}
        >>> register_metric = registers_into(
        ...     METRICS, "metric", lambda name, fn, *, higher_is_better: (fn, higher_is_better))
        >>> @register_metric("accuracy", higher_is_better=True)
        ... def accuracy(pred, target): ...
        >>> METRICS["accuracy"][1]
        True
        >>> register_head("linear")(linear)
        Traceback (most recent call last):
        ...
        ValueError: head 'linear' is already registered
    """

    def register(name: str, **details: Any) -> Callable[[Fn], Fn]:
        def wrap(fn: Fn) -> Fn:
            if name in table:
                raise ValueError(f"{what} {name!r} is already registered")
            table[name] = fn if entry is None else entry(name, fn, **details)
            return fn

        return wrap

    return register
