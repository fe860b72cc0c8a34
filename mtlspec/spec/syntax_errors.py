"""Syntax errors that read like a person wrote them.

An LALR parser fails in a parser state on a token; lark's `match_examples` finds which of the
known-bad examples below fails in the same state on the same kind of token, and we report that
example's message and hint ("missing `}` after task list") instead of "Unexpected token RBRACE".
Errors no example covers fall back to "unexpected X; expected one of ...".
"""

from __future__ import annotations

import functools

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from mtlspec.errors import Span, SpecError

_HEAD = "model m {\n  input x: float[1, 3, 8, 8]\n  backbone convnet\n"
_TASKS = "  tasks { a: head linear(classes=2) }\n"
_M = _HEAD + _TASKS
_D = "dag d {\n  input x: float[1, 3, 8, 8]\n"
_G = "grouping g {\n  input x: float[1, 3, 8, 8]\n" + _TASKS

# message → (hint, examples that fail the same way)
EXAMPLES: dict[str, tuple[str, list[str]]] = {
    "expected `model`, `dag` or `grouping` to start a spec": (
        "a spec file starts with `model NAME {`, `dag NAME {` or `grouping NAME {`",
        ["modle m {}", "m {}", "{}", "3", "model"],
    ),
    "missing spec name": ("name the spec, e.g. `model nyuv2_tree {`", ["model {}", "dag {", "grouping 3 {"]),
    "missing `{` after the spec name": ("write `model NAME {`", ["model m input", "dag d (", "model m\n{"]),
    "a file holds one spec; there is text after its closing `}`": (
        "put each spec in its own file",
        ["model m {} model n {}", "model m {} }", "model m {} x"],
    ),
    "expected a model item: input, backbone, tasks, layout, branch, budget, init or weights": (
        "each line of a model is one item, e.g. `input image: float[1, 3, 224, 224]`",
        [_M + "  foo: 3\n}", _M + "  central { states: 2 }\n}", _M + "  3\n}", _M + "  network A: x trains {a} serves {a}\n}"],
    ),
    "expected a dag item: input, central, tasks, topology or budget": (
        "each line of a dag spec is one item",
        [_D + "  foo: 3\n}", _D + "  layout [ {a} ]\n}", _D + "  backbone convnet\n}"],
    ),
    "expected a grouping item: input, tasks, network or budget": (
        "each line of a grouping spec is one item, e.g. `network A: torchvision.resnet18 trains {a} serves {a}`",
        [_G + "  foo: 3\n}", _G + "  layout [ {a} ]\n}", _G + "  backbone x\n}"],
    ),
    "items must be on separate lines or separated by `;`": (
        "start a new line (or write `;`) before the next item",
        [
            "model m { input x: float[1] backbone convnet }",
            _HEAD + "  tasks { a: head linear b: head linear }\n}",
            _HEAD + "  tasks { a: head linear(classes=2) b: head linear }\n}",
            _D + "  central { states: 3 flow: 2 }\n}",
            _M + "  budget { gflops <= 3 params <= 4 }\n}",
        ],
    ),
    "missing `}` after the task list": (
        "close the `tasks {` block before the next item",
        [
            _HEAD + "  tasks { a: head linear(classes=2)\n  layout [ {a} ]\n}",
            _HEAD + "  tasks {\n    a: head linear\n  budget { gflops <= 1 }\n}",
            _HEAD + "  tasks { a: head linear(classes=2)\n",
        ],
    ),
    "missing `:` after the task name": ("write `NAME: head HEAD(...)`", [_HEAD + "  tasks { a head linear }\n}"]),
    "missing `head` before the head name": (
        "write `segment: head conv(classes=13)`",
        [_HEAD + "  tasks { a: linear(classes=2) }\n}", _HEAD + "  tasks { a: }\n}"],
    ),
    "expected a task: `NAME: head HEAD(...)`": (
        "each line of `tasks { }` declares one task",
        [_HEAD + "  tasks { 3 }\n}", _HEAD + "  tasks { {a} }\n}", _HEAD + "  tasks { a, b }\n}"],
    ),
    "missing `)` to close the argument list": (
        "write `name(key=value, ...)`",
        [
            _HEAD + "  tasks { a: head linear(classes=2 }\n}",
            _HEAD + "  tasks { a: head linear(classes=2\n}",
            "model m {\n  backbone convnet(depth=2\n}",
        ],
    ),
    "arguments are written `key=value`": (
        "e.g. `linear(classes=10)`; positional arguments are not allowed",
        [_HEAD + "  tasks { a: head linear(2) }\n}", _HEAD + "  tasks { a: head linear(classes 2) }\n}", "model m {\n  backbone convnet(3)\n}"],
    ),
    "missing value after `=`": (
        "a value is a number, a string, true/false, a name or a list `[...]`",
        [_HEAD + "  tasks { a: head linear(classes=) }\n}", _HEAD + "  tasks { a: head linear(classes=, out=1) }\n}"],
    ),
    "missing `]` to close a list": ("close the list with `]`", [_HEAD + "  tasks { a: head aspp(rates=[1, 2) }\n}"]),
    "the input reads `input NAME: DTYPE[d0, d1, ...]`": (
        "e.g. `input image: float[1, 3, 224, 224]` (batch first)",
        [
            "model m {\n  input x float[1]\n}",
            "model m {\n  input: float[1]\n}",
            "model m {\n  input x: [1, 3]\n}",
            "model m {\n  input x: float(1, 3)\n}",
            "model m {\n  input x: float[]\n}",
            "model m {\n  input x: float[1 3]\n}",
            "model m {\n  input x: float\n}",
        ],
    ),
    "the backbone reads `backbone NAME(args) { blocks: ... }`": (
        'NAME is a registered backbone (`torchvision.resnet34`, `convnet`) or "pkg.module:callable"',
        ["model m {\n  backbone { blocks: auto }\n}", "model m {\n  backbone 3\n}", "model m {\n  backbone torchvision.\n}"],
    ),
    "backbone options are `blocks:` and `allow_import:`": (
        "e.g. `backbone torchvision.resnet34 { blocks: auto(5) }`",
        ["model m {\n  backbone convnet { depth: 3 }\n}", "model m {\n  backbone convnet { auto(3) }\n}"],
    ),
    "`blocks:` takes `auto`, `auto(K)` or a list of module names `[layer1, layer2.1]`": (
        "`auto` uses every detected block; `auto(K)` picks K FLOPs-balanced blocks",
        ["model m {\n  backbone convnet { blocks: 5 }\n}", "model m {\n  backbone convnet { blocks: auto(x) }\n}", "model m {\n  backbone convnet { blocks: [] }\n}"],
    ),
    "`allow_import:` takes true or false": ("", ["model m {\n  backbone convnet { allow_import: yes }\n}"]),
    "layout rows are task sets like `{a, b} {c}`, one row per line": (
        "write one row per backbone block, e.g. `{segment, depth} {normal}`",
        [_M + "  layout [ a b ]\n}", _M + "  layout [ (a) ]\n}", _M + "  layout {a}\n}"],
    ),
    "missing `]` to close the layout": (
        "close the layout rows with `]`",
        [_M + "  layout [\n    {a}\n  budget { gflops <= 1 }\n}", _M + "  layout [\n    {a}\n}", _M + "  layout [ {a}\n"],
    ),
    "missing `,` between tasks of a set": ("write `{a, b}`", [_M + "  layout [ {a b} ]\n}", _M + "  branch after 1: {a b} | {c}\n}"]),
    "missing `}` to close a task set": (
        "close the set with `}`",
        [_M + "  layout [ {a, b ]\n}", _M + "  layout [ {a, ]\n}", _M + "  layout [ {a, b\n  ]\n}"],
    ),
    "expected a task name": ("task sets hold task names: `{segment, depth}`", [_M + "  layout [ {3} ]\n}", _M + "  layout [ {a, 3} ]\n}"]),
    "branch statements read `branch after K: {a, b} | {c}`": (
        "K is the number of blocks the group shares before it splits (0 = separate networks)",
        [
            _M + "  branch 2: {a} | {b}\n}",
            _M + "  branch after: {a} | {b}\n}",
            _M + "  branch after 2 {a} | {b}\n}",
            _M + "  branch after 2: a | b\n}",
        ],
    ),
    "a branch splits a group into two or more sets separated by `|`": (
        "e.g. `branch after 2: {segment, depth} | {normal}`",
        [_M + "  branch after 2: {a}\n}", _M + "  branch after 2: {a}, {b}\n}", _M + "  branch after 2: {a} {b}\n}"],
    ),
    "`init` reads `init backbone \"FILE.pt\"` and `weights` reads `weights \"FILE.pt\"`": (
        "file names are quoted strings",
        [_M + "  init backbone weights.pt\n}", _M + '  init "w.pt"\n}', _M + "  weights w.pt\n}"],
    ),
    "budget items read `gflops <= X`, `params <= N` or `units <= U`": (
        "e.g. `budget { gflops <= 40; params <= 60M }`",
        [
            _M + "  budget { gflops < 40 }\n}",
            _M + "  budget { gflops = 40 }\n}",
            _M + "  budget { gflops 40 }\n}",
            _M + "  budget { gflops <= }\n}",
            _M + "  budget { 40 }\n}",
            _M + "  budget gflops <= 4\n}",
        ],
    ),
    "central items are `states:`, `flow:`, `stem:` and `edge:`": (
        "e.g. `central { states: 8; flow: 3; stem: conv(out=32); edge: conv3x3 }`",
        [_D + "  central { size: 3 }\n}", _D + "  central { states 3 }\n}", _D + "  central { states: }\n}", _D + "  central { stem: 3 }\n}"],
    ),
    "topology items are `in: STATES`, `edges: i->j ...` and `out: STATES`": (
        "e.g. `topology segment { in: 1; edges: 1->2 2->3; out: 3 }`",
        [_D + "  topology a { from: 1 }\n}", _D + "  topology a { in: }\n}", _D + "  topology a { in 1 }\n}", _D + "  topology { in: 1 }\n}"],
    ),
    "edges are written `i->j`": (
        "e.g. `edges: 1->2 2->4`",
        [_D + "  topology a { edges: 1-2 }\n}", _D + "  topology a { edges: 1 2 }\n}", _D + "  topology a { edges: 1-> }\n}", _D + "  topology a { edges: 1->2, 2->3 }\n}"],
    ),
    "a network reads `network NAME: BACKBONE(width=W) trains {..} serves {..}`": (
        "e.g. `network A: torchvision.resnet18(width=0.5) trains {a, b} serves {a}`",
        [
            _G + "  network A: x trains {a}\n}",
            _G + "  network A: x serves {a}\n}",
            _G + "  network A x trains {a} serves {a}\n}",
            _G + "  network: x trains {a} serves {a}\n}",
            _G + "  network A: trains {a} serves {a}\n}",
            _G + "  network A: x trains a serves a\n}",
        ],
    ),
}


