"""`mtlspec enumerate`, `mtlspec recommend [plan]`, `mtlspec import treemtl`: TreeMTL's layout
design space and recommender (see `mtlspec.search.treemtl.recommender`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mtlspec.cli.base_spec import load_base, warn_mapping
from mtlspec.cli.data_source import data_source_options, resolve_data
from mtlspec.cli.lazy import DefaultGroup
from mtlspec.cli.options import allow_import_option, count_option, json_option
from mtlspec.errors import MtlspecError


def _tasks_arg(text: str) -> list[str]:
    """`--tasks 4` → t0..t3; `--tasks a,b,c` → names."""
    text = text.strip()
    if text.isdigit():
        return [f"t{i}" for i in range(int(text))]
    names = [t.strip() for t in text.split(",")]
    if not all(names) or len(set(names)) != len(names):
        raise MtlspecError(f"--tasks {text!r}: give a count or distinct comma-separated names")
    return names


@click.command("enumerate")
@click.option("--tasks", "tasks_text", required=True, help="Task count T or names a,b,c.")
@click.option("--blocks", type=click.IntRange(1, 255), required=True, help="Blocks B.")
@click.option("--count", "only_count", is_flag=True, help="Print only the number of layouts.")
@click.option("--id", "layout_id", type=int, default=None, help="Print only layout #N.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines (one layout per line).")
def enumerate_command(tasks_text, blocks, only_count, layout_id, as_json) -> None:
    """The layout design space: every layout of T tasks over B blocks, with its id.

    Ids follow one canonical order (0 = all shared; see mtlspec.search.treemtl.layouts), so
    `--id 353` means the same layout everywhere. --count is exact and instant (T=10 too).

    \b
    mtlspec enumerate --tasks 3 --blocks 5 --count
    mtlspec enumerate --tasks segment,normal,depth --blocks 5 --id 2
    """
    from mtlspec.search.treemtl import layouts as lay

    names = _tasks_arg(tasks_text)
    lay.check_size(len(names), blocks)
    total = lay.count(len(names), blocks)
    if only_count:
        click.echo(json.dumps({"tasks": len(names), "blocks": blocks, "count": total})
                   if as_json else str(total))
        return
    if layout_id is not None:
        _echo_layout(layout_id, lay.unrank(len(names), blocks, layout_id), names, as_json)
        return
    out = sys.stdout
    for i, layout in enumerate(lay.layouts(len(names), blocks)):
        if as_json:
            out.write(json.dumps({"id": i, "rows": _json_rows(layout, names)}) + "\n")
        else:
            out.write(f"{i}\t{lay.describe(layout, names)}\n")


def _json_rows(layout, names) -> list[list[list[str]]]:
    return [[[names[t] for t in sorted(g)] for g in sorted(row, key=min)] for row in layout]


def _echo_layout(layout_id, layout, names, as_json) -> None:
    from mtlspec.search.treemtl import layouts as lay

    if as_json:
        click.echo(json.dumps({"id": layout_id, "rows": _json_rows(layout, names),
                               "branch_points": dict(zip(
                                   [f"{names[i]},{names[j]}" for i, j in lay.pairs(len(names))],
                                   lay.branch_points(layout), strict=True))}))
    else:
        click.echo(f"{layout_id}\t{lay.describe(layout, names)}")


@click.group("recommend", cls=DefaultGroup, default="recommend")
def recommend_group() -> None:
    """TreeMTL's recommender: 2-task results → the best tree layouts under a budget.

    `mtlspec recommend --spec base.mtl --pairs pairs.csv ...` recommends;
    `mtlspec recommend plan --spec base.mtl -o plan/` writes the 2-task specs to train.
    """


@recommend_group.command("recommend")
@click.option("--spec", "spec_path", required=True, type=click.Path(dir_okay=False),
              help="Base tree spec: input, backbone blocks and heads (its layout is ignored).")
@click.option("--pairs", "pairs_path", required=True, type=click.Path(dir_okay=False),
              help="2-task results: CSV, JSON or TreeMTL's table (mtlspec.search.treemtl.pairs), "
              "or a shipped table: treemtl:nyuv2-resnet34 (`mtlspec datasets` lists them).")
@click.option("--single", "single_path", type=click.Path(dir_okay=False), default=None,
              help="Single-task baselines (CSV task,metric,value[,direction]).")
@click.option("--tasks", "tasks_text", default=None,
              help="Names of TreeMTL's task ids 0,1,.. (default: the spec's task order; for "
              "a shipped table, its own names).")
@click.option("--max-gmacs", "--max-gflops", "max_gmacs", type=click.FloatRange(min=0),
              default=None, metavar="X",
              help="Total GMACs limit, heads included (fvcore convention: one multiply-add "
              "counts once). --max-gflops is a synonym.")
@click.option("--max-params", callback=count_option, default=None, metavar="N",
              help="Total parameter limit (60M, 1.5K ...).")
@click.option("--max-models", type=click.FloatRange(min=0), default=None, metavar="K",
              help="TreeMTL's 'K models': backbone MACs ≤ K × one backbone.")
@click.option("--top", type=click.IntRange(1, 1000), default=5, show_default=True)
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), default=None,
              help="Write the top specs, ranking.json and pareto.png here.")
@click.option("--evaluate", "oracle_path", type=click.Path(dir_okay=False), default=None,
              help="Measured scores (CSV layout,score): print Pearson/Spearman.")
@click.option("--beam-width", type=click.IntRange(1), default=64, show_default=True,
              help="Beam width when the space is too large to enumerate.")
@click.option("--max-enumerate", type=click.IntRange(1), default=None,
              help="Enumerate spaces up to this many layouts (default 5,000,000).")
@allow_import_option
@json_option("the result")
def recommend_command(spec_path, pairs_path, single_path, tasks_text, max_gmacs, max_params,
                      max_models, top, outdir, oracle_path, beam_width, max_enumerate,
                      allow_import, as_json) -> None:
    """Estimate every layout from 2-task results, filter by budget, write the top specs.

    \b
    mtlspec recommend --spec specs/nyuv2_resnet34.mtl \\
        --pairs treemtl:nyuv2-resnet34 --max-models 2 -o out/
    """
    from mtlspec.cost import Budget
    from mtlspec.data import published
    from mtlspec.search.treemtl import recommender as rc
    from mtlspec.search.treemtl import report
    from mtlspec.search.treemtl.pairs import load_pairs
    from mtlspec.train.progress import progress_bar

    if (max_gmacs is not None) + (max_params is not None) + (max_models is not None) > 1:
        raise MtlspecError("give at most one of --max-gmacs, --max-params, --max-models")
    base = load_base(spec_path, "model", "the recommender needs its backbone and heads from")
    spec_order = [t.name for t in base.tasks]
    if published.is_name(pairs_path):  # its ids are named; --tasks renames them in id order
        if pairs_path.startswith("treemtl:"):  # measured on TreeMTL's blocks
            warn_mapping(base, "treemtl")
        table = load_pairs(pairs_path, single=single_path)
        table = table.renamed(_tasks_arg(tasks_text)) if tasks_text else table
    else:
        table = load_pairs(pairs_path, single=single_path,
                           tasks=_tasks_arg(tasks_text) if tasks_text else spec_order)
    table = table.reordered(spec_order)
    model = rc.cost_model(base, base_dir=str(Path(spec_path).parent),
                          allow_import=allow_import)
    budget = Budget(gmacs=max_gmacs, params=max_params, models=max_models)
    with progress_bar(not as_json, total=None, description="scoring layouts") as bar:
        rec = rc.recommend(model, table, budget=budget, top=top, beam_width=beam_width,
                           max_enumerate=max_enumerate or rc.MAX_ENUMERATE,
                           progress=lambda done, total: bar.update(done, total))
    if not rec.candidates:
        raise MtlspecError(f"no layout fits the budget ({budget.describe()}); the cheapest "
                           f"is all-shared: {_all_shared_gmacs(model):.4g} GMACs, "
                           f"{sum(model.block_params) + sum(model.head_params.values()):,} "
                           "params")
    files = report.candidate_specs(rec, base, model)
    data = report.to_json(rec, model, files)
    if oracle_path is not None:
        data["evaluation"] = report.evaluate(oracle_path, table, model)
    if outdir is not None:
        _write_outputs(Path(outdir), rec, model, files, data)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    _print(rec, model, data, outdir)


def _all_shared_gmacs(model) -> float:
    return (model.backbone_flops + sum(model.head_flops.values())) / 1e9


def _write_outputs(outdir: Path, rec, model, files, data) -> None:
    from mtlspec.io import write_atomic
    from mtlspec.search.treemtl import report

    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MtlspecError(f"cannot create {outdir}: {err.strerror or err}") from None
    for name, text in files.items():
        write_atomic(outdir / name, text)
    write_atomic(outdir / "ranking.json", json.dumps(data, indent=2) + "\n")
    report.plot_pareto(rec, model, outdir / "pareto.png")


def _print(rec, model, data, outdir) -> None:
    from mtlspec.cli.rich_table import print_table

    shown = []
    for row in data["top"]:
        item = {"rank": row["rank"], "layout": row["layout"],
                "GMACs": f"{row['gmacs']:.3f}", "MACs": f"{row['macs_pct']:+.1f}%",
                "params": f"{row['params_pct']:+.1f}%"}
        item.update({f"Δ {t}": f"{row[f'delta_{t}']:+.2f}" for t in model.tasks})
        item["score"] = f"{row['score']:+.3f}"
        item["layout rows"] = row["text"]
        shown.append(item)
    print_table(f"recommended layouts (budget: {rec.budget.describe()})", shown)
    sys.stdout.flush()
    weights = ", ".join(f"{t} {w:.3f}" for t, w in zip(model.tasks, rec.weights, strict=True))
    lines = [f"{rec.method} search: {rec.searched:,} of {rec.space:,} layouts scored, "
             f"{rec.feasible:,} within budget, {rec.seconds:.2f} s; weights: {weights}",
             "MACs/params: change vs one independent network per task (MACs: fvcore "
             "convention, one multiply-add counts once)"]
    if "evaluation" in data:
        ev = data["evaluation"]
        lines.append(f"ranking vs measured ({ev['layouts']} layouts): Pearson "
                     f"{ev['pearson']:.3f}, Spearman {ev['spearman']:.3f}")
    if outdir is not None:
        lines.append(f"wrote {len(data['top'])} specs, ranking.json and pareto.png to {outdir}")
    click.echo("\n".join(lines), err=True)


@recommend_group.command("plan")
@click.option("--spec", "spec_path", required=True, type=click.Path(dir_okay=False),
              help="Base tree spec (backbone, heads, input).")
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="Plan folder: one spec per training + manifest.json.")
@data_source_options("size=32", default=None)
@allow_import_option
@json_option("the manifest")
def plan_command(spec_path, outdir, data, data_options, allow_import, as_json) -> None:
    """Write the specs to train for `pairs.csv`: T single-task + C(T,2)·B two-task specs.

    Branch point 0 (two separate networks) is the same for every pair, so the plan trains
    each task alone once instead (see mtlspec.plan.pairs).
    """
    from mtlspec.plan import pairs_plan, write_plan
    from mtlspec.search.treemtl.recommender import cost_model

    base = load_base(spec_path, "model", "the recommender needs its backbone and heads from")
    # the data set has the tasks, before any training
    choice = resolve_data(data, data_options, base) if data else None
    model = cost_model(base, base_dir=str(Path(spec_path).parent), allow_import=allow_import)
    manifest, texts = pairs_plan(base, model, base_name=str(spec_path))
    path = write_plan(outdir, manifest, texts)
    if as_json:
        click.echo(manifest.model_dump_json(indent=2))
    else:
        click.echo(f"wrote {len(manifest.entries)} specs and {path}; next: mtlspec run "
                   f"{outdir} {choice.flags() if choice else '--data DATASET'}", err=True)


@click.command("treemtl")
@click.argument("layout_text")
@click.option("--tasks", "tasks_text", default=None,
              help="Names of TreeMTL's task ids 0,1,.. (default: the base's task order).")
@click.option("--base", "base_path", required=True, type=click.Path(dir_okay=False),
              help="Spec supplying input, backbone and heads.")
@click.option("--name", default=None, help="Name of the written spec (default: the base's).")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Write the spec here (default: standard output).")
def import_treemtl_command(layout_text, tasks_text, base_path, name, output) -> None:
    """TreeMTL's printed layout (task ids, e.g. "[[{0, 1, 2}], [{0, 1}, {2}]]") → a spec.

    \b
    mtlspec import treemtl "[[{0, 1, 2}], [{0, 1, 2}], [{0, 1}, {2}]]" \\
        --tasks segment,normal,depth --base base.mtl -o out.mtl
    """
    from mtlspec.io import write_atomic
    from mtlspec.search.treemtl import layouts as lay
    from mtlspec.search.treemtl.printed import parse_treemtl
    from mtlspec.spec import format as format_spec
    from mtlspec.spec import validate

    base = load_base(base_path, "model", "a TreeMTL layout takes its backbone and heads from")
    warn_mapping(base, "treemtl")
    layout = parse_treemtl(layout_text)
    order = [t.name for t in base.tasks]
    names = _tasks_arg(tasks_text) if tasks_text else order
    if sorted(names) != sorted(order):
        raise MtlspecError(f"--tasks {','.join(names)} must name the base's tasks "
                           f"{', '.join(order)}")
    if len(names) != len(set().union(*layout[0])):
        raise MtlspecError(f"the layout has {len(set().union(*layout[0]))} tasks but "
                           f"{len(names)} were named")
    # TreeMTL's ids index `names`; renumber to the base's declaration order
    layout = lay.from_rows(lay.to_rows(layout, names), order)
    text = format_spec(validate(lay.to_spec(base, layout, name=name)))
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output, text)
        click.echo(f"wrote {output} (layout #{lay.rank(layout)})", err=True)


