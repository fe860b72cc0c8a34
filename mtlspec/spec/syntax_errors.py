"""Syntax errors that read like a person wrote them.

An LALR parser fails in a parser state on a token. Like lark's `match_examples`, we keep a
table of known-bad examples, find the example that fails in the same state on the same kind of
token, and report its message and hint ("missing `}` after the task list") instead of
"Unexpected token RBRACE". Errors no example covers fall back to "unexpected X; expected ...".

Two differences from `match_examples`, both deliberate:
- states are compared by the LALR state alone, not by the depth of the parser's stack, so an
  example written as a one-liner also labels the same mistake in a file that starts with a
  comment, or in the third task of a list rather than the first;
- the examples are parsed once per process (not once per error), so the fuzz tests can
  describe thousands of errors quickly.
Matching tiers, best first: same state, same accepted tokens and the same token (type and
text); then the same token type; then the first example in table order.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.parsers.lalr_analysis import Reduce

from mtlspec.errors import Span, SpecError

_INPUT = "  input x: float[1, 3, 8, 8]\n"
_HEAD = "model m {\n" + _INPUT + "  backbone convnet\n"
_TASKS = "  tasks { a: head linear(classes=2) }\n"
_TASKS2 = "  tasks {\n    a: head linear(classes=2)\n    b: head linear(out=1)\n  }\n"
_M = _HEAD + _TASKS
_D = "dag d {\n" + _INPUT
_G = "grouping g {\n" + _INPUT + _TASKS
_NET = "  network A: convnet trains {a} serves {a}\n"
_CENTRAL = "  central { states: 3; flow: 2; stem: conv(out=8); edge: conv3x3 }\n"


def _task(line: str) -> str:
    """A model whose second task line is `line` (multi-line task list)."""
    return _HEAD + "  tasks {\n    a: head linear(classes=2)\n    " + line + "\n  }\n}"


def _layout(rows: str) -> str:
    return _M + "  layout [\n    {a}\n    " + rows + "\n  ]\n}"


def _topo(body: str) -> str:
    return _D + _CENTRAL + "  topology a {\n    in: 1\n    " + body + "\n  }\n}"


def _central(line: str) -> str:
    return _D + "  central {\n    states: 3\n    " + line + "\n  }\n}"


def _budget(line: str) -> str:
    return _M + "  budget {\n    gflops <= 1\n    " + line + "\n  }\n}"


def _net(line: str) -> str:
    return _G + "  " + line + "\n}"


# message → (hint, examples that fail the same way). Order matters only between examples that
# fail in the same state on different tokens: the first one wins when no token matches.
EXAMPLES: dict[str, tuple[str, list[str]]] = {
    # ------------------------------------------------------------ the spec itself
    "expected `model`, `dag` or `grouping` to start a spec": (
        "a spec file starts with `model NAME {`, `dag NAME {` or `grouping NAME {`",
        ["modle m {}", "m {}", "{}", "3", "# a comment\ninput x: float[1]"],
    ),
    "missing spec name": (
        "name the spec, e.g. `model nyuv2_tree {`",
        ["model {}", "dag {", "grouping 3 {", "model\n{", "model"],
    ),
    "missing `{` after the spec name": (
        "write `model NAME {` on one line",
        ["model m input", "dag d (", "model m\n{", "grouping g", "model m [", "model m.n {"],
    ),
    "a file holds one spec; there is text after its closing `}`": (
        "put each spec in its own file; is there a `}` too many?",
        ["model m {} model n {}", "model m {} }", "model m {} x", "model m {}\n  budget {}", "model m {}\n}"],
    ),
    "missing `{` after `tasks`": (
        "write `tasks {` and one task per line",
        [
            "model m {\n  tasks\n    a: head linear\n  }\n}", "model m {\n  tasks a: head linear }\n}",
            "model m {\n  tasks tasks {\n  }\n}", "model m {\n  tasks [ a: head linear ]\n}",
        ],
    ),
    "missing `{` after `budget`": (
        "write `budget { gflops <= 40; params <= 60M }`",
        [
            _M + "  budget\n    gflops <= 1\n  }\n}", _M + "  budget gflops <= 1 }\n}",
            _M + "  budget budget { }\n}",
        ],
    ),
    "missing `{` after `central`": (
        "write `central { states: 8; flow: 3; stem: conv(out=32); edge: conv3x3 }`",
        [_D + "  central\n    states: 3\n  }\n}", _D + "  central states: 3 }\n}",
         _D + "  central central { }\n}"],
    ),
    "missing `{` after the topology's task name": (
        "write `topology TASK { in: 1; edges: 1->2; out: 2 }`",
        [_D + "  topology a\n    in: 1\n  }\n}", _D + "  topology a in: 1 }\n}",
         _D + "  topology a b { }\n}"],
    ),
    # ------------------------------------------------------------ items of a spec
    "expected a model item: input, backbone, tasks, layout, branch, budget, init or weights": (
        "each line of a model is one item, e.g. `input image: float[1, 3, 224, 224]`",
        [
            _M + "  foo: 3\n}", _M + "  central { states: 2 }\n}", _M + "  3\n}",
            _M + "  network A: x trains {a} serves {a}\n}", _M + "  {a}\n}",
            "model m { foo }", "model m {\n  [a]\n}",
        ],
    ),
    "expected a dag item: input, central, tasks, topology or budget": (
        "each line of a dag spec is one item, e.g. `topology a { in: 1; out: 2 }`",
        [
            _D + "  foo: 3\n}", _D + "  layout [ {a} ]\n}", _D + "  backbone convnet\n}",
            "dag d { foo }", _D + "  {a}\n}",
        ],
    ),
    "expected a grouping item: input, tasks, network or budget": (
        "each line of a grouping spec is one item, "
        "e.g. `network A: torchvision.resnet18 trains {a} serves {a}`",
        [
            _G + "  foo: 3\n}", _G + "  layout [ {a} ]\n}", _G + "  backbone x\n}",
            "grouping g { foo }", _G + "  {a}\n}",
        ],
    ),
    "missing `}` at the end of the spec": (
        "close the spec's `{` at the end of the file",
        [_M, _M + "  budget { gflops <= 1 }", _D, _G, _G + "  budget { gflops <= 1 }",
         _M + "  {\n", _D + "  {\n", _G + "  {\n"],
    ),
    "items must be on separate lines or separated by `;`": (
        "start a new line (or write `;`) before the next item",
        [
            "model m { input x: float[1] backbone convnet }",
            _HEAD + "  tasks { a: head linear b: head linear }\n}",
            _HEAD + "  tasks { a: head linear(classes=2) b: head linear }\n}",
            _D + "  central { states: 3 flow: 2 }\n}",
            _D + "  central { stem: conv(out=3) flow: 2 }\n}",
            _D + "  central { stem: conv flow: 2 }\n}",
            _M + "  budget { gflops <= 3 params <= 4 }\n}",
            _HEAD + "  tasks { a: head linear } layout [ {a} ]\n}",
            _M + "  layout [ {a} ] budget { gflops <= 1 }\n}",
            _M + "  budget { gflops <= 1 } init backbone \"w.pt\"\n}",
            _M + '  init backbone "w.pt" weights "w.pt"\n}',
            "model m {\n  backbone convnet tasks { a: head linear }\n}",
            "model m {\n  backbone convnet(depth=2) tasks { a: head linear }\n}",
            "model m {\n  backbone convnet { blocks: auto } tasks { a: head linear }\n}",
            "model m {\n  backbone convnet { blocks: auto allow_import: true }\n}",
            "model m {\n  backbone convnet { blocks: auto(3) allow_import: true }\n}",
            "model m {\n  backbone convnet { blocks: [a] allow_import: true }\n}",
            "model m {\n  backbone convnet { allow_import: true blocks: auto }\n}",
            _M + "  branch after 1: {a} | {b} budget { gflops <= 1 }\n}",
            _D + _CENTRAL + "  topology a { in: 1 edges: 1->2 }\n}",
            _D + _CENTRAL + "  topology a { in: 1; edges: 1->2 out: 2 }\n}",
            _D + _CENTRAL + "  topology a { in: 1 } tasks { a: head linear }\n}",
            _G + "  network A: x trains {a} serves {a} network B: x trains {a} serves {a}\n}",
            "model m { input x: float[1] tasks { a: head linear } }",
        ],
    ),
    # ------------------------------------------------------------ tasks
    "missing `}` after the task list": (
        "close the `tasks {` block before the next item",
        [
            _HEAD + "  tasks { a: head linear(classes=2)\n  layout [ {a} ]\n}",
            _HEAD + "  tasks {\n    a: head linear\n  budget { gflops <= 1 }\n}",
            _HEAD + "  tasks {\n    a: head linear(out=1)\n    b: head linear(out=1)\n"
            "  layout [ {a, b} ]\n}",
            _HEAD + "  tasks {\n    a: head linear(out=1)\n  layout [ {a} ]\n}",
            _HEAD + "  tasks { a: head linear(classes=2)\n",
            _HEAD + "  tasks {\n    a: head linear(out=1)\n    b: head linear(out=1)\n",
            _HEAD + "  tasks {\n",
            _HEAD + "  tasks {\n  layout [ {a} ]\n}",
        ],
    ),
    "missing `:` after the task name": (
        "write `NAME: head HEAD(...)`",
        [_HEAD + "  tasks { a head linear }\n}", _task("b head linear(out=1)"), _task("b")],
    ),
    "missing `head` before the head name": (
        "write `segment: head conv(classes=13)`",
        [
            _HEAD + "  tasks { a: linear(classes=2) }\n}", _HEAD + "  tasks { a: }\n}",
            _task("b: linear(out=1)"), _task("b:"), _task("b: (out=1)"),
        ],
    ),
    "missing the head's name after `head`": (
        "e.g. `segment: head conv(classes=13)`; heads are linear, conv, aspp and mlp",
        [_task("b: head (out=1)"), _task("b: head"), _HEAD + "  tasks { a: head }\n}"],
    ),
    "expected a task: `NAME: head HEAD(...)`": (
        "each line of `tasks { }` declares one task",
        [
            _HEAD + "  tasks { 3 }\n}", _HEAD + "  tasks { {a} }\n}",
            _HEAD + "  tasks { a, b }\n}", _task("3: head linear"), _task(": head linear(out=1)"),
            _task("(out=1)"), _HEAD + "  tasks {\n    : head linear\n  }\n}",
        ],
    ),
    # ------------------------------------------------------------ calls and values
    "missing `)` to close the argument list": (
        "write `name(key=value, ...)`",
        [
            _HEAD + "  tasks { a: head linear(classes=2 }\n}",
            _HEAD + "  tasks { a: head linear(classes=2\n}",
            "model m {\n  backbone convnet(depth=2\n}",
            _task("b: head linear(out=1\n    c: head linear(out=1)"),
            _task("b: head linear(out=1, rates=[1, 2]\n    c: head linear(out=1)"),
            _task("b: head linear(\n  }"),
            _task("b: head linear(out=1,\n  }"),
            _net("network A: x(width=1 trains {a} serves {a}"),
        ],
    ),
    "missing `,` between arguments": (
        "write `name(key=value, key=value)`",
        [
            _task("b: head linear(out=1 dropout=0.5)"),
            _task('b: head linear(out="x" dropout=0.5)'),
            _task("b: head linear(out=x dropout=0.5)"),
            _task("b: head linear(out=true dropout=0.5)"),
            _task("b: head linear(out=[1] dropout=0.5)"),
        ],
    ),
    "arguments are written `key=value`": (
        "e.g. `linear(classes=10)`; positional arguments are not allowed",
        [
            _HEAD + "  tasks { a: head linear(2) }\n}",
            _HEAD + "  tasks { a: head linear(classes 2) }\n}",
            "model m {\n  backbone convnet(3)\n}", _task("b: head linear(out=1, 2)"),
            _task("b: head linear(out: 1)"), _task("b: head linear(=1)"),
            _task("b: head linear(out=1,, hidden=2)"), _task("b: head linear(out)"),
            _task("b: head linear(,out=1)"), _task("b: head linear(out=1, =2)"),
        ],
    ),
    "missing value after `=`": (
        "a value is a number, a string, true/false, a name or a list `[...]`",
        [
            _HEAD + "  tasks { a: head linear(classes=) }\n}",
            _HEAD + "  tasks { a: head linear(classes=, out=1) }\n}",
            _task("b: head linear(out==1)"), _task("b: head linear(out=(1))"),
            _task("b: head linear(out=\n  }"), _task("b: head linear(out={a})"),
        ],
    ),
    "missing `,` between list items": (
        "write lists as `[6, 12, 18]`",
        [_task("b: head aspp(out=1, rates=[6 12])"), _task("b: head aspp(out=1, rates=[a b])")],
    ),
    "missing `]` to close a list": (
        "close the list with `]`",
        [
            _HEAD + "  tasks { a: head aspp(rates=[1, 2) }\n}",
            _task("b: head aspp(out=1, rates=[6, 12)"),
            _task("b: head aspp(out=1, rates=[6, 12, ) }"),
            _task("b: head aspp(out=1, rates=[6, 12, ="),
            _task("b: head aspp(out=1, rates=[6, =]"),
            _task("b: head aspp(out=1, rates=[=]"),
        ],
    ),
    # ------------------------------------------------------------ input
    "missing `]` to close the input shape": (
        "e.g. `input image: float[1, 3, 224, 224]`",
        [
            "model m {\n  input x: float[1, 3\n}", "model m {\n  input x: float[1, 3,\n}",
            "model m {\n  input x: float[1, 3)\n}", "model m {\n  input x: float[1, 3}\n}",
            "model m {\n  input x: float[1 backbone convnet\n}",
        ],
    ),
    "missing `,` between the dimensions of the input shape": (
        "e.g. `input image: float[1, 3, 224, 224]`",
        ["model m {\n  input x: float[1 3]\n}", "model m {\n  input x: float[1, 3 8]\n}"],
    ),
    "the input reads `input NAME: DTYPE[d0, d1, ...]`": (
        "e.g. `input image: float[1, 3, 224, 224]` (batch first)",
        [
            "model m {\n  input x float[1]\n}", "model m {\n  input: float[1]\n}",
            "model m {\n  input x: [1, 3]\n}", "model m {\n  input x: float(1, 3)\n}",
            "model m {\n  input x: float[]\n}", "model m {\n  input x: float\n}",
            "model m {\n  input x: float[, 3]\n}", "model m {\n  input x: float[1,, 3]\n}",
            "model m {\n  input\n}", "model m {\n  input x\n}", "model m {\n  input x:\n}",
            "model m {\n  input x: float[a]\n}", "model m {\n  input x: float[1, a]\n}",
            "model m {\n  input input x: float[1]\n}", "model m {\n  input x: 3\n}",
        ],
    ),
    # ------------------------------------------------------------ backbone
    'expected a backbone name like `torchvision.resnet34`, `convnet` or "pkg.module:callable"': (
        "see `mtlspec blocks --list` for the registered backbones",
        [
            "model m {\n  backbone torchvision.\n}", "model m {\n  backbone torchvision..resnet34\n}",
            _net("network A: x."), _net("network A: x.3 trains {a} serves {a}"),
            "model m {\n  backbone torchvision.3\n}",
        ],
    ),
    "the backbone reads `backbone NAME(args) { blocks: ... }`": (
        'NAME is a registered backbone (`torchvision.resnet34`, `convnet`) or "pkg.module:callable"',
        [
            "model m {\n  backbone { blocks: auto }\n}", "model m {\n  backbone 3\n}",
            "model m {\n  backbone\n}",
            "model m {\n  backbone (depth=2)\n}", "model m {\n  backbone .resnet34\n}",
            "model m {\n  backbone convnet:x\n}", "model m {\n  backbone convnet 3\n}",
            "model m {\n  backbone convnet(depth=2) 3\n}",
            "model m {\n  backbone convnet(depth=2) (width=2)\n}",
            "model m {\n  backbone convnet { blocks: auto } 3\n}",
        ],
    ),
    "backbone options are `blocks:` and `allow_import:`": (
        "e.g. `backbone torchvision.resnet34 { blocks: auto(5) }`",
        [
            "model m {\n  backbone convnet { depth: 3 }\n}",
            "model m {\n  backbone convnet { auto(3) }\n}",
            "model m {\n  backbone convnet {\n    blocks: auto\n    depth: 3\n  }\n}",
            "model m {\n  backbone convnet { blocks auto }\n}",
            "model m {\n  backbone convnet { allow_import true }\n}",
        ],
    ),
    "missing `}` after the backbone options": (
        "close the backbone's `{` before the next item",
        [
            "model m {\n  backbone convnet { blocks: auto(3)\n  tasks { a: head linear }\n}",
            "model m {\n  backbone convnet {\n    blocks: auto(3)\n  tasks { a: head linear }\n}",
            "model m {\n  backbone convnet { blocks: auto\n  tasks { a: head linear }\n}",
            "model m {\n  backbone convnet { blocks: [a]\n  tasks { a: head linear }\n}",
            "model m {\n  backbone convnet {\n  tasks { a: head linear }\n}",
            "model m {\n  backbone convnet { allow_import: true\n  tasks { a: head linear }\n}",
            "model m {\n  backbone convnet {\n    blocks: auto(3)\n",
        ],
    ),
    "`blocks:` takes `auto`, `auto(K)` or a list of module names `[layer1, layer2.1]`": (
        "`auto` uses every detected block; `auto(K)` picks K FLOPs-balanced blocks",
        [
            "model m {\n  backbone convnet { blocks: 5 }\n}",
            "model m {\n  backbone convnet { blocks: auto(x) }\n}",
            "model m {\n  backbone convnet { blocks: [] }\n}",
            "model m {\n  backbone convnet { blocks: auto 5 }\n}",
            "model m {\n  backbone convnet { blocks: auto(5 }\n}",
            "model m {\n  backbone convnet { blocks: auto() }\n}",
            "model m {\n  backbone convnet { blocks: [a b] }\n}",
            "model m {\n  backbone convnet { blocks: [a, 3] }\n}",
            "model m {\n  backbone convnet { blocks: [a.1 b] }\n}",
            'model m {\n  backbone convnet { blocks: ["a" b] }\n}',
            "model m {\n  backbone convnet { blocks: [a, ,] }\n}",
            "model m {\n  backbone convnet { blocks: }\n}",
            "model m {\n  backbone convnet { blocks: [a }\n}",
        ],
    ),
    "`allow_import:` takes true or false": (
        "",
        [
            "model m {\n  backbone convnet { allow_import: yes }\n}",
            "model m {\n  backbone convnet { allow_import: }\n}",
            "model m {\n  backbone convnet { allow_import: true false }\n}",
            "model m {\n  backbone convnet {\n    blocks: auto\n    allow_import: true false\n  }\n}",
        ],
    ),
    # ------------------------------------------------------------ layout
    "layout rows are task sets like `{a, b} {c}`, one row per line": (
        "write one row per backbone block, e.g. `{segment, depth} {normal}`",
        [
            _M + "  layout [ a b ]\n}", _M + "  layout [ (a) ]\n}", _M + "  layout {a}\n}",
            _layout("a"), _layout("{a} b"), _layout("{a} | {b}"), _layout("{a}, {b}"),
            _M + "  layout\n}", _M + "  layout [ [a] ]\n}",
        ],
    ),
    "missing `]` to close the layout": (
        "close the layout rows with `]`",
        [
            _M + "  layout [\n    {a}\n  budget { gflops <= 1 }\n}", _M + "  layout [\n    {a}\n}",
            _M + "  layout [ {a}\n", _M + "  layout [\n    {a}\n    {a}\n  budget {}\n}",
            _M + "  layout [\n    {a} {b}\n  budget {}\n}", _M + "  layout [\n    {a}\n    {a}\n}",
            _M + "  layout [\n  budget {}\n}", _M + "  layout [\n",
        ],
    ),
    "missing `,` between tasks of a set": (
        "write `{a, b}`",
        [
            _M + "  layout [ {a b} ]\n}", _M + "  branch after 1: {a b} | {c}\n}",
            _layout("{a, b c}"), _layout("{a} {b c}"),
        ],
    ),
    "missing `}` to close a task set": (
        "close the set with `}`",
        [
            _M + "  layout [ {a, b ]\n}", _M + "  layout [ {a, ]\n}",
            _M + "  layout [ {a, b\n  ]\n}", _layout("{a, b\n    {c}"), _layout("{a,\n    {c}"),
            _layout("{a, b {c}"), _layout("{a {c}"),
        ],
    ),
    "expected a task name": (
        "task sets hold task names: `{segment, depth}`",
        [
            _M + "  layout [ {3} ]\n}", _M + "  layout [ {a, 3} ]\n}", _layout("{a, , b}"),
            _layout("{, a}"), _layout("{{a}}"),
        ],
    ),
    # ------------------------------------------------------------ branch, init, weights
    "branch statements read `branch after K: {a, b} | {c}`": (
        "K is the number of blocks the group shares before it splits (0 = separate networks)",
        [
            _M + "  branch 2: {a} | {b}\n}", _M + "  branch after: {a} | {b}\n}",
            _M + "  branch after 2 {a} | {b}\n}", _M + "  branch after 2: a | b\n}",
            _M + "  branch\n}", _M + "  branch after\n}", _M + "  branch after 2\n}",
            _M + "  branch after 2:\n}", _M + "  branch after 2: {a} |\n}",
            _M + "  branch after 2: {a} | b\n}", _M + "  branch after x: {a} | {b}\n}",
        ],
    ),
    "a branch splits a group into two or more sets separated by `|`": (
        "e.g. `branch after 2: {segment, depth} | {normal}`",
        [
            _M + "  branch after 2: {a}\n}", _M + "  branch after 2: {a}, {b}\n}",
            _M + "  branch after 2: {a} {b}\n}", _M + "  branch after 2: {a} | {b} {c}\n}",
            _M + "  branch after 2: {a} | {b}, {c}\n}",
        ],
    ),
    '`init` reads `init backbone "FILE.pt"` and `weights` reads `weights "FILE.pt"`': (
        "file names are quoted strings",
        [
            _M + "  init backbone weights.pt\n}", _M + '  init "w.pt"\n}',
            _M + "  weights w.pt\n}", _M + "  init\n}", _M + "  init backbone\n}",
            _M + "  weights\n}", _M + '  weights "a" "b"\n}', _M + '  init backbone "a" "b"\n}',
        ],
    ),
    # ------------------------------------------------------------ budget
    "budget items read `gflops <= X`, `params <= N` or `units <= U`": (
        "e.g. `budget { gflops <= 40; params <= 60M }`",
        [
            _M + "  budget { gflops = 40 }\n}", _M + "  budget { gflops 40 }\n}",
            _M + "  budget { gflops <= }\n}", _M + "  budget { 40 }\n}",
            _budget("params 40"), _budget("params <="),
            _budget("<= 40"), _budget("params <= 40 50"), _budget("params <= 4 <= 5"),
            _budget("params <= x"), _budget("params: 40"), _budget("params <= <= 4"),
            _M + "  budget { gflops <= 1; <= 4 }\n}",
        ],
    ),
    "missing `}` after the budget": (
        "close the `budget {` block",
        [
            _M + "  budget {\n    gflops <= 1\n",
            _M + "  budget {\n    gflops <= 1\n  init backbone \"a\"\n}",
            _M + "  budget {\n  weights \"a\"\n}",
        ],
    ),
    # ------------------------------------------------------------ DAG specs
    "central items are `states:`, `flow:`, `stem:` and `edge:`": (
        "e.g. `central { states: 8; flow: 3; stem: conv(out=32); edge: conv3x3 }`",
        [
            _D + "  central { size: 3 }\n}", _D + "  central { states 3 }\n}",
            _D + "  central { states: }\n}", _D + "  central { stem: 3 }\n}",
            _central("flow 2"), _central("flow:"), _central("flow: x"), _central("stem: 3"),
            _central("stem:"), _central("stem conv"), _central("stem stem: conv"), _central("edge conv3x3"), _central("edge:"), _central("3"),
            _central("flow: 2 3"), _central("stem: conv 3"), _central("stem: conv(out=1) 3"),
            _central(": 3"),
        ],
    ),
    "missing `}` after the central network": (
        "close the `central {` block before the next item",
        [
            _D + "  central { states: 3\n  tasks { a: head linear }\n}",
            _D + "  central {\n    states: 3\n  tasks { a: head linear }\n}",
            _D + "  central {\n    stem: conv(out=3)\n  tasks { a: head linear }\n}",
            _D + "  central {\n    stem: conv\n  tasks { a: head linear }\n}",
            _D + "  central {\n  tasks { a: head linear }\n}",
            _D + "  central {\n    states: 3\n",
        ],
    ),
    "topology items are `in: STATES`, `edges: i->j ...` and `out: STATES`": (
        "e.g. `topology segment { in: 1; edges: 1->2 2->3; out: 3 }`",
        [
            _D + "  topology a { from: 1 }\n}", _D + "  topology a { in: }\n}",
            _D + "  topology a { in 1 }\n}", _D + "  topology { in: 1 }\n}",
            _topo("out 2"), _topo("out:"), _topo("out: a"), _topo("edges 1->2"),
            _topo("3"), _topo("in: 1 a"), _topo("out: 2 :"), 
            _D + "  topology\n}", _topo("out: 2, 3"),
            _topo("in: 1, 2"),
        ],
    ),
    "missing `}` after the topology": (
        "close the `topology NAME {` block before the next item",
        [
            _D + _CENTRAL + "  topology a { in: 1\n  budget { gflops <= 1 }\n}",
            _D + _CENTRAL + "  topology a {\n    in: 1\n    out: 2\n  budget {}\n}",
            _D + _CENTRAL + "  topology a {\n    in: 1\n  topology b { in: 1 }\n}",
            _D + _CENTRAL + "  topology a {\n    edges: 1->2\n  budget {}\n}",
            _D + _CENTRAL + "  topology a {\n    edges:\n  budget {}\n}",
            _D + _CENTRAL + "  topology a {\n  budget {}\n}",
            _D + _CENTRAL + "  topology a {\n    in: 1\n",
        ],
    ),
    "edges are written `i->j`": (
        "e.g. `edges: 1->2 2->4`",
        [
            _D + "  topology a { edges: 1-2 }\n}", _D + "  topology a { edges: 1 2 }\n}",
            _D + "  topology a { edges: 1-> }\n}", _D + "  topology a { edges: 1->2, 2->3 }\n}",
            _topo("edges: 1->2 3"), _topo("edges: 1->2 ->3"), _topo("edges: ->2"),
            _topo("edges: 1->->2"), _topo("edges: 1->2->3"), _topo("edges: 1->x"),
            _topo("edges: 1 -> 2 x"), _topo("edges: 1\n    out: 2"),
        ],
    ),
    # ------------------------------------------------------------ grouping specs
    "a network reads `network NAME: BACKBONE(width=W) trains {..} serves {..}`": (
        "e.g. `network A: torchvision.resnet18(width=0.5) trains {a, b} serves {a}`",
        [
            _G + "  network A: x trains {a}\n}", _G + "  network A: x serves {a}\n}",
            _G + "  network A x trains {a} serves {a}\n}",
            _G + "  network: x trains {a} serves {a}\n}",
            _G + "  network A: trains {a} serves {a}\n}",
            _G + "  network A: x trains a serves a\n}",
            _net("network A: x trains {a} serves a"), _net("network A: x(width=1) {a} serves {a}"),
            _net("network A: x trains {a} {a}"), _net("network A: x trains serves {a}"),
            _net("network A: x.y trains {a} {a}"), _net('network A: "x" {a}'),
            _net("network A: x trains {a} serves"), _net("network A: x trains trains {a} serves {a}"), _net("network"), _net("network A"),
            _net("network A:"), _net("network A: x trains"),
            _net("network A: x trains {a} serves {a} {b}"),
        ],
    ),
}

_FRIENDLY = {
    "_SEP": "end of line", "$END": "end of file", "NAME": "a name", "NUMBER": "a number",
    "STRING": "a quoted string", "LBRACE": "`{`", "RBRACE": "`}`", "LSQB": "`[`",
    "RSQB": "`]`", "LPAR": "`(`", "RPAR": "`)`", "COLON": "`:`", "SEMICOLON": "`;`",
    "COMMA": "`,`", "VBAR": "`|`", "EQUAL": "`=`", "DOT": "`.`", "_ARROW": "`->`",
    "_LE": "`<=`",
}
# Characters that are no token anywhere, with what the writer probably meant.
_CHAR_HINTS = {
    '"': ("unterminated string", 'close the string with `"` on the same line'),
    "'": ("unexpected character `'`", 'strings are written in double quotes: "file.pt"'),
    "<": ("unexpected character `<`", "budgets are written `gflops <= 40`"),
    ">": ("unexpected character `>`", "edges are written `i->j`; budgets `gflops <= 40`"),
    "-": ("unexpected character `-`", "edges are written `i->j` with no space in `->`"),
}
# Labels that only fit when an example found the same kind of token: "items must be on
# separate lines" fits a name or keyword after a complete item, not a stray `=`.
_NEEDS_SAME_TOKEN = {"items must be on separate lines or separated by `;`"}
_NOT_SPACE = re.compile(r"[^\s;]")
_COMMENT = re.compile(r"#[^\n]*")


def friendly(terminal: str) -> str:
    """How to name a terminal in a message: `}` for RBRACE, `tasks` for TASKS."""
    return _FRIENDLY.get(terminal, f"`{terminal.lower()}`")


def _found(err: UnexpectedToken) -> str:
    tok = err.token
    if tok.type == "_SEP":
        return "`;`" if tok.value.strip(" \t\f\r").startswith(";") else friendly("_SEP")
    if tok.type == "$END":
        return friendly(tok.type)
    if tok.type == "NAME":
        return f"name `{tok.value}`"
    if tok.type in ("NUMBER", "STRING"):
        shown = tok.value if len(tok.value) <= 40 else tok.value[:37] + "..."
        return f"{friendly(tok.type)[2:]} `{shown}`"
    return friendly(tok.type)


def _span(err: UnexpectedInput, text: str) -> Span:
    if isinstance(err, UnexpectedToken) and err.token.type == "$END":
        lines = text.splitlines() or [""]
        return Span.point(len(lines), len(lines[-1]) + 1)
    tok = getattr(err, "token", None)
    if isinstance(err, UnexpectedToken) and tok.type == "_SEP":
        # A separator runs from the end of one item to the start of the next; point at the
        # end of the line (or at the `;`), where the item was cut short.
        offset = len(tok.value) - len(tok.value.lstrip(" \t\f\r"))
        return Span.point(tok.line, tok.column + offset)
    if tok is not None and getattr(tok, "end_column", None) and tok.end_line == tok.line:
        return Span(tok.line, tok.column, tok.end_line, tok.end_column)
    line = err.line if isinstance(err.line, int) and err.line > 0 else 1
    column = err.column if isinstance(err.column, int) and err.column > 0 else 1
    return Span.point(line, column)


@dataclass(frozen=True)
class _Key:
    """How a parse fails: where the parser stands, what it accepts there, what it found.

    `state` is the LALR state; `tail` the last two grammar symbols before the failure (helper
    rules for `*`/`+` left out), which names the place in the grammar without the state's
    accidents: `{a, b, ,` and `{a, ,` fail in different states (first or later repetition),
    as do `network A: x trains {a} {a}` and `network A: x(width=1) trains {a} {a}` (one
    state per expansion of an optional part), but their tails and accepted tokens agree.
    `token_type` ends in `@nl` when the token starts a line: inside `( )`, `[ ]` and task
    sets newlines are dropped, so an unclosed bracket shows up on the next line.
    """

    state: object
    tail: tuple[str, ...]
    accepts: frozenset[str] | None  # None for an unexpected character
    token_type: str | None
    token_value: str | None


_HELPER_RULE = re.compile(r"__\w+_(star|plus)_\d+\Z")


def _symbol(value: object) -> str:
    data = getattr(value, "data", None)
    return str(data) if data is not None else str(getattr(value, "type", type(value).__name__))


def _settle(parser_state: object) -> tuple[object, tuple[str, ...]]:
    """The LALR state and symbol tail after the reductions the parser makes on any token.

    An error found just after a complete construct (`{a, b}` then a stray name) surfaces in a
    reduce-only state that LALR shares between every context the construct appears in, and
    whose number depends on the construct's inner shape (`{a}` or `{a, b}`). Performing those
    reductions lands in the state of the enclosing context (a layout row, a `trains` set).
    """
    stack = list(getattr(parser_state, "state_stack", ()) or ())
    symbols = [_symbol(v) for v in getattr(parser_state, "value_stack", ()) or ()]
    conf = getattr(parser_state, "parse_conf", None)
    if not stack or conf is None:
        return getattr(parser_state, "position", parser_state), ()
    for _ in range(64):  # a reduction chain is a few steps; the bound only guards the loop
        actions = conf.states.get(stack[-1], {})
        rules = {arg for action, arg in actions.values() if action is Reduce}
        if len(rules) != 1 or any(action is not Reduce for action, _ in actions.values()):
            break
        rule = next(iter(rules))
        size = len(rule.expansion)
        if size >= len(stack) or size > len(symbols):
            break
        rest = stack[: len(stack) - size]
        goto = conf.states.get(rest[-1], {}).get(rule.origin.name)
        if goto is None:
            break
        stack = [*rest, goto[1]]
        symbols = [*symbols[: len(symbols) - size], rule.origin.name]
    tail = tuple(sym for sym in symbols if not _HELPER_RULE.match(sym))[-2:]
    return stack[-1], tail


def _starts_line(text: str, pos: int | None) -> bool:
    if pos is None or pos <= 0:
        return False
    return text[text.rfind("\n", 0, pos) + 1 : pos].strip() == "" and "\n" in text[:pos]


def _key(err: UnexpectedInput, text: str) -> _Key:
    state, tail = _settle(err.state)
    if not isinstance(err, UnexpectedToken):
        return _Key(state, tail, None, None, None)
    accepts = err.accepts if err.interactive_parser is not None else err.expected
    kind = err.token.type
    if kind not in ("$END", "_SEP") and _starts_line(text, err.token.start_pos):
        kind += "@nl"
    return _Key(state, tail, frozenset(accepts or ()), kind, str(err.token))


@functools.lru_cache(maxsize=4)
def example_keys(parser: Lark) -> tuple[tuple[str, _Key], ...]:
    """(label, how it fails) for every example of the table, parsed once per parser.

    An example that does not fail (a bug in the table, caught by the tests) is skipped.
    """
    out = []
    for label, (_, examples) in EXAMPLES.items():
        for example in examples:
            try:
                parser.parse(example)
            except UnexpectedInput as err:
                out.append((label, _key(err, example)))
            except SpecError:
                pass
    return tuple(out)


def _same_token(key: _Key, candidates: list[tuple[str, _Key]]) -> str | None:
    """The label of a candidate that found the same token, else the same kind of token."""
    same_type = None
    for label, ex in candidates:
        if key.token_type is not None and ex.token_type == key.token_type:
            if ex.token_value == key.token_value:
                return label
            same_type = same_type or label
    return same_type


def match(err: UnexpectedInput, text: str, parser: Lark) -> tuple[str, bool] | None:
    """The table's label for a parse failure and whether an example found the same kind of
    token there; None when no example fails that way.

    Candidates are examples that accept the same tokens and fail in the same LALR state, or
    else after the same two grammar symbols, or else after the same one (see `_Key`). The
    first tier with an example that found the same kind of token wins; failing that, the
    first candidate of the first tier that has one.
    """
    key = _key(err, text)

    def accepts_agree(ex: _Key) -> bool:
        return key.accepts is None or ex.accepts is None or ex.accepts == key.accepts

    keys = [(label, ex) for label, ex in example_keys(parser) if accepts_agree(ex)]
    tiers = [[(label, ex) for label, ex in keys if ex.state == key.state]]
    for size in (2, 1):
        if len(key.tail) >= size:
            tiers.append([(lb, ex) for lb, ex in keys if ex.tail[-size:] == key.tail[-size:]])
    for tier in tiers:
        label = _same_token(key, tier)
        if label is not None:
            return label, True
    for tier in tiers:
        if tier and tier[0][0] not in _NEEDS_SAME_TOKEN:
            return tier[0][0], False
    return None


def label_of(err: UnexpectedInput, text: str, parser: Lark) -> str | None:
    """The table's label for a parse failure, or None (see `match`)."""
    found = match(err, text, parser)
    return found[0] if found else None


