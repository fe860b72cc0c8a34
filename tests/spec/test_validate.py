"""Semantic rules, checked on the IR (no text needed) and located in the text when there is one."""

from __future__ import annotations

import pytest

from mtlspec.errors import SpecError, SpecErrors
from mtlspec.spec import find_problems, parse, parse_document, validate
from mtlspec.spec.layout import Branch, BranchError, refines, rows_from_branches

TREE = """model m {
  input x: float[1, 3, 32, 32]
  backbone convnet { blocks: auto(3) }
  tasks {
    a: head linear(classes=2)
    b: head conv(out=1)
    c: head aspp(classes=3, rates=[1, 2])
  }
  layout [
    {a, b, c}
    {a, b} {c}
    {a} {b} {c}
  ]
  budget { gmacs <= 2; params <= 1M }
}
"""


def messages(text: str) -> list[str]:
    return [p.message for p in find_problems(parse(text))]


def test_valid_tree_has_no_problem():
    assert messages(TREE) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("{a} {b} {c}", "{a} {b} {d}", "unknown task `d`"),
        ("{a} {b} {c}", "{a} {b}", "row 3 is missing task `c`"),
        ("{a} {b} {c}", "{a, b} {b} {c}", "task `b` appears twice in row 3"),
        ("{a} {b} {c}", "{a} {b, c}", "layout row 3 does not refine row 2: {b, c} joins"),
        ("auto(3)", "auto(4)", "the layout has 3 rows but the backbone has 4 blocks"),
        ("auto(3)", "[layer1]", "the layout has 3 rows but the backbone has 2 blocks"),
        ("auto(3)", "auto(0)", "the block count must be at least 1"),
        ("linear(classes=2)", "linaer(classes=2)", "unknown head `linaer`"),
        ("linear(classes=2)", "linear(classes=2, out=1)", "head `linear` takes only one of"),
        ("linear(classes=2)", "linear(dropout=0.5)", "head `linear` needs `classes=` or `out=`"),
        ("linear(classes=2)", "linear(classes=0)", "`classes` of `linear` must be positive"),
        ("linear(classes=2)", "linear(classes=2.5)", "`classes` of `linear` must be an integer"),
        ("linear(classes=2)", "linear(klasses=2)", "head `linear` has no argument `klasses`"),
        ("rates=[1, 2]", "rates=[1, true]", "`rates` of `aspp` must be a list of integers"),
        ("gmacs <= 2", "gmacs <= -2", "budget `gmacs` must be positive"),
        ("float[1, 3, 32, 32]", "float[1, 0, 32, 32]", "dimension 1 is 0; it must be positive"),
        ("float[1, 3, 32, 32]", "half[1, 3, 32, 32]", "unknown input type `half`"),
        ("convnet {", "resnet34 {", "unknown backbone `resnet34`"),
        ("convnet {", "timmm.resnet50 {", "unknown backbone `timmm.resnet50`"),
        ("convnet {", '"not a ref:x" {', '"not a ref:x" is not a `"pkg.module:callable"`'),
        ("    b: head conv(out=1)", "    a: head conv(out=1)", "task `a` is declared twice"),
    ],
)
def test_tree_rule(old: str, new: str, expected: str):
    assert old in TREE
    found = messages(TREE.replace(old, new, 1))
    assert any(expected in m for m in found), found


@pytest.mark.parametrize(
    "ref", ["torchvision.vit_b_16", "timm.resnet50", "timm.vit_tiny_patch16_224"])
def test_transformer_and_timm_backbones_validate_without_torch(ref: str):
    # timm names are checked when the backbone is built (validation never imports timm)
    assert messages(TREE.replace("convnet {", f"{ref} {{")) == []


def test_custom_backbone_reference_is_valid_without_importing_it():
    text = TREE.replace("convnet {", '"my_pkg.nets:build" { allow_import: true;')
    assert messages(text) == []


