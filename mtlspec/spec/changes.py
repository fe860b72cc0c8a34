"""What changed between two specs, item by item: which layout rows, topologies, networks,
heads, input or backbone differ (`mtlspec diff`, `mtlspec check --against`).

Both specs are printed in canonical form (`format.item_lines`), so a change is a change of
meaning, never of spacing, order of a set or comments. Items are named for people: `layout
row 3`, `topology depth`, `network B`, `task segment`, `input`, `backbone`, `budget`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mtlspec.spec import ir
from mtlspec.spec.format import item_lines

# Items that say how tasks share the network (the rest: input, backbone, heads, budget).
LAYOUT_ITEMS = ("layout row ", "topology ", "network ")


@dataclass(frozen=True)
class Change:
    """One item that differs: `before` is None for an added item, `after` for a removed one.

    `path` is the item's IR path in the newer spec (in the older one for a removed item), to
    find its line (`Document.spans`).
    """

    item: str
    before: str | None
    after: str | None
    path: tuple = ()

    @property
    def layout(self) -> bool:
        """Whether the item is part of the layout (rows, topologies, networks)."""
        return self.item.startswith(LAYOUT_ITEMS)

    def describe(self) -> str:
        """`layout row 3: {a, b} {c} → {a} {b} {c}` (or `(added)` / `(removed)`)."""
        if self.before is None:
            return f"{self.item}: {self.after} (added)"
        if self.after is None:
            return f"{self.item}: {self.before} (removed)"
        return f"{self.item}: {self.before} → {self.after}"

    def to_json(self) -> dict[str, str | bool | None]:
        return {"item": self.item, "layout": self.layout, "before": self.before,
                "after": self.after}


def _label(spec: ir.AnySpec, path: tuple) -> str:
    head, *rest = path
    if head == "layout":
        return f"layout row {rest[0] + 1}"
    if head == "tasks":
        return f"task {spec.tasks[rest[0]].name}"
    if head == "topologies":
        return f"topology {spec.topologies[rest[0]].task}"
    if head == "networks":
        return f"network {spec.networks[rest[0]].name}"
    if head == "central":
        return f"central {rest[0]}"
    return str(head)  # input, backbone, init, weights, budget


_NAMED = {"tasks": ": ", "networks": ": ", "topologies": " "}  # `a: head ..` → `head ..`


def _items(spec: ir.AnySpec) -> dict[str, tuple[str, tuple]]:
    items = {}
    for path, text in item_lines(spec):
        if path[0] in _NAMED:  # the label names it already
            text = text.split(_NAMED[path[0]], 1)[1]
            text = text.removeprefix(spec.topologies[path[1]].task + " ") if path[0] == (
                "topologies") else text
        items[_label(spec, path)] = (text, path)
    items["kind"] = (spec.kind, ())
    return items


def spec_changes(before: ir.AnySpec, after: ir.AnySpec) -> list[Change]:
    """The items that differ, in the order of `after` (removed items last).

    Example:
        >>> from mtlspec.spec import load
        >>> old = load("specs/conal_multidigits.mtl").spec
        >>> rows = old.layout
        >>> new = old.model_copy(update={"layout": (*rows[:3], rows[2], rows[4])})
        >>> [c.describe() for c in spec_changes(old, new)]
        ['layout row 4: {left} {right} {parity} → {left, right} {parity}']
    """
    old, new = _items(before), _items(after)
    changed = [Change(k, old[k][0] if k in old else None, text, path)
               for k, (text, path) in new.items() if k not in old or old[k][0] != text]
    return changed + [Change(k, text, None, path) for k, (text, path) in old.items()
                      if k not in new]