_BRACKETS = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|[()\[\]{}]')
_OPENER = {")": "(", "]": "[", "}": "{"}


def open_brackets(text: str, pos: int) -> list[tuple[str, int, int]]:
    """The brackets still open at offset `pos`: (bracket, line, column), innermost last."""
    stack: list[tuple[str, int, int]] = []
    for found in _BRACKETS.finditer(text, 0, pos):
        char = found.group()
        if char in "([{":
            line = text.count("\n", 0, found.start()) + 1
            stack.append((char, line, found.start() - text.rfind("\n", 0, found.start())))
        elif char in _OPENER:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == _OPENER[char]:
                    del stack[i:]
                    break
    return stack


def _is_blank(text: str) -> bool:
    return _NOT_SPACE.search(_COMMENT.sub("", text)) is None


def _still_open(label: str, hint: str, text: str, err: UnexpectedInput) -> str:
    """Add where the bracket a "missing `)`" label is about was opened, if on an earlier line."""
    pos = getattr(err, "pos_in_stream", None)
    if not label.startswith(("missing `)`", "missing `]`", "missing `}`")) or pos is None:
        return hint
    want = _OPENER[label[9]]
    for char, line, column in reversed(open_brackets(text, pos)):
        if char == want:
            if line < err.line:
                return f"{hint}; the `{char}` at line {line}, column {column} is never closed"
            break
    return hint


