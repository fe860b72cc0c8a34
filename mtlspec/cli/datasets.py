"""`mtlspec datasets`: the data sets `--data` accepts, and the names that `--table`, `--pairs`
(and `--early`, `--eval`) accept."""

from __future__ import annotations

import json

import click


@click.command("datasets")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def datasets_command(as_json: bool) -> None:
    """List the data sets `--data` accepts (tasks, options, folder layouts) and the published
    result tables shipped with mtlspec.

    \b
    mtlspec train specs/scenes_resnet.mtl --data scenes --data-option size=64
    mtlspec train specs/nyuv2_resnet34.mtl --data nyuv2:/data/nyuv2
    mtlspec group --table standley:setting1 --sweep 1:5:0.5
    mtlspec recommend --spec specs/nyuv2_resnet34.mtl --pairs treemtl:nyuv2-resnet34 \\
        --max-models 1.5
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
    import inspect

    from mtlspec.data.registry import dataset_def, list_datasets

    rows = []
    for name in list_datasets():
        entry = dataset_def(name)
        params = inspect.signature(entry.builder).parameters
        options = [k for k, p in params.items()
                   if p.kind is p.KEYWORD_ONLY and k not in ("tasks", "seed")]
        rows.append({"name": f"{name}:DIR" if entry.folder else name,
                     "description": entry.description, "tasks": list(entry.tasks),
                     "options": options, "layout": entry.layout})
    return rows
