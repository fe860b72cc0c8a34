"""The table behind the syntax error messages: label → (hint, known-bad examples).

Each example is a small spec that fails to parse the way a person's spec does when they make
the mistake the label names. `syntax_errors` parses the examples once and labels a real
failure with the example that fails in the same place (see its docstring for how "the same
place" is decided). To teach the parser a new message: add the label here with a few
examples, including multi-line ones (the first and the later items of a list fail in
different LALR states), and run tests/spec/test_syntax_examples.py, which checks that every
example fails with its own label.

Example texts are built from the prefixes below so that everything before the mistake is
valid; the order of labels matters only between examples that fail in the same state on
different tokens (the first one wins when no example found the same kind of token).
"""

from __future__ import annotations

_INPUT = "  input x: float[1, 3, 8, 8]\n"
_HEAD = "model m {\n" + _INPUT + "  backbone convnet\n"
_TASKS = "  tasks { a: head linear(classes=2) }\n"
_M = _HEAD + _TASKS
_D = "dag d {\n" + _INPUT
_G = "grouping g {\n" + _INPUT + _TASKS
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
    return _M + "  budget {\n    gmacs <= 1\n    " + line + "\n  }\n}"


def _net(line: str) -> str:
    return _G + "  " + line + "\n}"


# message → (hint, examples that fail the same way)
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
        [
            "model m {} model n {}", "model m {} }", "model m {} x", "model m {}\n  budget {}",
            "model m {}\n}",
        ],
    ),
    "missing `{` after `tasks`": (
        "write `tasks {` and one task per line",
        [
            "model m {\n  tasks\n    a: head linear\n  }\n}",
            "model m {\n  tasks a: head linear }\n}",
            "model m {\n  tasks tasks {\n  }\n}", "model m {\n  tasks [ a: head linear ]\n}",
        ],
    ),
    "missing `{` after `budget`": (
        "write `budget { gmacs <= 40; params <= 60M }`",
        [
            _M + "  budget\n    gmacs <= 1\n  }\n}", _M + "  budget gmacs <= 1 }\n}",
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
            _M + "  network A: x trains {a} serves {a}\n}", _M + "  {a}\n}", _M + "  {\n",
            "model m { foo }", "model m {\n  [a]\n}",
        ],
    ),
    "expected a dag item: input, central, tasks, topology or budget": (
        "each line of a dag spec is one item, e.g. `topology a { in: 1; out: 2 }`",
        [
            _D + "  foo: 3\n}", _D + "  layout [ {a} ]\n}", _D + "  backbone convnet\n}",
            "dag d { foo }", _D + "  {a}\n}", _D + "  {\n",
        ],
    ),
    "expected a grouping item: input, tasks, network or budget": (
        "each line of a grouping spec is one item, "
        "e.g. `network A: torchvision.resnet18 trains {a} serves {a}`",
        [
            _G + "  foo: 3\n}", _G + "  layout [ {a} ]\n}", _G + "  backbone x\n}",
            "grouping g { foo }", _G + "  {a}\n}", _G + "  {\n",
        ],
    ),
    "missing `}` at the end of the spec": (
        "close the spec's `{` at the end of the file",
        [_M, _M + "  budget { gmacs <= 1 }", _D, _G, _G + "  budget { gmacs <= 1 }",
],
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
            _M + "  budget { gmacs <= 3 params <= 4 }\n}",
            _HEAD + "  tasks { a: head linear } layout [ {a} ]\n}",
            _M + "  layout [ {a} ] budget { gmacs <= 1 }\n}",
            _M + "  budget { gmacs <= 1 } init backbone \"w.pt\"\n}",
            _M + '  init backbone "w.pt" weights "w.pt"\n}',
            "model m {\n  backbone convnet tasks { a: head linear }\n}",
            "model m {\n  backbone convnet(depth=2) tasks { a: head linear }\n}",
            "model m {\n  backbone convnet { blocks: auto } tasks { a: head linear }\n}",
            "model m {\n  backbone convnet { blocks: auto allow_import: true }\n}",
            "model m {\n  backbone convnet { blocks: auto(3) allow_import: true }\n}",
            "model m {\n  backbone convnet { blocks: [a] allow_import: true }\n}",
            "model m {\n  backbone convnet { allow_import: true blocks: auto }\n}",
            _M + "  branch after 1: {a} | {b} budget { gmacs <= 1 }\n}",
            _D + _CENTRAL + "  topology a { in: 1 edges: 1->2 }\n}",
            _D + _CENTRAL + "  topology a { in: 1; edges: 1->2 out: 2 }\n}",
            _D + _CENTRAL + "  topology a { in: 1 } tasks { a: head linear }\n}",
            _G + "  network A: x trains {a} serves {a} network B: x trains {a} serves {a}\n}",
            "model m { input x: float[1] tasks { a: head linear } }",
        ],
    ),
    # ------------------------------------------------------------ tasks
    "missing `:` after the task name": (
        "write `NAME: head HEAD(...)`",
        [
            _HEAD + "  tasks { a head linear }\n}", _task("b head linear(out=1)"), _task("b"),
            _task("b b: head linear"),
        ],
    ),
    "missing `}` after the task list": (
        "close the `tasks {` block before the next item",
        [
            _HEAD + "  tasks { a: head linear(classes=2)\n  layout [ {a} ]\n}",
            _HEAD + "  tasks {\n    a: head linear\n  budget { gmacs <= 1 }\n}",
            _HEAD + "  tasks {\n    a: head linear(out=1)\n    b: head linear(out=1)\n"
            "  layout [ {a, b} ]\n}",
            _HEAD + "  tasks {\n    a: head linear(out=1)\n  layout [ {a} ]\n}",
            _HEAD + "  tasks { a: head linear(classes=2)\n",
            _HEAD + "  tasks {\n    a: head linear(out=1)\n    b: head linear(out=1)\n",
            _HEAD + "  tasks {\n",
            _HEAD + "  tasks {\n    a: head linear(out=1)\n  topology a { in: 1 }\n}",
            _HEAD + "  tasks {\n    a: head linear(out=1)\n  branch after 1: {a} | {b}\n}",
            _HEAD + "  tasks {\n    a: head linear(out=1)\n    b: head linear(out=1)\n"
            "  network a: x trains {a} serves {a}\n}",
            _HEAD + "  tasks {\n  layout [ {a} ]\n}",
        ],
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
            _task("(out=1)"), _task('"b": head linear(out=1)'),
            _HEAD + "  tasks {\n    : head linear\n  }\n}",
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
    "missing `(` before the arguments": (
        "write `name(key=value, ...)`",
        [
            _task("b: head linear out=1)"), _task("b: head linear out=1, dropout=0.5)"),
            _task("b: head linearout=1)"), _task("b: head linear dropout=0.5)"),
            "model m {\n  backbone convnet depth=2)\n}", "model m {\n  backbone convnetdepth=2)\n}",
            _net("network A: x width=1) trains {a}"),
            _central("stem: conv out=8)"),
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
            _task("b: head linear(,out=1)"), _task("b: head linear((out=1)"),
            _task("b: head linear(out=1, =2)"),
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
            "model m {\n  backbone torchvision.\n}",
            "model m {\n  backbone torchvision..resnet34\n}",
            _net("network A: x."), _net("network A: x.3 trains {a} serves {a}"),
            "model m {\n  backbone torchvision.3\n}",
        ],
    ),
    "the backbone reads `backbone NAME(args) { blocks: ... }`": (
        'NAME is a registered backbone (`torchvision.resnet34`, `convnet`) '
        'or "pkg.module:callable"',
        [
            "model m {\n  backbone { blocks: auto }\n}", "model m {\n  backbone 3\n}",
            "model m {\n  backbone\n}",
            "model m {\n  backbone (depth=2)\n}", "model m {\n  backbone .resnet34\n}",
            "model m {\n  backbone convnet:x\n}", "model m {\n  backbone convnet 3\n}",
            "model m {\n  backbone convnet(depth=2) 3\n}",
            "model m {\n  backbone convnet(depth=2) (width=2)\n}",
            "model m {\n  backbone backbone convnet\n}",
            "model m {\n  backbone backbone torchvision.resnet34\n}",
            'model m {\n  backbone convnet "x"\n}',
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
            "model m {\n  backbone convnet { blocks: auto(3) tasks { a: head linear }\n}",
            "model m {\n  backbone convnet { blocks: auto tasks { a: head linear }\n}",
        ],
    ),
    "missing `{` before the backbone options": (
        "write `backbone NAME { blocks: auto(5) }`",
        [
            "model m {\n  backbone convnet blocks: auto }\n}",
            "model m {\n  backbone convnet(depth=2) blocks: auto }\n}",
            "model m {\n  backbone convnet allow_import: true }\n}",
            "model m {\n  backbone convnet.x blocks: auto }\n}",
            'model m {\n  backbone "a.b:c" blocks: auto }\n}',
        ],
    ),
    "`blocks:` takes `auto`, `auto(K)` or a list of module names `[layer1, layer2.1]`": (
        "`auto` uses every detected block; `auto(K)` picks K MACs-balanced blocks",
        [
            "model m {\n  backbone convnet { blocks: 5 }\n}",
            "model m {\n  backbone convnet { blocks: auto(x) }\n}",
            "model m {\n  backbone convnet { blocks: [] }\n}",
            "model m {\n  backbone convnet { blocks: auto 5 }\n}",
            "model m {\n  backbone convnet { blocks: auto auto(5) }\n}",
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
        "`allow_import: true` lets the spec import the backbone's Python module",
        [
            "model m {\n  backbone convnet { allow_import: yes }\n}",
            "model m {\n  backbone convnet { allow_import: }\n}",
            "model m {\n  backbone convnet { allow_import: true false }\n}",
            "model m {\n  backbone convnet {\n    blocks: auto\n"
            "    allow_import: true false\n  }\n}",
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
            _M + "  layout [\n    {a}\n  budget { gmacs <= 1 }\n}", _M + "  layout [\n    {a}\n}",
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
            _M + "  weights\n}",
        ],
    ),
    # ------------------------------------------------------------ budget
    "budget items read `gmacs <= X`, `params <= N` or `units <= U`": (
        "e.g. `budget { gmacs <= 40; params <= 60M }`",
        [
            _M + "  budget { gmacs = 40 }\n}", _M + "  budget { gmacs 40 }\n}",
            _M + "  budget { gmacs <= }\n}", _M + "  budget { 40 }\n}",
            _budget("params 40"), _budget("params <="),
            _budget("<= 40"), _budget("params <= 40 50"), _budget("params <= 4 <= 5"),
            _budget("params <= x"), _budget("params: 40"), _budget("params <= <= 4"),
            _M + "  budget { gmacs <= 1; <= 4 }\n}",
        ],
    ),
    "a latency budget reads `latency_ms <= T @ RUNTIME batch N threads N`": (
        "e.g. `latency_ms <= 12 @ ort-cpu batch 1` (`batch` and `threads` optional)",
        [
            _budget("latency_ms <= 12 @"), _budget("latency_ms <= 12 @ ort-cpu batch"),
            _budget("latency_ms <= 12 @ ort-cpu batch x"), _budget("latency_ms <= 12 @ 4"),
            _budget("latency_ms <= 12 @ ort-cpu 4"), _budget("latency_ms <= 12 @ @"),
            _M + "  budget { latency_ms <= 12 @ }\n}",
            _M + "  budget { latency_ms <= 12 @ ort-cpu batch }\n}",
        ],
    ),
    "missing `}` after the budget": (
        "close the `budget {` block",
        [
            _M + "  budget {\n    gmacs <= 1\n",
            _M + "  budget {\n    gmacs <= 1\n  init backbone \"a\"\n}",
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
            _central("stem:"), _central("stem conv"), _central("stem stem: conv"),
            _central("edge conv3x3"), _central("edge:"), _central("3"),
            _central("flow: 2 3"),  _central("stem: conv(out=1) 3"),
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
            _D + _CENTRAL + "  topology a { in: 1\n  budget { gmacs <= 1 }\n}",
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
            _net("network A: x trains {a} serves"),
            _net("network A: x trains trains {a} serves {a}"), _net("network"), _net("network A"),
            _net("network A:"), _net("network A: x trains"),
            _net("network A: x trains {a} serves {a} {b}"),
        ],
    ),
}
