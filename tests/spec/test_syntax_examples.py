"""The table of known-bad examples behind the syntax error messages.

Every example must fail, and fail with its own label: an example another label shadows is
dead weight that makes the table lie. Beyond the table, the common multi-line shapes of each
mistake are checked end to end (a one-line example and the same mistake in a real file
often fail in different LALR states).
"""

from __future__ import annotations

import time

import pytest
from lark.exceptions import UnexpectedInput

from mtlspec.errors import SpecError
from mtlspec.spec import parse_document
from mtlspec.spec.parse import _parser
from mtlspec.spec.syntax_errors import EXAMPLES, describe_syntax_error, example_keys

ALL = [(label, example) for label, (_, examples) in EXAMPLES.items() for example in examples]


def _describe(text: str) -> SpecError:
    try:
        _parser().parse(text)
    except UnexpectedInput as err:
        return describe_syntax_error(err, text, _parser())
    raise AssertionError(f"parses: {text!r}")


def _message(text: str) -> str:
    with pytest.raises(SpecError) as info:
        parse_document(text, "x.mtl")
    return info.value.message


@pytest.mark.parametrize(("label", "example"), ALL, ids=[f"{i}" for i in range(len(ALL))])
def test_example_fails_with_its_own_label(label: str, example: str):
    error = _describe(example)
    assert error.message.startswith(f"{label} (found "), (example, error.message)
    assert error.span is not None and error.span.line >= 1 and error.span.column >= 1


def test_every_example_is_a_parse_failure():
    """(not a post-lexer SpecError, which the matcher cannot use)"""
    assert len(example_keys(_parser())) == len(ALL)


def test_labels_and_hints_read_well():
    for label, (hint, examples) in EXAMPLES.items():
        assert label[0].islower() or label[0] in "`'", label
        assert not label.endswith(".") and not hint.endswith("."), label
        assert hint, f"no hint for {label!r}"
        assert len(examples) >= 1


def test_an_unlabelled_error_falls_back_to_the_expected_tokens():
    # A number after a complete item matches no example of the table.
    text = "model m {\n  input x: float[1, 3] 7\n}\n"
    assert _message(text) == "unexpected number `7`; expected `}`, end of line"


# ---------------------------------------------------------------------- real shapes
_HEADER = """# a comment first: the parser's stack is one deeper than in the one-line examples
model m {
  input image: float[1, 3, 64, 64]
  backbone convnet(depth=4, width=16) { blocks: auto(2) }
"""
_TASKS = """  tasks {
    a: head linear(classes=2)
    b: head linear(out=1)
    c: head linear(out=3)
  }
"""


def _tree(body: str) -> str:
    return _HEADER + body + "}\n"


