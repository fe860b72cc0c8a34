"""`mtlspec cost`, `mtlspec check`, `mtlspec build`: compile a spec, then cost, budget, export.

torch, onnx and onnxruntime are imported inside the commands so `mtlspec validate` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from mtlspec.cli.options import allow_import_option, count_option, json_option
from mtlspec.cost.budget import Limit, budget_limits, cost_json, percent
from mtlspec.errors import CheckFailed, MtlspecError


def _compiled(path: str, allow_import: bool, weights: str | None = None) -> tuple[Any, Any]:
    """The spec's document (file name, text) and its compiled model."""
    from mtlspec import load_model
    from mtlspec.spec import load

    doc = load(path)
    return doc, load_model(doc, allow_import=allow_import, weights=weights)


def _cost(model: Any) -> Any:
    from mtlspec.cost import cost

    return cost(model)


def _unit(total: int) -> tuple[str, float]:
    """One FLOPs unit per report, picked by the total, so small models read 871.8, not 8.7e-4."""
    for name, scale in (("GFLOPs", 1e9), ("MFLOPs", 1e6)):
        if total >= scale:
            return name, scale
    return "KFLOPs", 1e3


def _g(flops: int, scale: float = 1e9) -> str:
    return f"{flops / scale:.4g}"


def _print_cost(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # logs and CI: do not squeeze columns into 80 characters
        console = Console(width=160)
    total = data["total"]["flops"] or 1
    unit, scale = _unit(total)
    nodes = Table(title=f"{data['spec']} ({data['kind']}): {len(data['nodes'])} nodes")
    for name, justify in (("node", "left"), ("tasks", "left"), (unit, "right"),
                          ("params", "right"), ("% FLOPs", "right")):
        nodes.add_column(name, justify=justify)
    for n in data["nodes"]:
        nodes.add_row(n["name"], ", ".join(n["tasks"]), _g(n["flops"], scale),
                      f"{n['params']:,}", f"{100 * n['flops'] / total:.1f}")
    console.print(nodes)
    tasks = Table(title="per task: its path (shared nodes counted in full) and its own network")
    for name in ("task", f"path {unit}", f"head {unit}", "head params", f"independent {unit}"):
        tasks.add_column(name, justify="left" if name == "task" else "right")
    for t, row in data["tasks"].items():
        head = data["heads"][t]
        tasks.add_row(t, _g(row["path_flops"], scale), _g(head["flops"], scale),
                      f"{head['params']:,}", _g(row["independent_flops"], scale))
    console.print(tasks)
    ind, rel = data["independent"], data["vs_independent"]
    meaning = "Σ network widths" if data["kind"] == "grouping" else "single-task networks of FLOPs"
    click.echo(f"total: {_g(total, scale)} {unit}, {data['total']['params']:,} params, "
               f"{data['total']['units']:.3g} units ({meaning})")
    click.echo(f"vs {len(data['tasks'])} independent single-task networks "
               f"({_g(ind['flops'], scale)} {unit}, {ind['params']:,} params): "
               f"FLOPs {percent(rel['flops'])}, params {percent(rel['params'])}")
    if data["unused_params"]:
        unused = ", ".join(f"{name} ({n:,})" for name, n in data["unused_params"].items())
        click.echo(f"not run at inference, so not in params: {unused}")
    if data["uncounted_ops"]:
        ops = ", ".join(f"{op} x{n}" for op, n in data["uncounted_ops"].items())
        click.echo(f"warning: fvcore does not count these ops (not in the FLOPs): {ops}", err=True)


@click.command("cost")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@allow_import_option
@json_option()
def cost_command(file: str, allow_import: bool, as_json: bool) -> None:
    """FLOPs and parameters of spec FILE: per node, per task path, heads, total, and relative
    to one independent single-task network per task (fvcore's convention: 1 multiply-add = 1
    flop).

    \b
    mtlspec cost specs/nyuv2_resnet34.mtl
    mtlspec cost specs/nyuv2_dag.mtl --json
    """
    doc, model = _compiled(file, allow_import)
    data = cost_json(doc.filename, _cost(model))
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        _print_cost(data)


@click.command("check")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--max-gflops", type=click.FloatRange(min=0), help="Limit on GFLOPs, every spec.")
@click.option("--max-params", callback=count_option, metavar="N",
              help="Limit on parameters, every spec (K/M/G suffixes: 60M).")
@allow_import_option
@json_option()
def check_command(files: tuple[str, ...], max_gflops: float | None, max_params: int | None,
                  allow_import: bool, as_json: bool) -> None:
    """Check spec FILES against their budgets (`budget { gflops <= X; params <= N; units <= U
    }`) and the flags; exit 1 if any spec is over, 2 if a spec cannot be read or built.

    \b
    mtlspec check specs/*.mtl
    mtlspec check specs/nyuv2_resnet34.mtl --max-gflops 20 --max-params 60M
    """
    limits: list[Limit] = []
    unchecked: list[str] = []
    errors: list[dict[str, str]] = []
    for path in files:
        try:
            doc, model = _compiled(path, allow_import)
            found = budget_limits(doc.filename, doc.spec, _cost(model), max_gflops=max_gflops,
                                  max_params=max_params)
        except MtlspecError as err:
            click.echo(err.render(), err=True)
            errors.append({"file": path, "message": str(err)})
            continue
        limits.extend(found)
        if not found:
            unchecked.append(doc.filename)
    over = [lim for lim in limits if lim.over]
    if as_json:
        checks = [lim.to_json() for lim in limits]
        click.echo(json.dumps({"ok": not over and not errors, "checks": checks,
                               "no_budget": unchecked, "errors": errors}, indent=2))
    else:
        _print_checks(limits, unchecked)
    if errors:
        sys.exit(2)
    if over:
        specs = sorted({lim.spec for lim in over})
        raise CheckFailed(f"{len(over)} budget{'s' * (len(over) != 1)} exceeded "
                          f"({', '.join(specs)})")


def _print_checks(limits: list[Limit], unchecked: list[str]) -> None:
    if limits:
        from mtlspec.cli.rich_table import print_table

        over = sum(lim.over for lim in limits)
        print_table(f"budgets: {len(limits) - over} ok, {over} over", [lim.row() for lim in limits])
    for name in unchecked:
        click.echo(f"{name}: no budget (add `budget {{ ... }}` or pass --max-gflops/--max-params)")


@click.command("build")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The .onnx file to write (replaced atomically; folders are created).")
@click.option("--weights", type=click.Path(dir_okay=False),
              help="State dict of the whole model (loaded with weights_only=True).")
@click.option("--opset", type=click.IntRange(min=7), help="ONNX opset (default 17).")
@click.option("--no-verify", is_flag=True, help="Skip the onnxruntime vs PyTorch comparison.")
@allow_import_option
@json_option()
def build_command(file: str, output: str, weights: str | None, opset: int | None,
                  no_verify: bool, allow_import: bool, as_json: bool) -> None:
    """Compile spec FILE and export it to ONNX: input named as in the spec, one output per
    task, a dynamic batch axis, the spec text in the metadata. The graph is checked with
    onnx.checker, then onnxruntime is compared with PyTorch (eval mode) at two batch sizes;
    on a mismatch nothing is written and the exit code is 1.

    \b
    mtlspec build specs/conal_multidigits.mtl -o out/conal.onnx
    mtlspec build specs/nyuv2_resnet34.mtl -o nyu.onnx --weights trained.pt
    """
    doc, model = _compiled(file, allow_import, weights)
    from mtlspec.exporters.onnx import ParityFailed, export

    target = Path(output)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MtlspecError(f"cannot create {target.parent}: {err.strerror or err}") from None
    try:
        report = export(model, target, opset=opset, verify=not no_verify, spec_text=doc.source)
    except ParityFailed as failed:
        if not as_json:
            raise
        # CI reads the JSON: the same report, `written: false`, and the failing check's exit 1
        click.echo(json.dumps({**failed.report.to_json(), "written": False,
                               "error": str(failed)}, indent=2))
        raise click.exceptions.Exit(failed.exit_code) from None
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    _print_build(doc.spec.name, report)


def _print_build(name: str, report: Any) -> None:
    shape = ", ".join(["batch", *map(str, report.input_shape[1:])])
    click.echo(f"wrote {report.path}: {name}, {report.size_bytes / 1e6:.2f} MB, opset "
               f"{report.opset}, {report.conv_nodes} Conv nodes ({report.export_seconds:.1f} s)")
    element = {"float32": "float"}.get(report.input_dtype, report.input_dtype)  # spec spelling
    click.echo(f"  input   {report.input_name}: {element}[{shape}]")
    click.echo(f"  outputs {', '.join(report.outputs)} (task order; batch axis dynamic)")
    click.echo("  metadata mtlspec.spec (the spec text), mtlspec.version, mtlspec.tasks")
    click.echo("onnx.checker (full_check): ok")
    if not report.verified:
        click.echo("verify: skipped (--no-verify)")
        for warning in report.trace_warnings:  # unverified, so what the tracer froze matters
            click.echo(f"warning: {warning}", err=True)
        return
    click.echo(report.parity_table())
    batches = sorted({p.batch for p in report.parity})
    worst = max(p.max_abs_diff / p.tolerance for p in report.parity)
    click.echo(f"verify: ok for {len(report.outputs)} tasks at batch sizes "
               f"{', '.join(map(str, batches))} (largest difference: {100 * worst:.2g}% of its "
               f"tolerance; {report.verify_seconds:.1f} s)")
