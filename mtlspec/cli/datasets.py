"""`mtlspec datasets`: the data sets `--data` accepts, and the names that `--table`, `--pairs`
(and `--early`, `--eval`) accept."""

from __future__ import annotations

import json

import click

from mtlspec.cli.options import json_option


@click.command("datasets")
@json_option("the list")
def datasets_command(as_json: bool) -> None:
    """List the data sets `--data` accepts (tasks, options, folder layouts) and the published
    result tables shipped with mtlspec.

    \b
    mtlspec train specs/scenes_resnet.mtl --data scenes --data-option size=64
    mtlspec train specs/nyuv2_resnet34.mtl --data nyuv2:/data/nyuv2
    mtlspec group --table standley:setting1 --sweep 1:5:0.5
    mtlspec recommend --spec specs/nyuv2_resnet34.mtl --pairs treemtl:nyuv2-resnet34 \\
        --max-models 2
    """
    from mtlspec.data.published import TABLES

    rows = [{"name": t.name, "kind": t.kind, "tasks": list(t.tasks),
             "description": t.description, "file": t.file} for t in TABLES.values()]
    data = _data_sets()
    if as_json:
        click.echo(json.dumps({"data": data, "tables": rows}, indent=2))
        return
    click.echo("data sets (--data of `mtlspec train`; pkg.module:callable with --allow-import):")
    for row in data:
        click.echo(f"  {row['name']:<28} {row['description']}")
        click.echo(f"  {'':<28} tasks: {', '.join(row['tasks'])}")
        if row["options"]:
            click.echo(f"  {'':<28} options: {', '.join(row['options'])}")
        if row["layout"]:
            click.echo(f"  {'':<28} layout: {row['layout']}")
    uses = {"grouping": "--table/--early/--eval of `mtlspec group`",
            "pairs": "--pairs of `mtlspec recommend`"}
    for kind, use in uses.items():
        click.echo(f"{kind} tables ({use}):")
        for row in (r for r in rows if r["kind"] == kind):
            click.echo(f"  {row['name']:<28} {row['description']}")
            click.echo(f"  {'':<28} tasks: {', '.join(row['tasks'])}")


def _data_sets() -> list[dict]:
    from mtlspec.data.catalog import SHIPPED  # torch-free: listing builds no data

    return [{"name": f"{d.name}:DIR" if d.folder else d.name, "description": d.description,
             "tasks": list(d.tasks), "options": list(d.options), "layout": d.layout}
            for d in sorted(SHIPPED.values(), key=lambda d: d.name)]
