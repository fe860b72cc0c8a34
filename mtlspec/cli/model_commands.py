"""`mtlspec cost`, `mtlspec build`: compile a spec, then cost or export it (`mtlspec check`:
`mtlspec.cli.check`).

torch, onnx and onnxruntime are imported inside the commands so `mtlspec validate` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mtlspec.cli.options import (
    allow_import_option,
    apply_threads,
    json_option,
    no_cache_option,
    threads_option,
)
from mtlspec.cost.budget import percent
from mtlspec.errors import MtlspecError


def _compiled(path: str, allow_import: bool, weights: str | None = None) -> tuple[Any, Any]:
    """The spec's document (file name, text) and its compiled model."""
    from mtlspec import load_model
    from mtlspec.spec import load

    doc = load(path)
    return doc, load_model(doc, allow_import=allow_import, weights=weights)


def _unit(total: int) -> tuple[str, float]:
    """One MACs unit per report, picked by the total, so small models read 871.8, not 8.7e-4."""
    for name, scale in (("GMACs", 1e9), ("MMACs", 1e6)):
        if total >= scale:
            return name, scale
    return "KMACs", 1e3


def _g(macs: int, scale: float = 1e9) -> str:
    return f"{macs / scale:.4g}"


def _print_cost(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # logs and CI: do not squeeze columns into 80 characters
        console = Console(width=160)
    total = data["total"]["macs"] or 1
    unit, scale = _unit(total)
    nodes = Table(title=f"{data['spec']} ({data['kind']}): {len(data['nodes'])} nodes")
    for name, justify in (("node", "left"), ("tasks", "left"), (unit, "right"),
                          ("params", "right"), ("% MACs", "right")):
        nodes.add_column(name, justify=justify)
    for n in data["nodes"]:
        nodes.add_row(n["name"], ", ".join(n["tasks"]), _g(n["macs"], scale),
                      f"{n['params']:,}", f"{100 * n['macs'] / total:.1f}")
    console.print(nodes)
    tasks = Table(title="per task: its path (shared nodes counted in full) and its own network")
    for name in ("task", f"path {unit}", f"head {unit}", "head params", f"independent {unit}"):
        tasks.add_column(name, justify="left" if name == "task" else "right")
    for t, row in data["tasks"].items():
        head = data["heads"][t]
        tasks.add_row(t, _g(row["path_macs"], scale), _g(head["macs"], scale),
                      f"{head['params']:,}", _g(row["independent_macs"], scale))
    console.print(tasks)
    ind, rel = data["independent"], data["vs_independent"]
    meaning = "Σ network widths" if data["kind"] == "grouping" else "single-task networks of MACs"
    click.echo(f"total: {_g(total, scale)} {unit}, {data['total']['params']:,} params, "
               f"{data['total']['units']:.3g} units ({meaning})")
    click.echo(f"vs {len(data['tasks'])} independent single-task networks "
               f"({_g(ind['macs'], scale)} {unit}, {ind['params']:,} params): "
               f"MACs {percent(rel['macs'])}, params {percent(rel['params'])}")
    if data["unused_params"]:
        unused = ", ".join(f"{name} ({n:,})" for name, n in data["unused_params"].items())
        click.echo(f"not run at inference, so not in params: {unused}")
    if data["uncounted_ops"]:
        ops = ", ".join(f"{op} x{n}" for op, n in data["uncounted_ops"].items())
        click.echo(f"warning: these ops are not counted (not in the MACs): {ops}", err=True)


@click.command("cost")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--save", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the report as JSON to FILE (atomically), with the spec text "
              "and its hash: a baseline for `mtlspec diff` and `mtlspec check --against`.")
@no_cache_option
@allow_import_option
@threads_option
@json_option()
def cost_command(file: str, save: str | None, no_cache: bool, allow_import: bool,
                 threads: int | None, as_json: bool) -> None:
    """Compute (GMACs) and parameters of spec FILE: per node, per task path, heads, total,
    and relative to one independent single-task network per task. MACs follow fvcore's
    convention: one multiply-add counts once (papers that count 2 FLOPs per multiply-add
    report twice these figures).

    \b
    mtlspec cost specs/nyuv2_resnet34.mtl
    mtlspec cost specs/nyuv2_dag.mtl --json
    mtlspec cost specs/nyuv2_resnet34.mtl --save baseline.json
    """
    from mtlspec.cost.cached import spec_cost
    from mtlspec.spec import load, validate

    apply_threads(threads)  # before torch loads, and only if a cache miss needs it
    doc = load(file)
    validate(doc)
    data = spec_cost(doc, allow_import=allow_import, use_cache=not no_cache).data
    if save is not None:
        from mtlspec.io import write_atomic

        write_atomic(save, json.dumps(data, indent=2) + "\n")
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        _print_cost(data)
        if save is not None:
            click.echo(f"saved the report to {save}")


@click.command("build")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The .onnx file to write (replaced atomically; folders are created).")
@click.option("--weights", type=click.Path(dir_okay=False),
              help="State dict of the whole model (loaded with weights_only=True).")
@click.option("--opset", type=click.IntRange(min=7), help="ONNX opset (default 17).")
@click.option("--no-verify", is_flag=True, help="Skip the onnxruntime vs PyTorch comparison.")
@allow_import_option
@threads_option
@json_option()
def build_command(file: str, output: str, weights: str | None, opset: int | None,
                  no_verify: bool, allow_import: bool, threads: int | None,
                  as_json: bool) -> None:
    """Compile spec FILE and export it to ONNX: input named as in the spec, one output per
    task, a dynamic batch axis, the spec text in the metadata. The graph is checked with
    onnx.checker, then onnxruntime is compared with PyTorch (eval mode) at two batch sizes;
    on a mismatch nothing is written and the exit code is 1.

    \b
    mtlspec build specs/conal_multidigits.mtl -o out/conal.onnx
    mtlspec build specs/nyuv2_resnet34.mtl -o nyu.onnx --weights trained.pt
    """
    apply_threads(threads)
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
