"""Round-trip properties of the spec language, over random valid IRs of all three kinds.

- `parse(format(ir)) == ir` and `format` is a fixed point (`format(parse(format(ir)))`);
- the strategies' IRs are valid (`find_problems(ir) == []`);
- JSON: `from_json(to_json(ir)) == ir`, and the JSON validates against `json_schema()`;
- comments inserted anywhere survive formatting, formatting is idempotent, the IR is unchanged;
- the same IR written non-canonically (items shuffled, odd whitespace, sets in any order,
  branch statements instead of rows) formats to the canonical text;
- an IR the text cannot express makes `format` raise ValueError instead of printing wrong text.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from mtlspec.spec import find_problems, format, from_json, ir, parse, parse_document, to_json
from mtlspec.spec.layout import ordered_groups

from .strategies import (
    EXAMPLES,
    SETTINGS,
    any_specs,
    dag_specs,
    grouping_specs,
    identifiers,
    texts,
    tree_specs,
)

KINDS = {"model": tree_specs(), "dag": dag_specs(), "grouping": grouping_specs()}

# A comment, found outside strings (strings never span lines).
_COMMENT_OR_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


def lines_of(text: str) -> list[str]:
    """The lines of a text ending in a newline, split where the grammar splits them: at \\n only
    (str.splitlines() would also split inside a string holding \\f or \\u2028)."""
    assert text.endswith("\n")
    return text[:-1].split("\n")


def comments_of(text: str) -> list[str]:
    """Every `#` comment of a spec text, in order, without trailing blanks."""
    return [
        m.group().rstrip()
        for line in text.split("\n")
        for m in _COMMENT_OR_STRING.finditer(line)
        if m.group().startswith("#")
    ]


def same(a, b) -> bool:
    """Equality that also tells 1 from 1.0 and True, and argument order apart (pydantic's `==`
    does not: `Call(args={"x": 1}) == Call(args={"x": 1.0})`)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, BaseModel):
        return all(same(getattr(a, f), getattr(b, f)) for f in type(a).model_fields)
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def test_same_is_strict():
    call = ir.Call(name="conv", args={"x": 1, "y": True})
    assert call == ir.Call(name="conv", args={"x": 1.0, "y": 1})  # why `same` exists
    assert same(call, ir.Call(name="conv", args={"x": 1, "y": True}))
    assert not same(call, ir.Call(name="conv", args={"x": 1.0, "y": True}))
    assert not same(call, ir.Call(name="conv", args={"x": 1, "y": 1}))
    assert not same(call, ir.Call(name="conv", args={"y": True, "x": 1}))
    assert not same(0.0, -0.0)


# ---------------------------------------------------------------------- IR → text → IR
@pytest.mark.parametrize("kind", sorted(KINDS))
@SETTINGS
@given(data=st.data())
def test_format_parse_round_trip(kind, data):
    spec = data.draw(KINDS[kind], label="spec")
    assert spec.kind == kind
    assert find_problems(spec) == []
    text = format(spec)
    assert text.endswith("}\n") and "\n\n" not in text
    back = parse(text)
    assert back == spec
    assert same(back, spec)
    assert format(back) == text
    # JSON in/out: what search runs emit
    assert from_json(to_json(spec)) == spec
    assert same(from_json(to_json(spec)), spec)
    assert same(from_json(to_json(spec, indent=None)), spec)


def _jsonschema_validator():
    try:
        import jsonschema
    except ImportError:
        pytest.skip("jsonschema is not installed in this environment (it is not a dependency "
                    "of mtlspec); the schema checks in test_ir.py still run")
    schema = ir.json_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@SETTINGS
@given(spec=any_specs)
def test_json_validates_against_schema(spec):
    validator = _jsonschema_validator()
    errors = [e.message for e in validator.iter_errors(json.loads(to_json(spec)))]
    assert errors == []


# ---------------------------------------------------------------------- comments
# Anything but a newline: \r, \f, \x85, \u2028 ... in a comment are not line breaks to the
# grammar, so they must not be to the comment collector either.
comment_texts = st.text(
    st.one_of(st.sampled_from('#;"\\{}()[] \t\r\f\x85\u2028'),
              st.characters(codec="utf-8", exclude_characters="\n")),
    max_size=12,
).map(lambda s: ("#" + s).rstrip())


