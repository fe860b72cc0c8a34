"""`mtlspec group`: choose networks under an inference budget (Standley et al.) → grouping spec.

`mtlspec group --table T --budget B` selects (the default subcommand, `select`);
`mtlspec group plan --spec base.mtl -o plan/` writes the training plan that fills the table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mtlspec.cli.data_source import data_source_options, resolve_data
from mtlspec.cli.lazy import DefaultGroup
from mtlspec.cli.options import json_option
from mtlspec.errors import MtlspecError

FORMAT = click.Choice(["csv", "json", "standley"])


def _load(path: str | None, fmt: str | None, tasks: str | None):
    from mtlspec.search.grouping.table import load_table

    if path is None:
        return None
    names = [t.strip() for t in tasks.split(",")] if tasks else None
    return load_table(path, format=fmt, tasks=names)


def _base(path: str | None):
    if path is None:
        return None
    from mtlspec.spec import load, validate

    return validate(load(path))


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.5f}"


@click.group("group", cls=DefaultGroup, default="select")
def group() -> None:
    """Task grouping (Standley et al.): select networks under a budget, or plan their training.

    \b
    mtlspec group --table standley:setting1 --budget 2.5 -o grouping.mtl   (runs `select`)
    mtlspec group plan --spec base.mtl --half-size -o plan/
    """


@group.command("select")
@click.option("--table", "table_path", required=True, type=click.Path(dir_okay=False),
              help="Candidate networks with costs and per-task losses (validation split): a "
              "file, or a shipped table such as standley:setting1 (`mtlspec datasets`).")
@click.option("--format", "fmt", type=FORMAT, default=None,
              help="Table format; default by extension: .csv, .json, else standley (TSV).")
@click.option("--tasks", default=None, help="Column names for standley tables, e.g. a,b,c.")
@click.option("--budget", type=float, default=None, help="Inference budget (table's cost unit).")
@click.option("--sweep", "sweep_text", default=None, metavar="START:STOP:STEP",
              help="Print the budget → total table for these budgets instead of writing a spec.")
@click.option("--method", type=click.Choice(["optimal", "hoa", "esa"]), default="optimal",
              show_default=True, help="Select on the table, its higher-order approximation, "
              "or an early-stopped table (--early).")
@click.option("--early", "early_path", default=None, type=click.Path(dir_okay=False),
              help="Early-stopped table for --method esa (e.g. standley:setting1-esa).")
@click.option("--eval", "eval_path", default=None, type=click.Path(dir_okay=False),
              help="Report the chosen networks on this table too (test split, e.g. "
              "standley:setting1-test).")
@click.option("--base-spec", "base_path", default=None, type=click.Path(dir_okay=False),
              help="Spec supplying the input, task heads and backbone.")
@click.option("--name", default=None, help="Name of the written spec (default: the base's).")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Write the grouping spec here (default: standard output).")
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False),
              help="With --sweep: write the trade-off plot (PNG) here.")
@json_option("the result")
def group_command(table_path, fmt, tasks, budget, sweep_text, method, early_path, eval_path,
                  base_path, name, output, plot_path, as_json) -> None:
    """Choose the networks that serve every task best within an inference budget.

    Selection is exact (dynamic programming over task subsets). The chosen networks are
    written as a grouping spec; with --sweep, a table of budget → total loss is printed.
    `mtlspec group plan` writes the trainings that fill such a table (see its --help).

    \b
    mtlspec group --table results.txt --budget 2.5 --base-spec s.mtl -o grouping.mtl
    mtlspec group --table standley:setting1 --sweep 1:5:0.5 --eval standley:setting1-test
    """
    if (budget is None) == (sweep_text is None):
        raise MtlspecError("give exactly one of --budget B and --sweep START:STOP:STEP")
    if sweep_text is not None and output is not None:
        raise MtlspecError("--sweep prints a table and writes no spec; drop -o (use --plot)")
    if plot_path is not None and sweep_text is None:
        raise MtlspecError("--plot draws a budget sweep; use it with --sweep")
    if early_path is not None and method != "esa":
        raise MtlspecError("--early is the selection table of --method esa")
    table = _load(table_path, fmt, tasks)
    early = _load(early_path, fmt, tasks)
    eval_table = _load(eval_path, fmt, tasks)
    if sweep_text is not None:
        _sweep(table, sweep_text, method, early, eval_table, plot_path, as_json)
    else:
        _single(table, budget, method, early, eval_table, _base(base_path), name, output,
                as_json)


def _single(table, budget, method, early, eval_table, base, name, output, as_json) -> None:
    from mtlspec.io import write_atomic
    from mtlspec.search.grouping.report import check_compatible, selection_table
    from mtlspec.search.grouping.selection import evaluate, reassign, select
    from mtlspec.search.grouping.spec import to_spec
    from mtlspec.spec import format as format_spec

    if eval_table is not None:
        check_compatible(table, eval_table)
    chooser = selection_table(method, table, early)
    chosen = select(chooser, budget)
    if chooser is not table:  # trained networks: their real values pick the servers
        chosen = reassign(chosen, table)  # and a network left serving nothing is dropped
    spec = to_spec(chosen, table, base=base, name=name, budget=budget)
    text = format_spec(spec)
    totals = {"selected": evaluate(chosen, chooser), "table": evaluate(chosen, table),
              "eval": evaluate(chosen, eval_table) if eval_table is not None else None}
    if output is not None:
        write_atomic(output, text)
    if as_json:
        report = {"budget": budget, "method": method, "cost": chosen.cost, **totals,
                  "networks": [{"name": c.candidate.name, "trains": sorted(c.candidate.loss),
                                "serves": list(c.serves), "cost": c.candidate.cost,
                                "width": c.candidate.width} for c in chosen.choices]}
        if output is None:
            report["spec"] = text
        click.echo(json.dumps(report, indent=2))
        return
    if output is None:
        click.echo(text, nl=False)
    lines = [f"{method}: {len(chosen.choices)} networks, cost {chosen.cost:g} of {budget:g} "
             f"{table.cost_unit}: {chosen.describe()}",
             f"total on {table.source}: {totals['table']:.5f}"]
    if method != "optimal":
        lines.append(f"total predicted by the selection table: {totals['selected']:.5f}")
    if eval_table is not None:
        lines.append(f"total on {eval_table.source}: {totals['eval']:.5f}")
    if output is not None:
        lines.append(f"wrote {output}")
    click.echo("\n".join(lines), err=True)


def _sweep(table, sweep_text, method, early, eval_table, plot_path, as_json) -> None:
    from mtlspec.search.grouping.report import baselines, parse_sweep, plot_tradeoff, sweep
    from mtlspec.search.grouping.selection import evaluate

    rows = sweep(table, parse_sweep(sweep_text), method=method, early=early,
                 eval_table=eval_table)
    refs = baselines(table)
    if plot_path is not None:
        plot_tradeoff(rows, table, plot_path, method=method, eval_table=eval_table)
    if as_json:
        data = {"method": method, "rows": [
            {"budget": r.budget, "cost": r.selection.cost if r.selection else None,
             "networks": r.selection.describe() if r.selection else None,
             "selected": r.selected, "table": r.table, "eval": r.eval} for r in rows],
            "baselines": {k: {"cost": b.cost, "table": b.total,
                              "eval": evaluate(b, eval_table) if eval_table else None}
                          for k, b in refs.items()}}
        click.echo(json.dumps(data, indent=2))
        return
    _print_sweep(rows, refs, table, method, eval_table)
    if plot_path is not None:
        click.echo(f"wrote {plot_path}", err=True)


def _print_sweep(rows, refs, table, method, eval_table) -> None:
    from mtlspec.cli.rich_table import print_table
    from mtlspec.search.grouping.report import short_name
    from mtlspec.search.grouping.selection import evaluate

    def row(budget: str, cost, networks: str, selected, total, test) -> dict[str, str]:
        out = {"budget": budget, "cost": "—" if cost is None else f"{cost:g}",
               "networks": networks}
        if method != "optimal":
            out[f"{method} estimate"] = _fmt(selected)
        out[f"total ({short_name(table)})"] = _fmt(total)
        if eval_table is not None:
            out[f"total ({short_name(eval_table)})"] = _fmt(test)
        return out

    shown = [row(f"{r.budget:g}", r.selection.cost if r.selection else None,
                 r.selection.describe() if r.selection else "(no cover fits)",
                 r.selected, r.table, r.eval) for r in rows]
    for label, base in refs.items():
        shown.append(row("baseline", base.cost, label, None, base.total,
                         evaluate(base, eval_table) if eval_table is not None else None))
    print_table(f"task grouping: {method}", shown)
    sys.stdout.flush()


@group.command("plan")
@click.option("--spec", "spec_path", required=True, type=click.Path(dir_okay=False),
              help="Base spec (tree or grouping): input, task heads and backbone.")
@click.option("--half-size", is_flag=True,
              help="Add a half-width (0.5) single-task network per task.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Plan directory to write (spec files and manifest.json).")
@data_source_options("size=32", default=None)
@json_option("the manifest")
def plan_command(spec_path, half_size, output, data, data_options, as_json) -> None:
    """Write the specs that fill a candidate table: one network per non-empty task subset.

    2^T − 1 one-network grouping specs (each trains and serves its subset), plus T half-width
    single-task ones with --half-size. Train them with `mtlspec run PLAN`, which writes
    candidates.csv for `mtlspec group --table`.

    \b
    mtlspec group plan --spec specs/conal_multidigits.mtl --half-size -o plan/
    mtlspec run plan/ --data multidigits --workers 2
    """
    from mtlspec.plan import write_group_plan

    base = _base(spec_path)
    # the data set has the tasks, before any training
    choice = resolve_data(data, data_options, base) if data else None
    manifest = write_group_plan(base, output, half_size=half_size, base_name=spec_path)
    data = json.loads(Path(manifest).read_text(encoding="utf-8"))
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    entries = data["entries"]
    flags = choice.flags() if choice else "--data DATASET"
    click.echo(f"wrote {len(entries)} specs and {manifest} "
               f"({sum(e['width'] for e in entries):g} network units to train); "
               f"next: mtlspec run {output} {flags}", err=True)
