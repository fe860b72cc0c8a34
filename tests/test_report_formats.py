"""`--output-format github|junit` of validate, fmt --check, check and diff, compared to golden
files, and the escaping rules of GitHub's workflow commands.

Each `tests/golden/reports/NAME.out` holds what `mtlspec ARGS` prints to standard output, run
from the repository root, then the exit code. After a deliberate change, rewrite them with

    MTLSPEC_REGEN=1 .venv/bin/pytest tests/test_report_formats.py

and read the diff before committing it.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.cli.report_formats import Case, Finding, github, junit

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "reports"
D = "tests/golden/reports"
REGEN = bool(os.environ.get("MTLSPEC_REGEN"))
CASES = {
    "validate_github": ["validate", f"{D}/ok.mtl", f"{D}/bad.mtl", "--output-format", "github"],
    "validate_junit": ["validate", f"{D}/ok.mtl", f"{D}/bad.mtl", "--output-format", "junit"],
    "fmt_check_github": ["fmt", "--check", f"{D}/ok.mtl", f"{D}/ugly.mtl", "--output-format",
                         "github"],
    "fmt_check_junit": ["fmt", "--check", f"{D}/ok.mtl", f"{D}/ugly.mtl", "--output-format",
                        "junit"],
    "check_github": ["check", f"{D}/ok.mtl", f"{D}/over.mtl", f"{D}/bad.mtl",
                     "--output-format", "github"],
    "check_junit": ["check", f"{D}/ok.mtl", f"{D}/over.mtl", f"{D}/bad.mtl",
                    "--output-format", "junit"],
    "check_against_github": ["check", f"{D}/head.mtl", "--against", f"{D}/ok.mtl",
                             "--max-increase", "1%", "--output-format", "github"],
    "diff_github": ["diff", f"{D}/ok.mtl", f"{D}/head.mtl", "--output-format", "github"],
    "diff_junit": ["diff", f"{D}/ok.mtl", f"{D}/head.mtl", "--output-format", "junit"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_report(name: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, CASES[name])
    got = f"{result.stdout}exit: {result.exit_code}\n"
    expected = GOLDEN / f"{name}.out"
    if REGEN:
        expected.write_text(got, encoding="utf-8")
    assert expected.exists(), f"no golden file {expected.name}: run with MTLSPEC_REGEN=1"
    assert got == expected.read_text(encoding="utf-8")
    if name.endswith("junit"):
        ET.fromstring(result.stdout.encode())  # well-formed XML


def test_nothing_found_prints_nothing(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["validate", f"{D}/ok.mtl", "--output-format", "github"])
    assert result.exit_code == 0 and result.stdout == ""


def test_output_writes_the_report_to_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    report = tmp_path / "reports" / "validate.xml"
    result = CliRunner().invoke(main, CASES["validate_junit"] + ["--output", str(report)])
    assert result.exit_code == 2 and result.stdout == ""
    suite = ET.parse(report).getroot()
    assert (suite.get("tests"), suite.get("errors")) == ("2", "1")


@pytest.mark.parametrize(("args", "message"), [
    (["validate", f"{D}/ok.mtl", "--json", "--output-format", "junit"], "disagree"),
    (["validate", f"{D}/ok.mtl", "--output", "x.xml"], "--output needs"),
    (["fmt", f"{D}/ok.mtl", "--output-format", "github"], "reports on `fmt --check` only"),
    (["check", f"{D}/ok.mtl", "--output-format", "sarif"], "Invalid value"),
])
def test_bad_format_options_are_usage_errors(args, message, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and message in result.output


def test_github_escapes_data_and_properties():
    finding = Finding("50% over\r\nhint: a, b: c", "dir:a,b.mtl", 3, 7, title="t: x, y")
    assert github([Case("x", [finding])]) == (
        "::error file=dir%3Aa%2Cb.mtl,line=3,col=7,title=t%3A x%2C y::"
        "50%25 over%0D%0Ahint: a, b: c\n")
    assert github([Case("x", [Finding("no file")])]) == "::error::no file\n"
    assert github([Case("x")]) == ""


def test_junit_counts_errors_over_failures_and_escapes_xml():
    cases = [Case("a", [Finding("<over> & out", "a.mtl", 1)]),
             Case("b", [Finding("bad", "b.mtl", kind="error"), Finding("over", "b.mtl")]),
             Case("c", [Finding("just a note", level="notice")])]
    root = ET.fromstring(junit("mtlspec check", cases))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    first = root.find("testsuite/testcase[@name='a']/failure")
    assert first.get("message") == "<over> & out" and first.text == "a.mtl:1: <over> & out"
    assert root.find("testsuite/testcase[@name='c']/system-out").text == "just a note"
