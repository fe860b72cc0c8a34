"""`mtlspec weightings`: every loss weighting / gradient aggregation method, with its paper,
kind and options (what `mtlspec train --weighting NAME --weighting-option KEY=VALUE` takes)."""

from __future__ import annotations

import json

import click


def _options_text(options: dict) -> str:
    """k=default, ...; a None default is chosen at run time (lr: the model's)."""
    return ", ".join(f"{k}={'auto' if o['default'] is None else o['default']}"
                     for k, o in options.items()) or "-"


@click.command("weightings")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Also say what each option means.")
def weightings_command(as_json: bool, verbose: bool) -> None:
    """List the loss weightings and gradient aggregations `mtlspec train --weighting` takes.

    kind: loss (weights from the losses and, for gradnorm / db-mtl, gradient norms) or
    gradient (combines the task gradients). needs: what a training step computes for it —
    per-task gradients cost one backward pass per task; rep_grad=true takes them w.r.t. the
    shared trunk's output instead (cheaper; needs an all-shared trunk).

    \b
    mtlspec weightings
    mtlspec train spec.mtl --weighting upgrad --weighting-option rep_grad=true
    """
    from mtlspec.train.weighting import describe

    rows = describe()
    if as_json:
        click.echo(json.dumps({"weightings": rows}, indent=2))
        return
    from rich.markup import escape

    from mtlspec.cli.rich_table import print_table

    print_table(f"{len(rows)} weightings", [
        {"name": r["name"], "kind": r["kind"], "needs": r["needs"], "paper": r["paper"],
         "options (defaults)": _options_text(r["options"])
         + (escape(f"\nneeds pip install 'mtlspec[{r['extra']}]'") if r["extra"] else "")}
        for r in rows])
    if verbose:
        for r in rows:
            for key, option in r["options"].items():
                click.echo(f"{r['name']:<12} {key:<22} {option['help']}")
