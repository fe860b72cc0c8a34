"""`mtlspec validate`, `mtlspec fmt`, `mtlspec schema`: the spec language on the command line."""

from __future__ import annotations

import difflib
import json
import sys

import click

from mtlspec.cli.options import emit_report, output_format_option, resolve_output_format
from mtlspec.cli.report_formats import Case, Finding, findings_of, render
from mtlspec.errors import MtlspecError, SpecError, SpecErrors
from mtlspec.io import write_atomic
from mtlspec.spec import format as format_spec
from mtlspec.spec import ir, load, validate
from mtlspec.spec.summary import summarize

FILES = click.argument(
    "files", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True)
)


def _errors_of(err: MtlspecError) -> list[MtlspecError]:
    return list(err.errors) if isinstance(err, SpecErrors) else [err]


def _as_json(err: MtlspecError) -> dict:
    if isinstance(err, SpecError):
        span = err.span
        return {
            "file": err.filename, "message": err.message, "hint": err.hint,
            "line": span.line if span else None, "column": span.column if span else None,
        }
    return {"file": None, "message": str(err), "hint": None, "line": None, "column": None}


@click.command("validate")
@FILES
@output_format_option()
@click.option("--summary", is_flag=True, help="Print a table of the valid specs.")
def validate_command(files: tuple[str, ...], as_json: bool, output_format: str,
                     output: str | None, summary: bool) -> None:
    """Parse and validate spec FILES; report every error compiler-style (exit 2 if any).

    \b
    mtlspec validate specs/*.mtl
    mtlspec validate specs/*.mtl --output-format github   # annotations on the pull request
    """
    chosen = resolve_output_format(output_format, as_json, output)
    results, docs, cases, failed = [], [], [], False
    for path in files:
        try:
            doc = load(path)
            validate(doc)
            docs.append(doc)
            results.append({"file": doc.filename, "ok": True, "errors": []})
            cases.append(Case(doc.filename))
        except MtlspecError as err:
            failed = True
            results.append({"file": path, "ok": False,
                            "errors": [_as_json(e) for e in _errors_of(err)]})
            cases.append(Case(path, findings_of(err, path, "invalid spec")))
            if chosen != "json":
                click.echo(err.render(), err=True)
    if chosen == "json":
        emit_report(json.dumps(results, indent=2), output)
    elif chosen != "text":
        emit_report(render(chosen, "mtlspec validate", cases), output)
    elif summary and docs:
        from mtlspec.cli.rich_table import print_table

        rows = [summarize(d.spec, d.filename) for d in docs]
        print_table("specs", rows)
    elif not failed:
        click.echo(f"{len(files)} spec{'s' * (len(files) != 1)} valid")
    if failed:
        sys.exit(2)


def _first_difference(old: str, new: str) -> int:
    """The 1-based line where two texts first differ."""
    for i, (a, b) in enumerate(zip(old.splitlines(), new.splitlines(), strict=False), 1):
        if a != b:
            return i
    return min(len(old.splitlines()), len(new.splitlines())) + 1


@click.command("fmt")
@FILES
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a file is not formatted.")
@click.option("--diff", is_flag=True, help="Print a diff instead of rewriting; exit 1 if any.")
@output_format_option(json_synonym=False)
def fmt_command(files: tuple[str, ...], check: bool, diff: bool, output_format: str,
                output: str | None) -> None:
    """Rewrite spec FILES in canonical form (atomically; comments are kept).

    `-` formats standard input to standard output. With --check, --output-format
    json|github|junit reports each file that is not formatted (github: at its first line
    that would change).
    """
    chosen = resolve_output_format(output_format, False, output)
    if chosen != "text" and not check:
        raise click.UsageError(f"--output-format {chosen} reports on `fmt --check` only")
    unformatted, bad, cases = [], False, []
    for path in files:
        try:
            doc = load(path)
            text = format_spec(doc.spec, doc.comments)
        except MtlspecError as err:
            click.echo(err.render(), err=True)
            cases.append(Case(path, findings_of(err, path, "invalid spec")))
            bad = True
            continue
        if path == "-" and not (check or diff):
            click.echo(text, nl=False)
            continue
        case = Case(doc.filename)
        cases.append(case)
        if text == doc.source:
            continue
        unformatted.append(doc.filename)
        case.findings.append(Finding(
            f"not in canonical form; `mtlspec fmt {doc.filename}` rewrites it",
            doc.filename, _first_difference(doc.source, text), title="not formatted"))
        if diff:
            click.echo("".join(difflib.unified_diff(
                doc.source.splitlines(keepends=True), text.splitlines(keepends=True),
                fromfile=doc.filename, tofile=doc.filename)), nl=False)
        elif check:
            click.echo(f"would reformat {doc.filename}", err=True)
        else:
            write_atomic(path, text)
            click.echo(f"reformatted {doc.filename}", err=True)
    if chosen == "json":
        emit_report(json.dumps([{"file": c.name, "formatted": not c.findings,
                                 "errors": [f.message for f in c.findings if f.kind == "error"]}
                                for c in cases], indent=2), output)
    elif chosen != "text":
        emit_report(render(chosen, "mtlspec fmt", cases), output)
    if bad:
        sys.exit(2)
    if unformatted and (check or diff):
        sys.exit(1)


@click.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the spec IR (what search runs emit as JSON)."""
    click.echo(json.dumps(ir.json_schema(), indent=2))
