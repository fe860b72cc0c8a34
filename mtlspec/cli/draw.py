"""`mtlspec draw`: a diagram of a spec (tree, per-task DAG topologies, or grouping)."""

from __future__ import annotations

import click

from mtlspec.spec import load, validate


@click.command("draw")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The file to write: .png, .svg or .dot (replaced atomically).")
def draw_command(file: str, output: str) -> None:
    """Draw spec FILE: a tree's blocks × task sets, a DAG's per-task topologies, or a
    grouping's networks → served tasks. The format follows the extension of -o.

    \b
    mtlspec draw specs/nyuv2_resnet34.mtl -o tree.png
    mtlspec draw specs/nyuv2_dag.mtl -o dag.svg
    mtlspec draw specs/taskonomy_grouping_2_5.mtl -o grouping.dot
    """
    from mtlspec.draw import draw, format_of

    format_of(output)  # a bad extension fails before the spec is read
    spec = validate(load(file))
    fmt = draw(spec, output)
    click.echo(f"wrote {output} ({fmt}): {spec.name}")
