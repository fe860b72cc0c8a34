"""The DAG, grouping and budget items of the parse-tree builder, and helpers that split
compound tokens.

`Builder` (in `builder.py`) mixes `SpecItems` in; these methods use its helpers (`mark`,
`number`, `integer`, `items`, `require`, `task_set`, ...).
"""

from __future__ import annotations

import re
from typing import Any

from lark import Token, Tree

from mtlspec.spec import ir

Path_ = tuple[Any, ...]
# Budget names that mean the same limit: `gflops` was the first name of `gmacs` (both count
# fvcore's multiply-adds); the formatter writes the canonical name.
BUDGET_SYNONYMS = {"gflops": "gmacs"}


class SpecItems:
    """`central`, `topology`, `network` and `budget` items (a mixin of `Builder`)."""

    def budget(self, node: Tree) -> ir.Budget:
        self.mark(("budget",), node, anchor=True)
        limits: dict[str, float | int] = {}
        for limit in node.children:
            key_tok, value_tok, *setup = limit.children
            key = BUDGET_SYNONYMS.get(str(key_tok), str(key_tok))
            self.mark(("budget", key), limit)
            if key not in ir.Budget.model_fields:
                self.error(
                    f"unknown budget `{key_tok}`",
                    key_tok,
                    "budgets are `gmacs <= X` (or its synonym `gflops`), `params <= N` (K/M/G "
                    "suffixes), `latency_ms <= T @ ort-cpu batch N` and, for model and "
                    "grouping specs, `units <= U`",
                )
            elif key in limits:
                self.error(f"budget `{key}` is given twice"
                           + (f" (`{key_tok}` is a synonym of `{key}`)" if key != key_tok
                              else ""), key_tok)
            elif key == "latency_ms":
                limits[key] = self._latency(self.number(value_tok), setup[0] if setup else None)
            elif setup:
                self.error(f"`{key_tok}` is counted, not measured: it takes no `@` setup",
                           setup[0], "only `latency_ms` has a measurement setup")
            else:
                value = self.number(value_tok)
                if key == "params" and isinstance(value, float):
                    if value.is_integer():  # `params <= 1e6` is a whole number too
                        value = int(value)
                    else:
                        self.error(f"params must be a whole number, got {value_tok}", value_tok)
                        value = 0
                limits[key] = value if key == "params" else float(value)
        return ir.Budget.model_construct(**limits)

    def _latency(self, ms: float, setup: Tree | None) -> ir.Latency:
        """`latency_ms <= T [@ RUNTIME [batch N] [threads N]]` (default: ort-cpu, batch 1)."""
        if setup is None:
            return ir.Latency.model_construct(ms=float(ms))
        runtime, *options = setup.children
        found: dict[str, int] = {}
        for option in options:
            name_tok, value_tok = option.children
            name = str(name_tok)
            if name not in ("batch", "threads"):
                self.error(f"unknown measurement option `{name}`", name_tok,
                           "the setup reads `@ ort-cpu batch N threads N` (both optional)")
            elif name in found:
                self.error(f"measurement option `{name}` is given twice", name_tok)
            else:
                found[name] = self.integer(value_tok, f"`{name}`")
        return ir.Latency.model_construct(ms=float(ms), runtime=str(runtime), **found)

    def central(self, node: Tree) -> ir.Central | None:
        self.mark(("central",), node, anchor=True, block=True)
        handlers = {
            "states": lambda n: self._central_int(n, "states"),
            "flow": lambda n: self._central_int(n, "flow"),
            "stem": lambda n: self._central_call(n, "stem"),
            "edge_op": lambda n: self._central_call(n, "edge"),
        }
        found = self.items(node, handlers)
        found = {("edge" if k == "edge_op" else k): v for k, v in found.items()}
        if not self.require(found, ("states", "flow", "stem", "edge"), "`central`", node):
            return None
        return ir.Central.model_construct(**found)

    def _central_int(self, node: Tree, key: str) -> int:
        self.mark(("central", key), node, anchor=True)
        return self.integer(node.children[0], f"`{key}`")

    def _central_call(self, node: Tree, key: str) -> ir.Call:
        self.mark(("central", key), node, anchor=True)
        return self.call(node.children[0], ("central", key))

    def topology(self, node: Tree) -> ir.Topology | None:
        index = self.counts[("topologies",)] = self.counts.get(("topologies",), -1) + 1
        path = ("topologies", index)
        task_tok = node.children[0]
        self.mark(path, node, anchor=True)
        self.mark((*path, "task"), task_tok)
        handlers = {
            "read_in": lambda n: self._states(n, (*path, "in")),
            "read_out": lambda n: self._states(n, (*path, "out")),
            "edges": lambda n: self._edges(n, path),
        }
        found = self.items(Tree("topology", node.children[1:], node.meta), handlers)
        found = {{"read_in": "in", "read_out": "out"}.get(k, k): v for k, v in found.items()}
        if not self.require(found, ("in", "out"), f"topology `{task_tok}`", task_tok):
            return None
        return ir.Topology.model_construct(
            task=str(task_tok),
            read_in=found["in"],
            edges=found.get("edges", frozenset()),
            read_out=found["out"],
        )

    def _states(self, node: Tree, path: Path_) -> frozenset[int]:
        self.mark(path, node)
        states: list[int] = []
        for tok in node.children:
            state = self.integer(tok, "a state")
            if state in states:
                self.error(f"state {state} is listed twice", tok)
            states.append(state)
            self.mark((*path, state), tok)
        return frozenset(states)

    def _edges(self, node: Tree, path: Path_) -> frozenset[tuple[int, int]]:
        self.mark((*path, "edges"), node)
        edges: list[tuple[int, int]] = []
        for edge in node.children:
            ends = _edge_ends(edge)
            pair = (self.integer(ends[0], "a state"), self.integer(ends[1], "a state"))
            if pair in edges:
                self.error(f"edge {pair[0]}->{pair[1]} is listed twice", edge)
            edges.append(pair)
            self.mark((*path, "edges", pair), edge)
        return frozenset(edges)

    def network(self, node: Tree) -> ir.Network | None:
        index = self.counts[("networks",)] = self.counts.get(("networks",), -1) + 1
        path = ("networks", index)
        name_tok, ref_node, *rest = node.children
        self.mark(path, node, anchor=True)
        self.mark((*path, "name"), name_tok)
        self.mark((*path, "backbone"), ref_node)
        args_node = rest[0] if len(rest) == 3 else None
        trains_node, serves_node = rest[-2:]
        args = self.args(args_node, path)
        width = args.pop("width", 1.0)
        if isinstance(width, bool) or not isinstance(width, int | float):
            self.error("`width` must be a number", self.spans[(*path, "args", "width")])
            width = 1.0
        if (*path, "args", "width") in self.spans:
            self.spans[(*path, "width")] = self.spans[(*path, "args", "width")]
        self.mark((*path, "trains"), trains_node)
        self.mark((*path, "serves"), serves_node)
        return ir.Network.model_construct(
            name=str(name_tok),
            backbone=self.ref(ref_node),
            args=args,
            width=float(width),
            trains=self.task_set(trains_node, (*path, "trains")),
            serves=self.task_set(serves_node, (*path, "serves")),
        )


NAME_IN_SET = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EDGE_END = re.compile(r"[+-]?\d+")


def _sub_tokens(tok: Token, pattern: re.Pattern[str], kind: str) -> list[Token]:
    """Split a compound token (a whole task set, a whole edge) into located tokens."""
    out = []
    for match in pattern.finditer(tok.value):
        before = tok.value[: match.start()]
        line = tok.line + before.count("\n")
        nl = before.rfind("\n")
        column = tok.column + len(before) if nl < 0 else len(before) - nl
        out.append(Token(kind, match.group(), match.start() + tok.start_pos, line, column,
                         line, column + len(match.group())))
    return out


def set_names(node: Tree | Token) -> list[Token]:
    if isinstance(node, Token):
        return _sub_tokens(node, NAME_IN_SET, "NAME")
    return list(node.children)


def _edge_ends(node: Tree | Token) -> list[Token]:
    if isinstance(node, Token):
        return _sub_tokens(node, _EDGE_END, "NUMBER")
    return list(node.children)