@functools.lru_cache(maxsize=1)
def _examples() -> dict[str, list[str]]:
    return {message: examples for message, (_, examples) in EXAMPLES.items()}


_FRIENDLY = {
    "_SEP": "end of line or `;`", "$END": "end of file", "NAME": "a name", "NUMBER": "a number",
    "STRING": "a quoted string", "LBRACE": "`{`", "RBRACE": "`}`", "LSQB": "`[`",
    "RSQB": "`]`", "LPAR": "`(`", "RPAR": "`)`", "COLON": "`:`", "SEMICOLON": "`;`",
    "COMMA": "`,`", "VBAR": "`|`", "EQUAL": "`=`", "DOT": "`.`", "_ARROW": "`->`",
    "_LE": "`<=`",
}


def friendly(terminal: str) -> str:
    """How to name a terminal in a message: `}` for RBRACE, `tasks` for TASKS."""
    return _FRIENDLY.get(terminal, f"`{terminal.lower()}`")


def _found(err: UnexpectedToken) -> str:
    tok = err.token
    if tok.type in ("$END", "_SEP"):
        return friendly(tok.type)
    if tok.type in ("NAME", "NUMBER", "STRING"):
        return f"{friendly(tok.type)[2:] if tok.type != 'NAME' else 'name'} `{tok.value}`"
    return friendly(tok.type)


