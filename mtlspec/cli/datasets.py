"""`mtlspec datasets`: the names that `--table`, `--pairs` (and `--early`, `--eval`) accept."""

from __future__ import annotations

import json

import click

from mtlspec.cli.options import json_option


@click.command("datasets")
@json_option("the list")
def datasets_command(as_json: bool) -> None:
    """List the published result tables shipped with mtlspec.

    \b
    mtlspec group --table standley:setting1 --sweep 1:5:0.5
    mtlspec recommend --spec specs/nyuv2_resnet34.mtl --pairs treemtl:nyuv2-resnet34 \\
        --max-models 2
    """
    from mtlspec.data.published import TABLES

    rows = [{"name": t.name, "kind": t.kind, "tasks": list(t.tasks),
             "description": t.description, "file": t.file} for t in TABLES.values()]
    if as_json:
        click.echo(json.dumps({"tables": rows}, indent=2))
        return
    uses = {"grouping": "--table/--early/--eval of `mtlspec group`",
            "pairs": "--pairs of `mtlspec recommend`"}
    for kind, use in uses.items():
        click.echo(f"{kind} tables ({use}):")
        for row in (r for r in rows if r["kind"] == kind):
            click.echo(f"  {row['name']:<28} {row['description']}")
            click.echo(f"  {'':<28} tasks: {', '.join(row['tasks'])}")