def describe_syntax_error(err: UnexpectedInput, text: str, parser: Lark) -> SpecError:
    """Turn a lark parse failure into a located, labelled SpecError.

    Args:
        err: what lark raised.
        text: the text that was parsed.
        parser: the parser that raised it (the examples are parsed with it too).

    Returns:
        The error, with a span but no file name (see `SpecError.located`).

    Example:
        >>> describe_syntax_error(err, text, _parser()).message  # doctest: +SKIP
        'missing `}` after the task list (found `layout`)'
    """
    span = _span(err, text)
    if _is_blank(text):
        return SpecError(
            "the file holds no spec" + (" (only comments)" if "#" in text else ""),
            Span.point(1, 1),
            "a spec starts with `model NAME {`, `dag NAME {` or `grouping NAME {`",
        )
    if isinstance(err, UnexpectedCharacters):
        char = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        if char in _CHAR_HINTS:
            message, hint = _CHAR_HINTS[char]
            return SpecError(message, span, hint)
        shown = char if char.isprintable() else repr(char)[1:-1]
        return SpecError(
            f"unexpected character `{shown}`",
            span,
            "names are letters, digits and `_`; comments start with `#`",
        )
    found = _found(err) if isinstance(err, UnexpectedToken) else "input"
    matched = match(err, text, parser)
    closer = str(err.token) if isinstance(err, UnexpectedToken) else ""
    if closer in _OPENER and not (matched and matched[1]):
        if not any(char == _OPENER[closer] for char, _, _ in open_brackets(text, err.pos_in_stream)):
            return SpecError(
                f"unmatched `{closer}`: no `{_OPENER[closer]}` is open here",
                span,
                "remove it, or add the bracket it was meant to close",
            )
    if matched is not None:
        label = matched[0]
        hint = _still_open(label, EXAMPLES[label][0], text, err)
        return SpecError(f"{label} (found {found})", span, hint or None)
    accepts = getattr(err, "accepts", None) if getattr(err, "interactive_parser", None) else None
    options = accepts or getattr(err, "expected", None) or ()
    expected = sorted({friendly(t) for t in options if t != "_SEP"})
    listing = ", ".join(expected[:8]) + (", ..." if len(expected) > 8 else "")
    return SpecError(
        f"unexpected {found}" + (f"; expected {listing}" if listing else ""),
        span,
        "see the spec language reference in README.md",
    )