@st.composite
def commented(draw):
    """(spec, canonical text with comments inserted, the comments inserted)."""
    spec = draw(any_specs)
    lines = lines_of(format(spec))
    out, inserted = [], []
    for i in range(len(lines) + 1):
        if draw(st.integers(0, 3)) == 0:  # an own-line comment before line i (or at the end)
            comment = draw(comment_texts)
            inserted.append(comment)
            out.append(draw(st.sampled_from(["", "  ", "    ", "\t"])) + comment)
        if i < len(lines):
            line = lines[i]
            if draw(st.integers(0, 2)) == 0:  # a comment at the end of the line
                comment = draw(comment_texts)
                inserted.append(comment)
                line += draw(st.sampled_from([" ", "  ", "\t", "      "])) + comment
            out.append(line)
    return spec, "\n".join(out) + "\n", inserted


@SETTINGS
@given(case=commented())
def test_comments_survive_formatting(case):
    spec, text, inserted = case
    assert Counter(comments_of(text)) == Counter(inserted)  # the generator is right
    doc = parse_document(text)
    assert doc.spec == spec  # comments never change the IR
    once = format(doc.spec, doc.comments)
    assert Counter(comments_of(once)) == Counter(inserted)
    again = parse_document(once)
    assert again.spec == spec
    assert format(again.spec, again.comments) == once
    # without its comments the text is the canonical text of the IR
    assert format(parse(once)) == format(spec)


# ---------------------------------------------------------------------- non-canonical text
def _top_level_items(lines: list[str]) -> tuple[str, list[list[str]], str]:
    """Split canonical text into header, items (each a list of lines), closing line."""
    items: list[list[str]] = []
    for line in lines[1:-1]:
        if line.startswith("  ") and not line.startswith("   ") and line.strip() not in "}]":
            items.append([line])
        else:
            items[-1].append(line)
    return lines[0], items, lines[-1]


_SET = re.compile(r"\{([A-Za-z0-9_, ]*)\}")


def _is_repeated(item: list[str]) -> bool:
    return item[0].lstrip().startswith(("topology ", "network "))


@st.composite
def scrambled(draw):
    """(spec, the spec written non-canonically but meaning the same)."""
    spec = draw(any_specs)
    header, items, closing = _top_level_items(lines_of(format(spec)))
    # Items may come in any order, except that topologies and networks are tuples in the IR:
    # among themselves they keep their order.
    shuffled = list(draw(st.permutations(items)))
    ordered = iter([item for item in items if _is_repeated(item)])
    items = [next(ordered) if _is_repeated(item) else item for item in shuffled]

    def shuffle_sets(line: str) -> str:
        def one(m: re.Match) -> str:  # `{a, b}` → `{ b ,\n  a,}` and the like
            names = draw(st.permutations([n.strip() for n in m.group(1).split(",") if n.strip()]))
            body = ""
            for i, name in enumerate(names):
                last = i == len(names) - 1
                body += name + draw(st.sampled_from(["", ","] if last else [",", " ,", ",\n  "]))
            return "{" + draw(st.sampled_from(["", " ", "\n", "\t"])) + body + "}"
        if line.lstrip().startswith("network "):
            head, _, tail = line.rpartition(" trains ")
            return head + " trains " + _SET.sub(one, tail)
        if line.lstrip().startswith("{"):  # a layout row
            groups = draw(st.permutations(_SET.findall(line)))
            return " ".join(one(_SET.match("{" + g + "}")) for g in groups)
        return line

    out = [draw(st.sampled_from(["", "\n", "# top\n"])) + header]
    for item in items:
        for line in item:
            pad = draw(st.sampled_from(["", " ", "\t", "      "]))
            out.append(pad + shuffle_sets(line.strip()) + draw(st.sampled_from(["", " ", "\t"])))
            if draw(st.integers(0, 4)) == 0:
                out.append(draw(st.sampled_from(["", "   ", ";"])))
    out.append(closing)
    return spec, "\n".join(out) + draw(st.sampled_from(["", "\n", "\n\n"]))


@SETTINGS
@given(case=scrambled())
def test_non_canonical_text_formats_to_canonical(case):
    spec, text = case
    assert parse(text) == spec
    assert format(parse(text)) == format(spec)