def _span(err: UnexpectedInput, text: str) -> Span:
    if isinstance(err, UnexpectedToken) and err.token.type == "$END":
        lines = text.splitlines() or [""]
        return Span.point(len(lines), len(lines[-1]) + 1)
    tok = getattr(err, "token", None)
    if tok is not None and getattr(tok, "end_column", None) and tok.end_line == tok.line:
        return Span(tok.line, tok.column, tok.end_line, tok.end_column)
    return Span.point(err.line if err.line > 0 else 1, err.column if err.column > 0 else 1)


def describe_syntax_error(err: UnexpectedInput, text: str, parser: Lark) -> SpecError:
    """Turn a lark parse failure into a located, labelled SpecError."""
    span = _span(err, text)
    if isinstance(err, UnexpectedCharacters):
        char = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        if char == '"':
            return SpecError("unterminated string", span, 'close the string with `"` on the same line')
        shown = repr(char)[1:-1] if not char.isprintable() else char
        return SpecError(
            f"unexpected character `{shown}`",
            span,
            "names are letters, digits and `_`; comments start with `#`",
        )
    label = err.match_examples(parser.parse, _examples(), use_accepts=True)
    found = _found(err) if isinstance(err, UnexpectedToken) else "input"
    if label is not None:
        return SpecError(f"{label} (found {found})", span, EXAMPLES[label][0] or None)
    expected = sorted({friendly(t) for t in getattr(err, "expected", ()) if t != "_SEP"})
    listing = ", ".join(expected[:8]) + (", ..." if len(expected) > 8 else "")
    return SpecError(
        f"unexpected {found}" + (f"; expected {listing}" if listing else ""),
        span,
        "see the spec language reference in README.md",
    )
