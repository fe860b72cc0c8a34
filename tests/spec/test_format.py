"""The formatter: the identity fixture, what canonical text looks like, and `mtlspec fmt`.

`identity.mtl` holds canonical specs separated by `# ---` lines (like sqlglot's identity
fixture); each one, comments included, must format back to itself byte for byte.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.spec import find_problems, format, ir, parse, parse_document

HERE = Path(__file__).resolve().parent
SEPARATOR = "# ---"


def identity_specs() -> list[str]:
    chunks, current = [], []
    for line in (HERE / "identity.mtl").read_text("utf-8").split("\n"):
        if line == SEPARATOR:
            chunks.append("".join(current))
            current = []
        else:
            current.append(line + "\n")
    chunks.append("".join(current)[:-1])  # the file's last line ends in \n: no extra one
    return chunks


IDENTITY = identity_specs()
_COMMENT_OR_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


def without_comments(text: str) -> str:
    """`text` with its comments (and the lines only they filled) removed."""
    out = []
    for line in text.split("\n"):
        kept = _COMMENT_OR_STRING.sub(lambda m: "" if m.group().startswith("#") else m.group(),
                                      line).rstrip()
        if kept or not line.strip():
            out.append(kept)
    return "\n".join(out)


def reformat(text: str) -> str:
    doc = parse_document(text)
    return format(doc.spec, doc.comments)


# ---------------------------------------------------------------------- identity fixture
def test_identity_fixture_covers_all_kinds_and_comments():
    kinds = {parse(text).kind for text in IDENTITY}
    assert kinds == {"model", "dag", "grouping"}
    assert len(IDENTITY) >= 10
    assert sum("#" in text for text in IDENTITY) >= 4


@pytest.mark.parametrize("text", IDENTITY, ids=[parse(t).name for t in IDENTITY])
def test_identity(text: str):
    assert reformat(text) == text
    spec = parse(text)
    assert find_problems(spec) == []
    # without the comments kept, the same text minus its comments
    assert format(spec) == without_comments(text)


# ---------------------------------------------------------------------- semantics
TREE = """model m {{
  input image: float[1, 3, 288, 384]
  backbone torchvision.resnet34 {{ blocks: auto(5) }}
  tasks {{
    segment: head aspp(classes=13)
    depth: head aspp(out=1)
    normal: head aspp(out=3)
  }}
{layout}
}}
"""
ROWS = """  layout [
    {segment, depth, normal}
    {segment, depth, normal}
    {segment, depth} {normal}
    {segment} {depth} {normal}
    {segment} {depth} {normal}
  ]"""


@pytest.mark.parametrize("branches", [
    "  branch after 2: {segment, depth} | {normal}\n  branch after 3: {segment} | {depth}",
    "  branch after 3: {depth} | {segment}\n  branch after 2: {normal} | {depth, segment}",
    "  branch after 2: {segment, depth} | {normal}; branch after 3: {segment} | {depth}",
])
def test_branch_statements_and_rows_give_one_ir(branches: str):
    rows = TREE.format(layout=ROWS)
    assert parse(TREE.format(layout=branches)) == parse(rows)
    assert reformat(TREE.format(layout=branches)) == rows


def test_branch_after_zero_is_a_forest():
    spec = parse(TREE.format(layout="  branch after 0: {segment} | {depth, normal}\n"
                                    "  branch after 4: {depth} | {normal}"))
    assert spec.layout[0] == frozenset({frozenset({"segment"}), frozenset({"depth", "normal"})})
    assert spec.layout[3] == spec.layout[0]
    assert len(spec.layout[4]) == 3
    assert "    {segment} {depth, normal}\n" in format(spec)


def test_task_set_order_does_not_matter():
    a = parse(TREE.format(layout=ROWS))
    shuffled = (ROWS.replace("{segment, depth, normal}", "{normal, segment, depth}")
                .replace("{segment, depth} {normal}", "{normal} {depth,segment}"))
    b = parse(TREE.format(layout=shuffled))
    assert a == b
    assert format(b) == format(a) == TREE.format(layout=ROWS)


def test_sets_print_in_task_declaration_order():
    text = TREE.format(layout=ROWS).replace(
        "    segment: head aspp(classes=13)\n    depth: head aspp(out=1)\n",
        "    depth: head aspp(out=1)\n    segment: head aspp(classes=13)\n",
    )
    out = format(parse(text))
    assert "    {depth, segment, normal}\n" in out
    assert "    {depth, segment} {normal}\n" in out
    assert "    {depth} {segment} {normal}\n" in out


def _tree_with(body: str) -> str:
    return ("model m {\n  input image: float[1, 3, 8, 8]\n  backbone convnet\n"
            "  tasks {\n    a: head linear(out=1)\n  }\n  layout [\n    {a}\n  ]\n" + body + "}\n")


@pytest.mark.parametrize(("written", "value", "canonical"), [
    ("60M", 60_000_000, "60M"),
    ("1.5M", 1_500_000, "1500K"),
    ("2G", 2_000_000_000, "2G"),
    ("1K", 1000, "1K"),
    ("1000", 1000, "1K"),
    ("1500", 1500, "1500"),
    ("0.25K", 250, "250"),
    ("1e3", 1000, "1K"),
])
def test_params_suffixes(written: str, value: int, canonical: str):
    spec = parse(_tree_with(f"  budget {{ params <= {written} }}\n"))
    assert spec.budget.params == value
    assert isinstance(spec.budget.params, int)
    assert f"budget {{ params <= {canonical} }}" in format(spec)


@pytest.mark.parametrize(("written", "value", "canonical"), [
    ("40", 40.0, "40"), ("40.0", 40.0, "40"), ("1.5K", 1500.0, "1500"), ("0.5", 0.5, "0.5"),
    ("2G", 2e9, "2000000000"), ("1e-7", 1e-7, "1e-07"), (".5", 0.5, "0.5"),
])
def test_gmacs_figures(written: str, value: float, canonical: str):
    spec = parse(_tree_with(f"  budget {{ gmacs <= {written} }}\n"))
    assert spec.budget.gmacs == value
    assert f"budget {{ gmacs <= {canonical} }}" in format(spec)


def test_gflops_is_a_synonym_that_the_formatter_writes_as_gmacs():
    old = parse(_tree_with("  budget { gflops <= 20; params <= 1M }\n"))
    assert old == parse(_tree_with("  budget { gmacs <= 20; params <= 1M }\n"))
    assert old.budget.gmacs == 20.0
    text = format(old)
    assert "budget { gmacs <= 20; params <= 1M }" in text and "gflops" not in text
    assert parse(text) == old


@pytest.mark.parametrize(("written", "canonical", "latency"), [
    ("latency_ms <= 12", "latency_ms <= 12 @ ort-cpu batch 1", ir.Latency(ms=12)),
    ("latency_ms<=12.5@ort-cpu", "latency_ms <= 12.5 @ ort-cpu batch 1", ir.Latency(ms=12.5)),
    ("latency_ms <= 3 @ ort-cpu threads 2 batch 8", "latency_ms <= 3 @ ort-cpu batch 8 threads 2",
     ir.Latency(ms=3, batch=8, threads=2)),
])
def test_latency_budgets_print_their_whole_setup(written: str, canonical: str,
                                                 latency: ir.Latency):
    spec = parse(_tree_with(f"  budget {{ gmacs <= 2; {written} }}\n"))
    assert spec.budget.latency_ms == latency
    text = format(spec)
    assert f"budget {{ gmacs <= 2; {canonical} }}" in text
    assert parse(text) == spec


def test_a_limit_and_its_synonym_are_one_limit_given_twice():
    with pytest.raises(Exception, match=r"budget `gmacs` is given twice \(`gflops` is a synonym"):
        parse(_tree_with("  budget { gmacs <= 20; gflops <= 30 }\n"))


def test_params_must_be_whole():
    with pytest.raises(Exception, match="whole number"):
        parse(_tree_with("  budget { params <= 1.5 }\n"))


def _with_backbone(backbone: str) -> str:
    return _tree_with("").replace("backbone convnet", backbone)


def _backbone_args(text: str) -> dict[str, ir.Value]:
    return parse(_with_backbone(f"backbone convnet({text})")).backbone.args


@pytest.mark.parametrize(("written", "expected", "kind", "canonical"), [
    ("1.0", 1.0, float, "1.0"),
    ("1", 1, int, "1"),
    ("1.", 1.0, float, "1.0"),
    ("1e2", 100.0, float, "100.0"),
    ("1K", 1000, int, "1000"),
    ("-2.5", -2.5, float, "-2.5"),
    ("true", True, bool, "true"),
    ("bilinear", "bilinear", str, "bilinear"),
    ('"bilinear"', "bilinear", str, "bilinear"),
    ('"true"', "true", str, '"true"'),
    ('"two words"', "two words", str, '"two words"'),
])
def test_values_keep_their_type(written: str, expected, kind: type, canonical: str):
    value = _backbone_args(f"x={written}")["x"]
    assert value == expected and type(value) is kind
    spec = parse(_with_backbone(f"backbone convnet(x={written})"))
    assert f"backbone convnet(x={canonical})" in format(spec)


def test_float_width_and_int_width_print_differently():
    as_float = parse(_with_backbone("backbone convnet(width=1.0)"))
    as_int = parse(_with_backbone("backbone convnet(width=1)"))
    assert "convnet(width=1.0)" in format(as_float)
    assert "convnet(width=1)" in format(as_int)


def test_lists_nest_and_keep_element_types():
    args = _backbone_args('r=[6, 12.0, "a b", c, [true, []],]')
    assert args["r"] == (6, 12.0, "a b", "c", (True, ()))
    assert [type(v) for v in args["r"]] == [int, float, str, str, tuple]
    spec = parse(_with_backbone('backbone convnet(r=[6, 12.0, "a b", c, [true, []],])'))
    assert 'convnet(r=[6, 12.0, "a b", c, [true, []]])' in format(spec)


@pytest.mark.parametrize(("written", "value"), [
    (r'"plain"', "plain"),
    (r'"say \"hi\""', 'say "hi"'),
    (r'"C:\\models\\a.pt"', "C:\\models\\a.pt"),
    (r'"ends with \\"', "ends with \\"),
    (r'"\\\""', '\\"'),
    (r'"# not a comment"', "# not a comment"),
    ('"tab\there"', "tab\there"),
    ('"ünïcødé ✓"', "ünïcødé ✓"),
])
def test_strings_with_escapes(written: str, value: str):
    text = _tree_with("").replace("  tasks {", f"  weights {written}\n  tasks {{")
    spec = parse(text)
    assert spec.weights == value
    assert reformat(text) == text  # canonical already: same escapes back
    assert parse(format(spec)).weights == value


def test_user_backbone_with_allow_import():
    text = _with_backbone('backbone "pkg.mod:fn" { allow_import: true }')
    spec = parse(text)
    assert spec.backbone.ref == "pkg.mod:fn"
    assert spec.backbone.allow_import is True
    assert spec.backbone.blocks == ir.AutoBlocks()
    assert reformat(text) == text
    off = parse(text.replace("allow_import: true", "allow_import: false"))
    assert off.backbone.allow_import is False
    assert 'backbone "pkg.mod:fn"\n' in format(off)  # the default is not printed


def test_cut_after_names():
    layout = "  layout [\n    {a}\n    {a}\n    {a}\n    {a}\n  ]\n"
    text = (_tree_with("").replace("backbone convnet",
                                   'backbone convnet { blocks: [layer1, layer2.1, "odd name"] }')
            .replace("  layout [\n    {a}\n  ]\n", layout))
    spec = parse(text)
    assert spec.backbone.blocks == ir.CutAfter(after=("layer1", "layer2.1", "odd name"))
    assert spec.backbone.block_count == 4
    assert reformat(text) == text
    quoted = text.replace("[layer1, layer2.1,", '["layer1", "layer2.1",')
    assert parse(quoted) == spec
    assert reformat(quoted) == text


def test_quoted_dotted_backbone_prints_bare():
    text = _with_backbone('backbone "torchvision.resnet18"')
    assert "  backbone torchvision.resnet18\n" in reformat(text)


def test_item_order_whitespace_and_separators_do_not_matter():
    messy = (
        "\n\n# lead\nmodel m{budget{params<=1M;gflops<=2}\n"
        "layout[{a,\n b}; {a}{b}]\r\n"
        "\ttasks{b:head linear(out=1);a:head linear(classes=2,)}\n"
        "input image:float[1,3,8,8,]\nbackbone convnet{blocks:auto(2)}}\n\n"
    )
    clean = (
        "# lead\nmodel m {\n  input image: float[1, 3, 8, 8]\n"
        "  backbone convnet { blocks: auto(2) }\n"
        "  tasks {\n    b: head linear(out=1)\n    a: head linear(classes=2)\n  }\n"
        "  layout [\n    {b, a}\n    {b} {a}\n  ]\n"
        "  budget { gmacs <= 2; params <= 1M }\n}\n"
    )
    assert reformat(messy) == clean
    assert parse(messy) == parse(clean)


def test_crlf_text_formats_to_lf():
    text = IDENTITY[1]
    crlf = text.replace("\n", "\r\n")
    assert parse(crlf) == parse(text)
    assert reformat(crlf) == text


def test_dag_edges_and_states_sorted():
    text = """dag d {
  input image: float[1, 3, 32, 32]
  central { states: 6; flow: 2; stem: conv(out=8); edge: conv3x3 }
  tasks { a: head conv(out=1) }
  topology a { out: 5 3; edges: 3->5 1->3 1 -> 2; in: 1 }
}
"""
    out = reformat(text)
    assert "  topology a { in: 1; edges: 1->2 1->3 3->5; out: 3 5 }\n" in out
    assert "    states: 6\n    flow: 2\n    stem: conv(out=8)\n    edge: conv3x3\n" in out


def test_grouping_width_is_printed_first_and_always():
    text = """grouping g {
  input image: float[1, 3, 32, 32]
  tasks { a: head linear(out=1); b: head linear(out=1) }
  network N: convnet(depth=2, width=0.5) trains {b, a} serves {a, b}
  network M: convnet trains {b} serves {}
}
"""
    spec = parse(text)
    assert [n.width for n in spec.networks] == [0.5, 1.0]
    assert spec.networks[0].args == {"depth": 2}
    out = format(spec)
    assert "  network N: convnet(width=0.5, depth=2) trains {a, b} serves {a, b}\n" in out
    assert "  network M: convnet(width=1.0) trains {b} serves {}\n" in out


def test_comment_before_a_closing_bracket_stays_inside():
    text = IDENTITY[1]
    assert "    # more tasks go here\n  }\n" in text
    assert "    # end of the rows\n  ]\n" in text
    assert "  # last line inside the spec\n}\n" in text
    assert reformat(text) == text


def test_comments_on_branch_lines_are_kept():
    text = TREE.format(layout="  # the tree\n"
                              "  branch after 2: {segment, depth} | {normal}  # split one\n"
                              "  branch after 3: {segment} | {depth}  # split two")
    out = reformat(text)
    for comment in ("# the tree", "# split one", "# split two"):
        assert comment in out
    assert reformat(out) == out
    assert parse(out) == parse(TREE.format(layout=ROWS))


# ---------------------------------------------------------------------- mtlspec fmt
UGLY = ("model m{input image:float[1,3,8,8]\nbackbone convnet\n"
        "tasks{a:head linear(out=1)}  # keep me\nlayout[{a}]}\n")
PRETTY = ("model m {\n  input image: float[1, 3, 8, 8]\n  backbone convnet\n  tasks {\n"
          "    a: head linear(out=1)  # keep me\n  }\n  layout [\n    {a}\n  ]\n}\n")


def _fmt(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, ["fmt", *args], input=stdin)


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir())}


def test_ugly_and_pretty_agree():
    assert reformat(UGLY) == PRETTY
    assert reformat(PRETTY) == PRETTY


def test_fmt_rewrites_in_place_atomically(tmp_path: Path):
    target = tmp_path / "a.mtl"
    target.write_text(UGLY)
    target.chmod(0o640)
    (tmp_path / "b.mtl").write_text(PRETTY)
    (tmp_path / "notes.txt").write_text(UGLY)
    before = _snapshot(tmp_path)
    result = _fmt(str(target), str(tmp_path / "b.mtl"))
    assert result.exit_code == 0, result.output
    after = _snapshot(tmp_path)
    assert set(after) == set(before)  # no temporary file left behind
    assert target.read_text() == PRETTY
    assert after["a.mtl"][1] != before["a.mtl"][1]  # a new inode: written aside, then renamed
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert after["b.mtl"] == before["b.mtl"]  # formatted already: not even rewritten
    assert after["notes.txt"] == before["notes.txt"]


def test_fmt_failed_write_leaves_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import mtlspec.io

    target = tmp_path / "a.mtl"
    target.write_text(UGLY)

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mtlspec.io.os, "replace", refuse)
    result = _fmt(str(target))
    assert result.exit_code == 2
    assert "No space left on device" in result.output
    assert target.read_text() == UGLY
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mtl"]


def test_fmt_check(tmp_path: Path):
    ugly, pretty = tmp_path / "ugly.mtl", tmp_path / "pretty.mtl"
    ugly.write_text(UGLY)
    pretty.write_text(PRETTY)
    before = _snapshot(tmp_path)
    result = _fmt("--check", str(ugly), str(pretty))
    assert result.exit_code == 1
    assert f"would reformat {ugly}" in result.output
    assert str(pretty) not in result.output
    assert _snapshot(tmp_path) == before
    assert _fmt("--check", str(pretty)).exit_code == 0


def test_fmt_diff(tmp_path: Path):
    ugly = tmp_path / "ugly.mtl"
    ugly.write_text(UGLY)
    result = _fmt("--diff", str(ugly))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"--- {ugly}" and lines[1] == f"+++ {ugly}"
    assert lines[2].startswith("@@ ")
    assert "-tasks{a:head linear(out=1)}  # keep me" in lines
    assert "+    a: head linear(out=1)  # keep me" in lines
    assert ugly.read_text() == UGLY
    pretty = tmp_path / "pretty.mtl"
    pretty.write_text(PRETTY)
    clean = _fmt("--diff", str(pretty))
    assert clean.exit_code == 0 and clean.stdout == ""


def test_fmt_stdin_to_stdout():
    result = _fmt("-", stdin=UGLY)
    assert result.exit_code == 0
    assert result.stdout == PRETTY
    assert _fmt("--check", "-", stdin=UGLY).exit_code == 1
    assert _fmt("--check", "-", stdin=PRETTY).exit_code == 0


@pytest.mark.parametrize("broken", [
    UGLY.replace("linear(out=1)", "linear(out=1"),
    "model m {\n  tasks {\n",
    PRETTY.replace("{a}", "{a} {a}"),  # parses, but the builder rejects a set listed twice
    b"model m { \xff }\n",
])
def test_fmt_leaves_a_broken_file_alone(tmp_path: Path, broken: str | bytes):
    target = tmp_path / "bad.mtl"
    good = tmp_path / "good.mtl"
    data = broken.encode() if isinstance(broken, str) else broken
    target.write_bytes(data)
    good.write_text(UGLY)
    before = _snapshot(tmp_path)
    result = _fmt(str(target))
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output
    assert _snapshot(tmp_path) == before
    # with another file: the good one is still formatted, the exit code still says 2
    result = _fmt(str(target), str(good))
    assert result.exit_code == 2
    assert target.read_bytes() == data
    assert good.read_text() == PRETTY


def test_fmt_missing_file_is_exit_2(tmp_path: Path):
    result = _fmt(str(tmp_path / "nope.mtl"))
    assert result.exit_code == 2


def test_fmt_carriage_return_in_a_string_is_not_an_internal_error(tmp_path: Path):
    target = tmp_path / "cr.mtl"
    target.write_bytes(PRETTY.replace("backbone convnet", 'backbone "a\rb"').encode())
    assert _fmt(str(target)).exit_code in (0, 2)


def test_fmt_keeps_permissions_of_the_folder_clean(tmp_path: Path):
    # the temporary file is created next to the target, never in the working directory
    work = tmp_path / "cwd"
    work.mkdir()
    target = tmp_path / "a.mtl"
    target.write_text(UGLY)
    old = Path.cwd()
    os.chdir(work)
    try:
        assert _fmt(str(target)).exit_code == 0
    finally:
        os.chdir(old)
    assert list(work.iterdir()) == []


# Characters str.splitlines() treats as line breaks but the grammar (and lark) do not.
ODD_BREAKS = ["\x0b", "\x0c", "\x1c", "\x85", "\u2028"]


@pytest.mark.parametrize("char", ODD_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_odd_line_break_in_a_string_does_not_move_comments(char: str):
    text = PRETTY.replace("backbone convnet", f'backbone "x{char}y"').replace(
        "  layout [\n", "  # rows\n  layout [\n")
    assert reformat(text) == text


@pytest.mark.parametrize("char", ODD_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_odd_line_break_in_a_comment_is_kept(char: str):
    text = PRETTY.replace("# keep me", f"# keep{char}me")
    assert reformat(text) == text


MULTILINE = """grouping g {
  input image: float[1, 3, 32, 32]
  tasks {
    a: head mlp(out=1,  # COMMENT
      hidden=[64,  # COMMENT
        32])
  }
  network A: convnet trains {a,  # COMMENT
    } serves {a}
}
"""
FLAT = """grouping g {
  input image: float[1, 3, 32, 32]
  tasks {
    a: head mlp(out=1, hidden=[64, 32])  # COMMENT # COMMENT
  }
  network A: convnet(width=1.0) trains {a} serves {a}  # COMMENT
}
"""


def test_comments_inside_brackets_are_kept():
    assert reformat(MULTILINE.replace("COMMENT", "why")) == FLAT.replace("COMMENT", "why")


def test_semicolon_in_a_comment_inside_brackets():
    assert reformat(MULTILINE.replace("COMMENT", "a; b")) == FLAT.replace("COMMENT", "a; b")


def test_fmt_on_a_symlink_formats_the_target_and_keeps_the_link(tmp_path: Path):
    target = tmp_path / "real" / "a.mtl"
    target.parent.mkdir()
    target.write_text(UGLY)
    link = tmp_path / "link.mtl"
    link.symlink_to(Path("real") / "a.mtl")
    result = _fmt(str(link))
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(Path("real") / "a.mtl")
    assert target.read_text() == PRETTY
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.mtl"]
