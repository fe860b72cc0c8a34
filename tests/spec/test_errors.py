"""Error reports, compared to golden files, and the CLI's exit codes for bad input.

Every `tests/golden/errors/NAME.mtl` is a bad spec; `NAME.err` holds exactly what
`mtlspec validate tests/golden/errors/NAME.mtl` prints to stderr when run from the repository
root. To rewrite the `.err` files after a deliberate change of messages, run

    MTLSPEC_REGEN=1 .venv/bin/pytest tests/spec/test_errors.py

and read every changed file with `git diff` before committing it: a golden file is only worth
something if a person checked that its message is clear and its caret in the right place.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mtlspec.cli import main
from mtlspec.spec.syntax_errors import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "errors"
CASES = sorted(GOLDEN.glob("*.mtl"))
REGEN = bool(os.environ.get("MTLSPEC_REGEN"))
SPECS = sorted((ROOT / "specs").glob("*.mtl"))
VALID = """model m {
  input image: float[1, 3, 32, 32]
  backbone convnet { blocks: auto(2) }
  tasks { a: head linear(classes=10) }
  layout [ {a}; {a} ]
}
"""
# One report: `FILE:LINE:COL: error: MESSAGE`, then optionally the source line and a caret
# row (both indented by four spaces), then optionally `hint: ...`.
REPORT = re.compile(
    r"(?P<file>[^\n:]+):(?P<line>\d+):(?P<col>\d+): error: (?P<message>[^\n]+)\n"
    r"(?:    [^\n]*\n    [\t ]*\^~*\n)?"
    r"(?:hint: [^\n]+\n)?"
)


def _validate(
    monkeypatch: pytest.MonkeyPatch, *args: str, stdin: bytes | str | None = None
) -> Result:
    monkeypatch.chdir(ROOT)
    return CliRunner().invoke(main, ["validate", *args], input=stdin)


def _no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


# ---------------------------------------------------------------------- golden files
def test_the_corpus_is_large():
    assert len(CASES) >= 45


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_error(path: Path, monkeypatch: pytest.MonkeyPatch):
    relative = path.relative_to(ROOT).as_posix()
    result = _validate(monkeypatch, relative)
    _no_traceback(result)
    assert result.exit_code == 2
    assert result.stdout == ""
    expected = path.with_suffix(".err")
    if REGEN:
        expected.write_text(result.stderr, encoding="utf-8")
    assert expected.exists(), f"no golden file {expected.name}: run with MTLSPEC_REGEN=1"
    assert result.stderr == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_reports_are_compiler_style(path: Path):
    """Every report in a golden file is `file:line:col: error:` + source + caret + hint."""
    text = path.with_suffix(".err").read_text(encoding="utf-8")
    text = re.sub(r"\.\.\. and \d+ more errors?\n\Z", "", text)
    reports = list(REPORT.finditer(text))
    assert reports and "".join(m.group() for m in reports) == text
    for report in reports:
        assert report["file"] == path.relative_to(ROOT).as_posix()
        assert int(report["line"]) >= 1 and int(report["col"]) >= 1


def test_every_syntax_label_has_a_golden_case():
    reports = "".join(p.with_suffix(".err").read_text(encoding="utf-8") for p in CASES)
    missing = [label for label in EXAMPLES if f"error: {label} (found " not in reports]
    assert not missing


def test_golden_syntax_cases_are_labelled():
    """Syntax cases read like a person wrote them; the generic fallback is the exception."""
    generic = []
    for path in CASES:
        if path.stem.startswith("syntax_") and path.stem != "syntax_tab_indented":
            first = path.with_suffix(".err").read_text(encoding="utf-8").splitlines()[0]
            if re.search(r"error: unexpected .*; expected ", first):
                generic.append(path.stem)
    assert not generic


def test_carets_keep_tabs_aligned():
    lines = (GOLDEN / "syntax_tab_indented.err").read_text(encoding="utf-8").splitlines()
    source, caret = lines[1], lines[2]
    assert source.startswith("    \t") and caret.startswith("    \t")
    assert caret.index("^") == source.rindex(" out") + 1 and caret.endswith("^~~")


def test_error_cap(monkeypatch: pytest.MonkeyPatch):
    result = _validate(monkeypatch, "tests/golden/errors/tree_more_than_twenty_errors.mtl")
    assert result.stderr.count(": error: ") == 20
    assert result.stderr.endswith("... and 2 more errors\n")


@pytest.mark.parametrize(
    "name", ["syntax_task_list_not_closed", "tree_row_does_not_refine", "file_not_utf8"]
)
def test_golden_error_in_a_real_process(name: str):
    """The same bytes on a real stderr, from a real `python -m mtlspec` process."""
    relative = f"tests/golden/errors/{name}.mtl"
    out = subprocess.run([sys.executable, "-m", "mtlspec", "validate", relative], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == (GOLDEN / f"{name}.err").read_text(encoding="utf-8")


# ---------------------------------------------------------------------- exit codes
def test_valid_specs_exit_0(monkeypatch: pytest.MonkeyPatch):
    result = _validate(monkeypatch, *[p.relative_to(ROOT).as_posix() for p in SPECS])
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout == f"{len(SPECS)} spec{'s' * (len(SPECS) != 1)} valid\n"


def test_one_bad_file_among_good_ones_exits_2(monkeypatch: pytest.MonkeyPatch):
    bad = "tests/golden/errors/tree_unknown_head.mtl"
    good = SPECS[0].relative_to(ROOT).as_posix()
    result = _validate(monkeypatch, good, bad, good)
    _no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr == (GOLDEN / "tree_unknown_head.err").read_text(encoding="utf-8")


def test_every_bad_file_is_reported(monkeypatch: pytest.MonkeyPatch):
    names = ["tree_unknown_head", "dag_flow_out_of_range", "syntax_bad_edge"]
    result = _validate(monkeypatch, *[f"tests/golden/errors/{n}.mtl" for n in names])
    assert result.exit_code == 2
    assert result.stderr == "".join((GOLDEN / f"{n}.err").read_text(encoding="utf-8")
                                    for n in names)


def test_missing_file_exits_2(monkeypatch: pytest.MonkeyPatch):
    result = _validate(monkeypatch, "no/such/spec.mtl")
    _no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr == "no/such/spec.mtl: error: cannot read no/such/spec.mtl: " \
                            "No such file or directory\n"


def test_directory_exits_2(monkeypatch: pytest.MonkeyPatch):
    result = _validate(monkeypatch, "specs")
    _no_traceback(result)
    assert result.exit_code == 2
    assert "is a directory" in result.stderr


def test_unreadable_file_exits_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    spec = tmp_path / "secret.mtl"
    spec.write_text(VALID)
    spec.chmod(0)
    try:
        if os.access(spec, os.R_OK):
            pytest.skip("running as a user who can read any file")
        result = _validate(monkeypatch, str(spec))
    finally:
        spec.chmod(0o644)
    _no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr == f"{spec}: error: cannot read {spec}: Permission denied\n"


def test_too_large_file_exits_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    # (`mtlspec.spec.parse` as an attribute path is the function the package re-exports)
    monkeypatch.setattr(sys.modules["mtlspec.spec.parse"], "MAX_BYTES", 2**20)
    spec = tmp_path / "big.mtl"
    spec.write_bytes(b"#" * (2**20 + 1))
    result = _validate(monkeypatch, str(spec))
    _no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr == f"{spec}: error: {spec} is larger than 1 MiB\n"


def test_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch):
    result = _validate(monkeypatch, "-", stdin=VALID)
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert result.stdout == "1 spec valid\n"


def test_dash_reports_errors_as_stdin(monkeypatch: pytest.MonkeyPatch):
    result = _validate(monkeypatch, "-", stdin=VALID.replace("linear", "lineer"))
    _no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr == (
        "<stdin>:4:19: error: unknown head `lineer`\n"
        "      tasks { a: head lineer(classes=10) }\n"
        "                      ^~~~~~\n"
        "hint: did you mean `linear`?\n"
    )


def test_dash_with_bytes_that_are_not_utf8(monkeypatch: pytest.MonkeyPatch):
    result = _validate(monkeypatch, "-", stdin=b"model m {\n  input x: \xff\n}\n")
    _no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.startswith("<stdin>:2:12: error: not UTF-8 text: byte 0xff")


def test_empty_stdin(monkeypatch: pytest.MonkeyPatch):
    result = _validate(monkeypatch, "-", stdin="")
    assert result.exit_code == 2
    assert result.stderr.startswith("<stdin>:1:1: error: the file holds no spec\n")


@pytest.mark.parametrize(
    "args",
    [["frobnicate"], ["validate"], ["validate", "--frobnicate", "x.mtl"], ["--frobnicate"],
     ["fmt"], ["validate", "--json"]],
    ids=["unknown-command", "no-file", "unknown-flag", "unknown-global-flag", "fmt-no-file",
         "json-no-file"],
)
def test_usage_errors_exit_2(args: list[str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, args)
    _no_traceback(result)
    assert result.exit_code == 2
    assert "Usage:" in result.stderr and "Error:" in result.stderr


def test_json_report_of_a_syntax_error(monkeypatch: pytest.MonkeyPatch):
    result = _validate(monkeypatch, "--json", "tests/golden/errors/syntax_bad_edge.mtl")
    assert result.exit_code == 2
    assert '"message": "edges are written `i->j` (found number `-3`)"' in result.stdout
    assert '"line": 17' in result.stdout and '"column": 13' in result.stdout


@pytest.mark.parametrize("seed", ["1", "2"])
def test_golden_errors_do_not_depend_on_hash_order(seed: str):
    """Messages must not follow set iteration order, which string hashing changes per run."""
    files = [p.relative_to(ROOT).as_posix() for p in CASES]
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run([sys.executable, "-m", "mtlspec", "validate", *files], cwd=ROOT,
                         env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 2
    assert out.stderr == "".join(p.with_suffix(".err").read_text(encoding="utf-8") for p in CASES)
