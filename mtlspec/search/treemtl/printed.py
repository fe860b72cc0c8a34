"""TreeMTL's printed layouts (`[[{0, 1, 2}], [{0, 1}, {2}]]`, what its code prints and its
papers' tables list) → layouts (`mtlspec import treemtl`, `recommend --evaluate`)."""

from __future__ import annotations

import re

from mtlspec.errors import MtlspecError
from mtlspec.search.treemtl.layouts import Layout, check

_TREEMTL_ROW = re.compile(r"\[([^\[\]]*)\]")
_TREEMTL_SET = re.compile(r"\{([^{}]*)\}")


def parse_treemtl(text: str) -> Layout:
    """A layout from TreeMTL's printed form, e.g. `[[{0, 1, 2}], [{0, 1}, {2}]]`.

    Set order inside a row is free; task ids are TreeMTL's 0-based task indices.

    Raises:
        MtlspecError: the text is not a list of rows of `{ids}` sets, or not a layout.

    Example:
        >>> from mtlspec.search.treemtl.layouts import describe
        >>> describe(parse_treemtl("[[{0, 1, 2}], [{2}, {0, 1}]]"))
        '{0, 1, 2} | {0, 1} {2}'
    """
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")):
        raise MtlspecError(f"not a TreeMTL layout: {text!r}",)
    rows = _TREEMTL_ROW.findall(body[1:-1])
    leftover = _TREEMTL_ROW.sub("", body[1:-1]).replace(",", "").strip()
    if not rows or leftover:
        raise MtlspecError(f"not a TreeMTL layout: {text!r}; expected e.g. "
                           "\"[[{0, 1, 2}], [{0, 1}, {2}]]\"")
    layout = []
    for i, row in enumerate(rows, 1):
        sets = _TREEMTL_SET.findall(row)
        if not sets or _TREEMTL_SET.sub("", row).replace(",", "").strip():
            raise MtlspecError(f"TreeMTL layout row {i} is not a list of {{id, ...}} sets: [{row}]")
        try:
            groups = [frozenset(int(x) for x in s.split(",") if x.strip()) for s in sets]
        except ValueError:
            raise MtlspecError(f"TreeMTL layout row {i}: task ids must be integers: "
                               f"[{row}]") from None
        layout.append(tuple(sorted(groups, key=lambda g: min(g, default=-1))))
    result = tuple(layout)
    check(result)
    return result
