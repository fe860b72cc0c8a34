"""Machine-readable reports for CI: GitHub workflow annotations and JUnit XML
(`--output-format github|junit` on `validate`, `fmt --check`, `check`, `diff`).

A command describes what it found as `Case`s (one per spec file or check), each with its
`Finding`s (an error, a warning or a notice, with a location when there is one); these
functions print them:

- `github`: one workflow command per finding, `::error file=F,line=L,col=C::message`, so the
  finding shows on the pull request's diff. Values are escaped as GitHub's toolkit does:
  `%`, CR and LF in the message; also `:` and `,` in the properties.
- `junit`: one `<testsuite>` per command and one `<testcase>` per case, failures (a check
  that did not pass, exit 1) and errors (bad input, exit 2) inside; no timestamps, so the
  report is reproducible.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from mtlspec.errors import MtlspecError, SpecError, SpecErrors

LEVELS = ("error", "warning", "notice")


@dataclass(frozen=True)
class Finding:
    """One thing to report about one file.

    Attributes:
        message: what, in words (may span lines: a hint goes on its own line).
        file: the file it is about (None: no file).
        line, column, end_line, end_column: 1-based location (None: unknown).
        level: error, warning or notice.
        kind: `failure` (a check did not pass) or `error` (bad input), for JUnit.
        title: a short title (GitHub shows it above the message).
    """

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    level: str = "error"
    kind: str = "failure"
    title: str | None = None


@dataclass
class Case:
    """One test case of the JUnit report: a spec file (or one comparison) and its findings."""

    name: str
    findings: list[Finding] = field(default_factory=list)
    output: str = ""  # what the text report said about it (JUnit's system-out)


def findings_of(err: MtlspecError, file: str | None, title: str) -> list[Finding]:
    """The findings of an error: one per located spec error, else one for the whole file.

    Example:
        >>> from mtlspec.errors import Span
        >>> err = SpecError("unknown task `dept`", Span(3, 5, 3, 9), "did you mean `depth`?",
        ...                 filename="x.mtl")
        >>> f = findings_of(err, "x.mtl", "invalid spec")[0]
        >>> (f.file, f.line, f.column, f.end_column, f.message)
        ('x.mtl', 3, 5, 9, 'unknown task `dept`\\nhint: did you mean `depth`?')
    """
    errors = list(err.errors) if isinstance(err, SpecErrors) else [err]
    out = []
    for e in errors:
        if isinstance(e, SpecError):
            span = e.span
            text = e.message + (f"\nhint: {e.hint}" if e.hint else "")
            out.append(Finding(text, e.filename if e.filename != "<spec>" else file,
                               span and span.line, span and span.column,
                               span and span.end_line, span and span.end_column,
                               kind="error", title=title))
        else:
            out.append(Finding(str(e), file, kind="error", title=title))
    return out


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(cases: list[Case]) -> str:
    """Workflow commands, one line per finding (empty when nothing was found).

    Example:
        >>> case = Case("a.mtl", [Finding("over: 2, 3%\\nhint: x", "a,b.mtl", 4, 2,
        ...                               title="budget exceeded")])
        >>> print(github([case]))
        ::error file=a%2Cb.mtl,line=4,col=2,title=budget exceeded::over: 2, 3%25%0Ahint: x
    """
    lines = []
    for case in cases:
        for f in case.findings:
            props = [("file", f.file), ("line", f.line), ("col", f.column),
                     ("endLine", f.end_line), ("endColumn", f.end_column), ("title", f.title)]
            text = ",".join(f"{k}={_escape_property(str(v))}" for k, v in props
                            if v is not None)
            lines.append(f"::{f.level}{' ' + text if text else ''}::{_escape_data(f.message)}")
    return "\n".join(lines) + ("\n" if lines else "")


def junit(suite: str, cases: list[Case]) -> str:
    """A JUnit XML report: one testsuite named `suite`, one testcase per case.

    Example:
        >>> print(junit("mtlspec fmt", [Case("a.mtl"), Case("b.mtl", [Finding("not formatted",
        ...       "b.mtl", 3)])]), end="")
        <?xml version="1.0" encoding="utf-8"?>
        <testsuites name="mtlspec" tests="2" failures="1" errors="0">
          <testsuite name="mtlspec fmt" tests="2" failures="1" errors="0">
            <testcase classname="mtlspec fmt" name="a.mtl" />
            <testcase classname="mtlspec fmt" name="b.mtl">
              <failure message="not formatted" type="failure">b.mtl:3: not formatted</failure>
            </testcase>
          </testsuite>
        </testsuites>
    """
    outcome = [_outcome(case) for case in cases]
    counts = {"tests": str(len(cases)), "failures": str(outcome.count("failure")),
              "errors": str(outcome.count("error"))}
    root = ET.Element("testsuites", {"name": "mtlspec", **counts})
    node = ET.SubElement(root, "testsuite", {"name": suite, **counts})
    for case in cases:
        element = ET.SubElement(node, "testcase", {"classname": suite, "name": case.name})
        for f in case.findings:
            if f.level != "error":
                continue
            where = ":".join(str(p) for p in (f.file, f.line, f.column) if p is not None)
            tag = "error" if f.kind == "error" else "failure"
            child = ET.SubElement(element, tag, {"message": f.message.split("\n")[0],
                                                 "type": f.title or f.kind})
            child.text = f"{where}: {f.message}" if where else f.message
        notes = [f.message for f in case.findings if f.level != "error"]
        if case.output or notes:
            ET.SubElement(element, "system-out").text = "\n".join(
                filter(None, [case.output, *notes]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _outcome(case: Case) -> str:
    """`error` (bad input) over `failure` (a check failed) over `ok`: what JUnit counts."""
    kinds = {f.kind for f in case.findings if f.level == "error"}
    return "error" if "error" in kinds else "failure" if kinds else "ok"


def render(output_format: str, suite: str, cases: list[Case]) -> str:
    """The report in `github` or `junit` format."""
    return github(cases) if output_format == "github" else junit(suite, cases)