DAG = """dag d {
  input x: float[1, 3, 32, 32]
  central {
    states: 6
    flow: 2
    stem: conv(out=16, stride=2)
    edge: conv3x3
  }
  tasks {
    a: head conv(classes=4)
    b: head conv(out=1)
  }
  topology a { in: 1; edges: 1->2 2->4; out: 4 }
  topology b { in: 1 2; edges: 2->3; out: 3 1 }
}
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("1->2 2->4", "1->2 2->5", "edge 2->5 spans 3 states; the flow constant allows 1..2"),
        ("1->2 2->4", "1->2 2->1", "edge 2->1 spans -1 states"),
        ("1->2 2->4", "1->2 2->7", "edge 2->7 leaves the states 1..6"),
        ("out: 4", "out: 5", "read-out state 5 cannot be reached"),
        ("out: 3 1", "out: 3 9", "state 9 is out of range 1..6"),
        ("flow: 2", "flow: 6", "`flow` must be between 1 and states−1 = 5"),
        ("flow: 2", "flow: 0", "`flow` must be between 1 and states−1"),
        ("states: 6", "states: 100000", "`states` must be between 1 and 1000"),
        ("topology b {", "topology z {", "topology for unknown task `z`"),
        ("topology b {", "topology a {", "task `a` has two topologies"),
        ("topology b { in: 1 2; edges: 2->3; out: 3 1 }", "", "task `b` has no topology"),
        ("edge: conv3x3", "edge: conv5x5", "unknown edge op `conv5x5`"),
        ("stem: conv(out=16, stride=2)", "stem: conv(stride=2)", "stem op `conv` needs `out=`"),
    ],
)
def test_dag_rule(old: str, new: str, expected: str):
    assert messages(DAG) == []
    found = messages(DAG.replace(old, new, 1))
    assert any(expected in m for m in found), found


GROUPING = """grouping g {
  input x: float[1, 3, 32, 32]
  tasks {
    a: head conv(classes=4)
    b: head conv(out=1)
    c: head conv(out=1)
  }
  network A: torchvision.resnet18(width=1.0) trains {a, b} serves {a, b}
  network B: torchvision.resnet18(width=0.5) trains {c} serves {c}
  budget { units <= 1.5 }
}
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("serves {c}", "serves {}", "no network serves task `c`"),
        ("trains {c} serves {c}", "trains {c, a} serves {c, a}", "`a` is served by 2 networks"),
        ("trains {c} serves {c}", "trains {c} serves {c, b}", "serves {b} without training on it"),
        ("width=0.5", "width=0", "`width` must be positive"),
        ("network B", "network A", "network `A` is declared twice"),
        ("trains {c}", "trains {c, z}", "unknown task `z`"),
        ("torchvision.resnet18(width=0.5)", "torchvision.resnet19", "unknown backbone"),
        ("units <= 1.5", "units <= 0", "budget `units` must be positive"),
    ],
)
def test_grouping_rule(old: str, new: str, expected: str):
    assert messages(GROUPING) == []
    found = messages(GROUPING.replace(old, new, 1))
    assert any(expected in m for m in found), found


def test_units_budget_is_refused_for_dags():
    text = DAG.replace("topology b {", "budget { units <= 2 }\n  topology b {")
    assert any("`units` budgets apply to model and grouping specs" in m for m in messages(text))


def test_all_errors_are_collected_and_located():
    text = TREE.replace("{a} {b} {c}", "{a} {x} {y}").replace("gmacs <= 2", "gmacs <= -1")
    with pytest.raises(SpecErrors) as info:
        validate(parse_document(text, "t.mtl"))
    errors = info.value.errors
    assert len(errors) >= 4
    lines = {e.span.line for e in errors}
    assert 12 in lines and 14 in lines  # the row, the budget
    rendered = info.value.render()
    assert "t.mtl:12:" in rendered and "t.mtl:14:" in rendered and "hint:" in rendered


def test_errors_of_an_ir_without_text_name_the_spec():
    spec = parse(TREE.replace("gmacs <= 2", "gmacs <= -1"))
    with pytest.raises(SpecError) as info:
        validate(spec)
    assert info.value.render().startswith("<model m>: error: budget `gmacs` must be positive")


def test_error_list_is_capped_when_rendered():
    rows = "\n".join("{a, b, c, z}" for _ in range(30))
    text = TREE.replace("auto(3)", "auto(30)").split("layout [")[0] + f"layout [\n{rows}\n]\n}}\n"
    with pytest.raises(SpecErrors) as info:
        validate(parse_document(text, "t.mtl"))
    assert len(info.value.errors) == 30
    assert info.value.render().endswith("... and 10 more errors")


# ---------------------------------------------------------------------- layout helpers
def test_branches_expand_to_rows():
    rows = rows_from_branches(
        ["a", "b", "c"],
        [Branch(2, (frozenset("a"), frozenset("b"))), Branch(1, (frozenset("ab"), frozenset("c")))],
        4,
    )
    as_sets = [{frozenset(g) for g in row} for row in rows]
    assert as_sets == [
        {frozenset("abc")},
        {frozenset("ab"), frozenset("c")},
        {frozenset("a"), frozenset("b"), frozenset("c")},
        {frozenset("a"), frozenset("b"), frozenset("c")},
    ]


def test_branch_errors():
    with pytest.raises(BranchError, match="not one group"):
        rows_from_branches(["a", "b", "c"], [Branch(1, (frozenset("a"), frozenset("b")))], 3)
    with pytest.raises(BranchError, match="past the last block"):
        rows_from_branches(["a", "b"], [Branch(3, (frozenset("a"), frozenset("b")))], 3)
    with pytest.raises(BranchError, match="in two branches"):
        rows_from_branches(["a", "b"], [Branch(0, (frozenset("ab"), frozenset("b")))], 2)


def test_refines():
    above = frozenset({frozenset("ab"), frozenset("c")})
    assert refines(frozenset({frozenset("a"), frozenset("b"), frozenset("c")}), above) is None
    assert refines(frozenset({frozenset("a"), frozenset("bc")}), above) == frozenset("bc")


def test_branch_statement_errors_are_located():
    text = TREE.replace("""  layout [
    {a, b, c}
    {a, b} {c}
    {a} {b} {c}
  ]""", "  branch after 1: {a} | {b}")
    with pytest.raises(SpecError) as info:
        parse_document(text, "t.mtl")
    assert "splits {a, b}, which is not one group after block 1" in info.value.message
    assert info.value.span.line == 9