MULTILINE = [
    # the task list: `}` deleted after one, two or three tasks
    (_tree("  tasks {\n    a: head linear(classes=2)\n  layout [\n    {a}\n    {a}\n  ]\n"),
     "missing `}` after the task list"),
    (_tree(_TASKS.replace("  }\n", "") + "  layout [\n    {a, b, c}\n  ]\n"),
     "missing `}` after the task list"),
    (_tree(_TASKS.replace("  }\n", "") + "  budget { gmacs <= 1 }\n"),
     "missing `}` after the task list"),
    (_tree(_TASKS.replace("  }\n", "") + "  branch after 1: {a} | {b, c}\n"),
     "missing `}` after the task list"),
    (_HEADER + _TASKS.replace("  }\n", ""), "missing `}` after the task list"),
    (_tree("  tasks { a: head linear(classes=2)\n  layout [ {a}; {a} ]\n"),
     "missing `}` after the task list"),
    # inside one task, first or a later one
    (_tree(_TASKS.replace("b: head", "b head")), "missing `:` after the task name"),
    (_tree(_TASKS.replace("a: head", "a head")), "missing `:` after the task name"),
    (_tree(_TASKS.replace("c: head linear", "c: linear")), "missing `head` before the head name"),
    (_tree(_TASKS.replace("a: head linear", "a: linear")), "missing `head` before the head name"),
    (_tree(_TASKS.replace("(out=1)", "(out=1")), "missing `)` to close the argument list"),
    (_tree(_TASKS.replace("(classes=2)", "(classes=2")), "missing `)` to close the argument list"),
    (_tree(_TASKS.replace("(out=3)", "(out=3 dropout=0.5)")), "missing `,` between arguments"),
    (_tree(_TASKS.replace("(out=3)", "(3)")), "arguments are written `key=value`"),
    (_tree(_TASKS.replace("(out=3)", "(out=)")), "missing value after `=`"),
    # layout rows, first row or a later one, first set or a later one
    (_tree(_TASKS + "  layout [\n    {a, b, c}\n    {a, b} {c}\n  budget { gmacs <= 1 }\n"),
     "missing `]` to close the layout"),
    (_tree(_TASKS + "  layout [\n    {a, b, c}\n"), "missing `]` to close the layout"),
    (_tree(_TASKS + "  layout [\n    {a b c}\n    {a, b} {c}\n  ]\n"),
     "missing `,` between tasks of a set"),
    (_tree(_TASKS + "  layout [\n    {a, b, c}\n    {a, b} {c d}\n  ]\n"),
     "missing `,` between tasks of a set"),
    (_tree(_TASKS + "  layout [\n    {a, b, c}\n    {a, b {c}\n  ]\n"),
     "missing `}` to close a task set"),
    (_tree(_TASKS + "  layout [\n    {a, b, c}\n    {a, b, , c}\n  ]\n"), "expected a task name"),
    (_tree(_TASKS + "  layout [\n    {a, b, c}\n    {a, b} c\n  ]\n"),
     "layout rows are task sets like `{a, b} {c}`, one row per line"),
    # items that run together or lose a bracket
    (_tree("  input x: float[1, 3, 64, 64] backbone convnet\n"),
     "items must be on separate lines or separated by `;`"),
    (_tree(_TASKS.replace("  }\n", "  } layout [ {a, b, c} ]\n")),
     "items must be on separate lines or separated by `;`"),
    (_HEADER.replace("64, 64]", "64, 64") + _TASKS + "}\n", "missing `]` to close the input shape"),
    (_HEADER.replace("{ blocks: auto(2) }", "{\n    blocks: auto(2)\n") + _TASKS + "}\n",
     "missing `}` after the backbone options"),
    (_HEADER + _TASKS + "  budget {\n    gmacs <= 1\n  weights \"w.pt\"\n}\n",
     "missing `}` after the budget"),
    (_HEADER + _TASKS, "missing `}` at the end of the spec"),
    (_tree(_TASKS + "  branch after 1 {a} | {b, c}\n"),
     "branch statements read `branch after K: {a, b} | {c}`"),
    (_tree(_TASKS + "  branch after 1: {a, b} {c}\n"),
     "a branch splits a group into two or more sets separated by `|`"),
]
DAG = """dag d {
  input image: float[1, 3, 64, 64]
  central {
    states: 6
    flow: 2
    stem: conv(out=16)
    edge: conv3x3
  }
  tasks {
    a: head conv(classes=3)
    b: head conv(out=1)
  }
  topology a { in: 1; edges: 1->2 2->3; out: 3 }
  topology b {
    in: 1
    edges: 1->2 2->4
    out: 4
  }
}
"""
MULTILINE += [
    (DAG.replace("    edge: conv3x3\n  }\n", "    edge: conv3x3\n"),
     "missing `}` after the central network"),
    (DAG.replace("flow: 2", "flow 2"), "central items are `states:`, `flow:`, `stem:` and `edge:`"),
    (DAG.replace("out: 3 }", "out: 3"), "missing `}` after the topology"),
    (DAG.replace("    out: 4\n  }\n", "    out: 4\n"), "missing `}` at the end of the spec"),
    (DAG.replace("edges: 1->2 2->4", "edges: 1-2 2-4"), "edges are written `i->j`"),
    (DAG.replace("edges: 1->2 2->3", "edges: 1->2, 2->3"), "edges are written `i->j`"),
    (DAG.replace("    in: 1\n", "    in 1\n"),
     "topology items are `in: STATES`, `edges: i->j ...` and `out: STATES`"),
    (DAG.replace("topology b {", "topology b"), "missing `{` after the topology's task name"),
]
GROUPING = """grouping g {
  input image: float[1, 3, 64, 64]
  tasks {
    a: head conv(classes=3)
    b: head conv(out=1)
  }
  network A: torchvision.resnet18(width=1.0) trains {a, b} serves {a}
  network B: torchvision.resnet18 trains {b} serves {b}
}
"""
MULTILINE += [
    (GROUPING.replace("trains {a, b} serves {a}", "trains {a, b} {a}"),
     "a network reads `network NAME: BACKBONE(width=W) trains {..} serves {..}`"),
    (GROUPING.replace("trains {b} serves {b}", "trains {b} {b}"),
     "a network reads `network NAME: BACKBONE(width=W) trains {..} serves {..}`"),
    (GROUPING.replace("serves {a}\n", "serves {a} network C: x trains {a} serves {a}\n"),
     "items must be on separate lines or separated by `;`"),
    (GROUPING.replace("trains {a, b}", "trains {a, b, , c}"), "expected a task name"),
    (GROUPING.replace("  network B", "  backbone x\n  network B"),
     "expected a grouping item: input, tasks, network or budget"),
]


