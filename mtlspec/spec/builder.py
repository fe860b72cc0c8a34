"""Lark parse tree → IR, recording a source span for every IR path.

The builder collects every problem it can see while building (a duplicated item, a missing
`layout`, a non-integer count) instead of stopping at the first; semantic rules the IR can
express are left to `validate`.

IR nodes are made with `model_construct`: the builder already gives every field its exact type
(tuples, frozensets, floats), so pydantic's validation would check nothing, and building its
validators is a third of `mtlspec validate`'s time. tests/test_start_up.py checks that the IR
equals and serialises like a validated copy.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from lark import Token, Tree

from mtlspec.errors import Span, SpecError
from mtlspec.spec import ir
from mtlspec.spec.builder_items import NAME_IN_SET, SpecItems, set_names
from mtlspec.spec.comments import Anchor
from mtlspec.spec.layout import Branch, BranchError, rows_from_branches, show_set
from mtlspec.spec.numbers import split_suffix

Path_ = tuple[Any, ...]

MAX_NUMBER_CHARS = 40
MAX_BLOCKS = 1000  # `auto(10**20)` must not make branch expansion build 10**20 rows

_REQUIRED = {
    "model": ("input", "backbone", "tasks", "layout"),
    "dag": ("input", "central", "tasks"),
    "grouping": ("input", "tasks"),
}
_EXAMPLES = {
    "input": "input image: float[1, 3, 224, 224]",
    "backbone": "backbone torchvision.resnet34 { blocks: auto(5) }",
    "tasks": "tasks { segment: head conv(classes=13) }",
    "layout": "layout [ {a, b} ]",
    "central": "central { states: 8; flow: 3; stem: conv(out=32); edge: conv3x3 }",
    "states": "states: 8",
    "flow": "flow: 3",
    "stem": "stem: conv(out=32, stride=2)",
    "edge": "edge: conv3x3",
    "in": "in: 1",
    "out": "out: 4",
}


def span_of(item: Token | Tree) -> Span:
    """The source span of a token or a (non-empty) tree."""
    if isinstance(item, Token):
        return Span(item.line, item.column, item.end_line, item.end_column)
    meta = item.meta
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


def unquote(tok: Token) -> str:
    """The text of a STRING token without quotes and escapes."""
    return tok.value[1:-1].replace('\\"', '"').replace("\\\\", "\\")


class Builder(SpecItems):
    """Builds one spec; read `errors`, `spans` and `anchors` afterwards."""

    def __init__(self) -> None:
        self.errors: list[SpecError] = []
        self.spans: dict[Path_, Span] = {}
        self.anchors: list[Anchor] = []
        self.counts: dict[Path_, int] = {}  # repeated items seen so far (their IR index)

    # ------------------------------------------------------------------ helpers
    def error(self, message: str, where: Token | Tree | Span, hint: str | None = None) -> None:
        span = where if isinstance(where, Span) else span_of(where)
        self.errors.append(SpecError(message, span, hint))

    def mark(self, path: Path_, where: Token | Tree, *, anchor: bool = False, block=False):
        span = span_of(where)
        self.spans.setdefault(path, span)
        if anchor:
            self.anchors.append(Anchor(path, span.line, span.end_line, block))

    def number(self, tok: Token) -> int | float:
        """A NUMBER token's value (K/M/G suffixes applied); 0 after reporting a bad one."""
        text = tok.value
        if len(text) > MAX_NUMBER_CHARS:
            self.error(f"number is too long ({len(text)} characters)", tok)
            return 0
        body, mult = split_suffix(text)
        if not any(c in body for c in ".eE"):
            return int(body) * mult
        try:
            value = Decimal(body) * mult
            # Bounded: int() of `1e999000M` would build a million-digit integer (~a minute).
            small = value.adjusted() < MAX_NUMBER_CHARS
            if mult != 1 and small and value == value.to_integral_value():
                return int(value)
            result = float(value)
        except (InvalidOperation, ArithmeticError, ValueError):
            result = float("inf")
        if result in (float("inf"), float("-inf")):
            self.error(f"number {text} is out of range", tok)
            return 0
        return result

    def integer(self, tok: Token, what: str) -> int:
        value = self.number(tok)
        if isinstance(value, float):
            self.error(f"{what} must be a whole number, got {tok.value}", tok)
            return 0
        return value

    def value(self, node: Tree) -> ir.Value:
        kind = node.data
        if kind == "number":
            return self.number(node.children[0])
        if kind == "string":
            return unquote(node.children[0])
        if kind == "bare_name":
            return str(node.children[0])
        if kind in ("true", "false"):
            return kind == "true"
        return tuple(self.value(child) for child in node.children)  # list

    def args(self, node: Tree | None, path: Path_) -> dict[str, ir.Value]:
        out: dict[str, ir.Value] = {}
        for kwarg in node.children if node is not None else ():
            key_tok, value_node = kwarg.children
            key = str(key_tok)
            if key in out:
                self.error(f"argument `{key}` is given twice", key_tok)
                continue
            out[key] = self.value(value_node)
            self.mark((*path, "args", key), kwarg)
        return out

    def call(self, node: Tree, path: Path_) -> ir.Call:
        name_tok, *rest = node.children
        self.mark(path, node)
        self.mark((*path, "name"), name_tok)
        args = self.args(rest[0] if rest else None, path)
        return ir.Call.model_construct(name=str(name_tok), args=args)

    def task_set(self, node: Tree | Token, path: Path_) -> frozenset[str]:
        """A `{a, b}` set: one TASK_SET token when well-formed, else a `names` tree."""
        if isinstance(node, Token):
            names = NAME_IN_SET.findall(node.value)
        else:
            names = [str(tok) for tok in node.children]
        group = frozenset(names)
        if len(group) != len(names):
            seen: set[str] = set()
            for tok in set_names(node):
                if str(tok) in seen:
                    self.error(f"task {tok} is listed twice in one set", tok)
                seen.add(str(tok))
        self.mark((*path, group), node)
        return group

    def items(self, node: Tree, handlers: dict[str, Callable[[Tree], Any]], path: Path_ = ()):
        """Dispatch the items of a block once each; report duplicates. Returns name → value."""
        found: dict[str, Any] = {}
        first: dict[str, Tree] = {}
        for child in node.children:
            if not isinstance(child, Tree):
                continue
            kind = child.data
            repeatable = kind in ("task", "branch", "topology", "network", "limit")
            if kind in first and not repeatable:
                self.error(
                    f"duplicate `{_keyword(kind)}`: it was already given on line "
                    f"{first[kind].meta.line}",
                    child,
                    "remove one of the two",
                )
                continue
            first.setdefault(kind, child)
            result = handlers[kind](child)
            if repeatable:
                found.setdefault(kind, []).append(result)
            else:
                found[kind] = result
        return found

    def require(self, found: dict, keys: tuple[str, ...], what: str, where: Token | Tree) -> bool:
        missing = [k for k in keys if k not in found]
        for key in missing:
            self.error(f"{what} has no `{key}`", where, f"add e.g. `{_EXAMPLES[key]}`")
        return not missing

    # ------------------------------------------------------------------ specs
    def build(self, tree: Tree) -> ir.AnySpec | None:
        spec_node = tree.children[0]
        kind = spec_node.data
        name_tok = spec_node.children[0]
        self.mark(("name",), name_tok)
        self.anchors.append(Anchor((), spec_node.meta.line, spec_node.meta.end_line, True))
        build = {"model": self.model, "dag": self.dag, "grouping": self.grouping}[kind]
        return build(spec_node, str(name_tok))

    def _common(self) -> dict[str, Callable[[Tree], Any]]:
        return {"input": self.input, "tasks": self.tasks, "budget": self.budget}

    def model(self, node: Tree, name: str) -> ir.TreeSpec | None:
        handlers = {
            **self._common(),
            "backbone": self.backbone,
            "layout": self.layout,
            "branch": self.branch,
            "init": lambda n: self._path_item(n, "init"),
            "weights": lambda n: self._path_item(n, "weights"),
        }
        found = self.items(node, handlers)
        if "branch" in found:
            if "layout" in found:
                self.error(
                    "the layout is written both as rows and as branch statements",
                    self._first(node, "branch"),
                    "keep one of the two forms",
                )
            elif "tasks" in found and "backbone" in found:
                found["layout"] = self.expand_branches(node, found)
        if not self.require(found, _REQUIRED["model"], f"model `{name}`", node.children[0]):
            return None
        return ir.TreeSpec.model_construct(
            name=name,
            input=found["input"],
            backbone=found["backbone"],
            tasks=found["tasks"],
            layout=found["layout"],
            budget=found.get("budget"),
            init=found.get("init"),
            weights=found.get("weights"),
        )

    def dag(self, node: Tree, name: str) -> ir.DagSpec | None:
        handlers = {**self._common(), "central": self.central, "topology": self.topology}
        found = self.items(node, handlers)
        if not self.require(found, _REQUIRED["dag"], f"dag `{name}`", node.children[0]):
            return None
        if found["central"] is None:  # incomplete; `central` reported what it lacks
            return None
        return ir.DagSpec.model_construct(
            name=name,
            input=found["input"],
            central=found["central"],
            tasks=found["tasks"],
            topologies=tuple(t for t in found.get("topology", []) if t is not None),
            budget=found.get("budget"),
        )

    def grouping(self, node: Tree, name: str) -> ir.GroupingSpec | None:
        handlers = {**self._common(), "network": self.network}
        found = self.items(node, handlers)
        if not self.require(found, _REQUIRED["grouping"], f"grouping `{name}`", node.children[0]):
            return None
        return ir.GroupingSpec.model_construct(
            name=name,
            input=found["input"],
            tasks=found["tasks"],
            networks=tuple(n for n in found.get("network", []) if n is not None),
            budget=found.get("budget"),
        )

    # ------------------------------------------------------------------ items
    def input(self, node: Tree) -> ir.TensorInput:
        name_tok, dtype_tok, *dims = node.children
        self.mark(("input",), node, anchor=True)
        self.mark(("input", "dtype"), dtype_tok)
        for i, tok in enumerate(dims):
            self.mark(("input", "shape", i), tok)
        shape = tuple(self.integer(tok, "a dimension") for tok in dims)
        return ir.TensorInput.model_construct(name=str(name_tok), dtype=str(dtype_tok), shape=shape)

    def backbone(self, node: Tree) -> ir.Backbone:
        ref_node, *rest = node.children
        self.mark(("backbone",), node, anchor=True)
        self.mark(("backbone", "ref"), ref_node)
        args_node = next((c for c in rest if c.data == "args"), None)
        body = next((c for c in rest if c.data == "backbone_body"), None)
        options = self.items(body, {
            "blocks_auto": self.blocks_auto,
            "blocks_after": self.blocks_after,
            "allow_import": lambda n: n.children[0].data == "true",
        }) if body is not None else {}
        if "blocks_auto" in options and "blocks_after" in options:
            self.error("`blocks` is given twice", body)
        blocks = (options.get("blocks_auto") or options.get("blocks_after")
                  or ir.AutoBlocks.model_construct())
        return ir.Backbone.model_construct(
            ref=self.ref(ref_node),
            args=self.args(args_node, ("backbone",)),
            blocks=blocks,
            allow_import=options.get("allow_import", False),
        )

    def ref(self, node: Tree) -> str:
        child = node.children[0]
        if isinstance(child, Token):
            return unquote(child)
        return ".".join(str(tok) for tok in child.children)

    def blocks_auto(self, node: Tree) -> ir.AutoBlocks:
        self.mark(("backbone", "blocks"), node)
        if not node.children:
            return ir.AutoBlocks.model_construct()
        count = self.integer(node.children[0], "the block count")
        if count > MAX_BLOCKS:
            self.error(f"the block count {count} is too large (at most {MAX_BLOCKS})",
                       node.children[0])
        return ir.AutoBlocks.model_construct(count=count)

    def blocks_after(self, node: Tree) -> ir.CutAfter:
        self.mark(("backbone", "blocks"), node)
        names: list[str] = []
        for i, cut in enumerate(node.children):
            first = cut.children[0]
            text = unquote(first) if first.type == "STRING" else str(first)
            self.mark(("backbone", "blocks", i), cut)
            names.append(text)
        return ir.CutAfter.model_construct(after=tuple(names))

    def tasks(self, node: Tree) -> tuple[ir.Task, ...]:
        self.mark(("tasks",), node, anchor=True, block=True)
        out = []
        for i, task in enumerate(node.children):
            name_tok, call = task.children
            self.mark(("tasks", i), task, anchor=True)
            self.mark(("tasks", i, "name"), name_tok)
            head = self.call(call, ("tasks", i, "head"))
            out.append(ir.Task.model_construct(name=str(name_tok), head=head))
        return tuple(out)

    def layout(self, node: Tree) -> tuple[frozenset[frozenset[str]], ...]:
        self.mark(("layout",), node, anchor=True, block=True)
        rows = []
        for r, row in enumerate(node.children):
            self.mark(("layout", r), row, anchor=True)
            groups: list[frozenset[str]] = []
            for set_node in row.children:
                group = self.task_set(set_node, ("layout", r))
                if group in groups:
                    self.error(f"task set {show_set(group)} is listed twice in one row", set_node)
                groups.append(group)
            rows.append(frozenset(groups))
        return tuple(rows)

    def branch(self, node: Tree) -> tuple[Branch, Tree]:
        after_tok, *sets = node.children
        self.mark(("layout",), node)
        self.anchors.append(Anchor(("layout",), node.meta.line, node.meta.end_line, False))
        after = self.integer(after_tok, "a branch point")
        if after < 0:
            self.error("a branch point cannot be negative", after_tok)
        children = tuple(self.task_set(s, ("branch", node.meta.line)) for s in sets)
        for s, group in zip(sets, children, strict=True):
            if not group:
                self.error("a branch needs at least one task", s)
        return Branch(after, children), node

    def expand_branches(self, node: Tree, found: dict) -> tuple[frozenset[frozenset[str]], ...]:
        stmts: list[tuple[Branch, Tree]] = found["branch"]
        blocks = found["backbone"].block_count
        if blocks is None:
            self.error(
                "branch statements need a known number of blocks",
                stmts[0][1],
                "write `blocks: auto(K)` or list the cut points in the backbone's `{ }`",
            )
            return ()
        if blocks > MAX_BLOCKS:
            return ()  # reported with the block count
        tasks = [t.name for t in found["tasks"]]
        try:
            return rows_from_branches(tasks, [b for b, _ in stmts], blocks)
        except BranchError as err:
            self.error(str(err), stmts[err.index][1], err.hint)
            return ()

    def _path_item(self, node: Tree, key: str) -> str:
        self.mark((key,), node, anchor=True)
        return unquote(node.children[0])

    def _first(self, node: Tree, kind: str) -> Tree:
        return next(c for c in node.children if isinstance(c, Tree) and c.data == kind)


def _keyword(kind: str) -> str:
    return {
        "blocks_auto": "blocks", "blocks_after": "blocks", "edge_op": "edge",
        "read_in": "in", "read_out": "out",
    }.get(kind, kind)
