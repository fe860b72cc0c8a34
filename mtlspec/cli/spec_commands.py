"""`mtlspec validate`, `mtlspec fmt`, `mtlspec schema`: the spec language on the command line."""

from __future__ import annotations

import difflib
import json
import sys

import click

from mtlspec.cli.options import json_option
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
@json_option("the results")
@click.option("--summary", is_flag=True, help="Print a table of the valid specs.")
def validate_command(files: tuple[str, ...], as_json: bool, summary: bool) -> None:
    """Parse and validate spec FILES; report every error compiler-style (exit 2 if any)."""
    results, docs, failed = [], [], False
    for path in files:
        try:
            doc = load(path)
            validate(doc)
            docs.append(doc)
            results.append({"file": doc.filename, "ok": True, "errors": []})
        except MtlspecError as err:
            failed = True
            results.append({"file": path, "ok": False,
                            "errors": [_as_json(e) for e in _errors_of(err)]})
            if not as_json:
                click.echo(err.render(), err=True)
    if as_json:
        click.echo(json.dumps(results, indent=2))
    elif summary and docs:
        from mtlspec.cli.rich_table import print_table

        rows = [summarize(d.spec, d.filename) for d in docs]
        print_table("specs", rows)
    elif not failed:
        click.echo(f"{len(files)} spec{'s' * (len(files) != 1)} valid")
    if failed:
        sys.exit(2)


@click.command("fmt")
@FILES
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a file is not formatted.")
@click.option("--diff", is_flag=True, help="Print a diff instead of rewriting; exit 1 if any.")
def fmt_command(files: tuple[str, ...], check: bool, diff: bool) -> None:
    """Rewrite spec FILES in canonical form (atomically; comments are kept).

    `-` formats standard input to standard output.
    """
    unformatted, bad = [], False
    for path in files:
        try:
            doc = load(path)
            text = format_spec(doc.spec, doc.comments)
        except MtlspecError as err:
            click.echo(err.render(), err=True)
            bad = True
            continue
        if path == "-" and not (check or diff):
            click.echo(text, nl=False)
            continue
        if text == doc.source:
            continue
        unformatted.append(doc.filename)
        if diff:
            click.echo("".join(difflib.unified_diff(
                doc.source.splitlines(keepends=True), text.splitlines(keepends=True),
                fromfile=doc.filename, tofile=doc.filename)), nl=False)
        elif check:
            click.echo(f"would reformat {doc.filename}", err=True)
        else:
            write_atomic(path, text)
            click.echo(f"reformatted {doc.filename}", err=True)
    if bad:
        sys.exit(2)
    if unformatted and (check or diff):
        sys.exit(1)


@click.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the spec IR (what search runs emit as JSON)."""
    click.echo(json.dumps(ir.json_schema(), indent=2))