@pytest.mark.parametrize(("text", "label"), MULTILINE, ids=[f"{i}" for i in range(len(MULTILINE))])
def test_multiline_mistakes_are_labelled(text: str, label: str):
    assert _message(text).startswith(f"{label} (found ")


def test_same_mistake_same_label_whatever_the_stack_depth():
    body = "model m {\n  input x: float[1]\n  backbone convnet\n  tasks {\n    a: head (out=1)\n"
    plain = _message(body + "  }\n}\n")
    assert plain.startswith("missing the head's name after `head`")
    assert _message("# one\n\n# two\n" + body + "  }\n}\n") == plain


def test_hint_says_where_an_unclosed_bracket_was_opened():
    text = _tree(_TASKS.replace("(classes=2)", "(classes=2"))
    with pytest.raises(SpecError) as info:
        parse_document(text, "x.mtl")
    assert info.value.hint.endswith("the `(` at line 6, column 19 is never closed")


# ---------------------------------------------------------------------- beyond the table
@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ("model m {\n  input x: float[1]\n}\n}\n", "a file holds one spec; there is text after "
         "its closing `}` (found `}`)", (4, 1)),
        ("model m {\n  tasks { a: head linear(out=1)) }\n}\n",
         "unmatched `)`: no `(` is open here", (2, 32)),
        ("grouping g {\n  networks A: x trains {a} serves {a}\n}\n",
         "unknown keyword `networks`", (2, 3)),
        ("model m {\n  tasksx {\n  }\n}\n", "unknown keyword `tasksx`", (2, 3)),
        ("model m {\n  budget { gmacs < 4 }\n}\n", "unexpected character `<`", (2, 18)),
        ("model m {\n  init backbone 'w.pt'\n}\n", "unexpected character `'`", (2, 17)),
        ('model m {\n  init backbone "w.pt\n}\n', "unterminated string", (2, 17)),
        ("model m {\n  input x: float[1] \x00\n}\n", "unexpected character `\\x00`", (2, 21)),
        ("model m {\n  input x: float[1] \u00e9\n}\n", "unexpected character `\u00e9`", (2, 21)),
        ("", "the file holds no spec", (1, 1)),
        ("# nothing yet\n;\n", "the file holds no spec (only comments)", (1, 1)),
    ],
)
def test_other_syntax_errors(text: str, message: str, where: tuple[int, int]):
    with pytest.raises(SpecError) as info:
        parse_document(text, "x.mtl")
    assert info.value.message == message
    assert (info.value.span.line, info.value.span.column) == where


def test_describing_an_error_is_fast():
    _describe("model m {\n  tasks { a: head linear(out=1 }\n}")  # the table is parsed once
    text = _tree(_TASKS.replace("  }\n", "") + "  layout [ {a} ]\n")
    start = time.perf_counter()
    for _ in range(20):
        _describe(text)
    assert (time.perf_counter() - start) / 20 < 0.05
