"""A name → builder table filled by a decorator (heads, DAG ops), like torchvision's `_api.py`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

Builder = TypeVar("Builder", bound=Callable)


def registers_into(table: dict[str, Builder], what: str) -> Callable[[str], Callable]:
    """A decorator factory: `@register("name")` puts the builder in `table` (duplicates are a bug).

    Example:
        >>> HEADS = {}
        >>> register_head = registers_into(HEADS, "head")
        >>> @register_head("linear")
        ... def linear(): ...
        >>> sorted(HEADS)
        ['linear']
    """

    def register(name: str) -> Callable[[Builder], Builder]:
        def wrap(builder: Builder) -> Builder:
            if name in table:
                raise ValueError(f"{what} {name!r} is registered twice")
            table[name] = builder
            return builder

        return wrap

    return register