# ---------------------------------------------------------------------- branch statements
def branch_statements(spec: ir.TreeSpec) -> list[str]:
    """The layout of `spec` written as `branch after D: {..} | {..}` statements."""
    order = [t.name for t in spec.tasks]
    above = frozenset({frozenset(order)})
    out = []
    for depth, row in enumerate(spec.layout):
        for parent in ordered_groups(above, order):
            children = [g for g in row if g <= frozenset(parent)]
            if len(children) > 1:
                sets = ordered_groups(children, order)
                out.append(f"branch after {depth}: "
                           + " | ".join("{" + ", ".join(s) + "}" for s in sets))
        above = row
    return out


@SETTINGS
@given(spec=tree_specs().filter(lambda s: s.backbone.block_count is not None), data=st.data())
def test_branch_statements_give_the_rows_ir(spec, data):
    canonical = format(spec)
    lines = lines_of(canonical)
    start = lines.index("  layout [")
    end = lines.index("  ]", start)
    branches = data.draw(st.permutations(branch_statements(spec)), label="branches")
    assume(branches)  # a layout that never splits has no branch statement
    text = "\n".join(lines[:start] + ["  " + b for b in branches] + lines[end + 1:]) + "\n"
    doc = parse_document(text)
    assert doc.spec == spec
    assert format(doc.spec, doc.comments) == canonical


# ---------------------------------------------------------------------- inexpressible IRs
def _bad_numbers():
    return st.sampled_from([math.inf, -math.inf, math.nan, 10**41, -(10**41)])


@st.composite
def inexpressible(draw):
    """A valid-looking IR with one thing spec text has no spelling for."""
    spec = draw(any_specs)
    bad_name = draw(st.one_of(texts, identifiers.map(lambda n: "1" + n)).filter(
        lambda s: not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", s)))
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return spec.model_copy(update={"name": bad_name})
    if choice == 1:
        task = spec.tasks[0]
        head = task.head.model_copy(update={"args": {**task.head.args, bad_name: 1}})
        tasks = (task.model_copy(update={"head": head}), *spec.tasks[1:])
        return spec.model_copy(update={"tasks": tasks})
    if choice == 2:
        task = spec.tasks[0]
        head = task.head.model_copy(update={"args": {"x": draw(_bad_numbers())}})
        tasks = (task.model_copy(update={"head": head}), *spec.tasks[1:])
        return spec.model_copy(update={"tasks": tasks})
    if choice == 3:
        line_break = draw(st.sampled_from(["\n", "\r", "a\nb", "x\r\ny"]))
        task = spec.tasks[0]
        head = task.head.model_copy(update={"args": {"path": line_break}})
        return spec.model_copy(update={"tasks": (task.model_copy(update={"head": head}),
                                                 *spec.tasks[1:])})
    return spec.model_copy(update={"input": spec.input.model_copy(update={"dtype": bad_name})})


@settings(SETTINGS, max_examples=max(EXAMPLES // 2, 10))
@given(spec=inexpressible())
def test_format_refuses_what_text_cannot_express(spec):
    with pytest.raises(ValueError):
        format(spec)


@pytest.mark.parametrize("make", [
    pytest.param(lambda s: s.model_copy(update={"layout": s.layout[:1], "backbone": ir.Backbone(
        ref="convnet", blocks=ir.CutAfter(after=()))}), id="empty-cut-list"),
    pytest.param(lambda s: s.model_copy(update={"budget": ir.Budget(params=10**45 + 1)}),
                 id="huge-params"),
    pytest.param(lambda s: s.model_copy(update={"budget": ir.Budget(gmacs=math.inf)}),
                 id="infinite-gmacs"),
    pytest.param(lambda s: s.model_copy(update={"init": "a\rb"}), id="carriage-return"),
])
def test_format_refuses_inexpressible_tree(make):
    spec = parse(
        "model m {\n  input image: float[1, 3, 8, 8]\n  backbone convnet { blocks: auto(2) }\n"
        "  tasks {\n    a: head linear(out=1)\n  }\n  layout [\n    {a}\n    {a}\n  ]\n}\n"
    )
    with pytest.raises(ValueError):
        format(make(spec))


def test_format_refuses_width_among_network_args():
    spec = parse(
        "grouping g {\n  input image: float[1, 3, 8, 8]\n  tasks {\n    a: head linear(out=1)\n"
        "  }\n  network A: convnet(width=0.5) trains {a} serves {a}\n}\n"
    )
    net = spec.networks[0]
    assert net.width == 0.5 and net.args == {}
    bad = spec.model_copy(update={"networks": (net.model_copy(update={"args": {"width": 2.0}}),)})
    with pytest.raises(ValueError, match="width"):
        format(bad)
