"""`mtlspec cost`, `mtlspec check`, `mtlspec build`: compile a spec, then cost, budget, export.

torch, onnx and onnxruntime are imported inside the commands so `mtlspec validate` stays fast.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from mtlspec.errors import CheckFailed, MtlspecError
from mtlspec.spec import load, validate

ALLOW_IMPORT = click.option(
    "--allow-import", is_flag=True,
    help="Allow a 'pkg.module:callable' backbone (imports and runs that code).")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
_COUNT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kKmMgG]?)\s*$")
_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}
_SLACK = 1e-9  # relative: a units budget of exactly 2 must accept 1.9999999999 and 2.0000000001


def parse_count(text: str) -> int:
    """A count with an optional K/M/G suffix: `60M` → 60_000_000, `1.5K` → 1500.

    Raises:
        ValueError: not a non-negative number with an optional K, M or G.

    Example:
        >>> parse_count("2.5M")
        2500000
    """
    match = _COUNT.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a count such as 1500, 60M, 1.5K or 2G")
    return round(float(match.group(1)) * _SUFFIX[match.group(2).lower()])


def _count_option(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_count(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def _compiled(path: str, allow_import: bool, weights: str | None = None) -> tuple[Any, Any]:
    """Load, validate and compile one spec (and load a state dict into it)."""
    doc = load(path)
    spec = validate(doc)
    from mtlspec.compile import compile
    from mtlspec.compile.tree import load_state

    base = Path(".") if path == "-" else Path(path).parent  # weight paths are spec-relative
    model = compile(spec, base_dir=base, allow_import=allow_import)
    if weights:
        load_state(model, Path(weights))
    return doc, model


def _cost(model: Any) -> Any:
    from mtlspec.cost import cost

    return cost(model)


def cost_json(filename: str, report: Any) -> dict[str, Any]:
    """The JSON form of a cost report (what `mtlspec cost --json` prints).

    Args:
        filename: the spec file, as shown to the user.
        report: a `mtlspec.cost.CostReport`.

    Returns:
        nodes, heads, per-task path and independent FLOPs, totals, the change against
        independent single-task networks, unused parameters and uncounted ops.

    Example:
        >>> cost_json("specs/x.mtl", cost(model))["vs_independent"]["flops"]  # doctest: +SKIP
        -0.5529
    """
    independent = sum(report.independent.values())
    return {
        "file": filename, "spec": report.name, "kind": report.kind,
        "nodes": [{"name": n.name, "block": n.block,
                   "tasks": list(n.tasks), "flops": n.flops, "params": n.params}
                  for n in report.nodes],
        "heads": {t: {"flops": f, "params": p} for t, (f, p) in report.heads.items()},
        "tasks": {t: {"path_flops": report.per_task[t],
                      "independent_flops": report.independent[t],
                      "independent_params": report.independent_params[t]}
                  for t in report.per_task},
        "total": {"flops": report.flops, "gflops": report.flops / 1e9, "params": report.params,
                  "units": report.units},
        "independent": {"flops": independent, "params": sum(report.independent_params.values())},
        "vs_independent": {"flops": report.flops_vs_independent,
                           "params": report.params_vs_independent},
        "unused_params": dict(report.unused),
        "uncounted_ops": dict(report.uncounted),
    }


def _unit(total: int) -> tuple[str, float]:
    """One FLOPs unit per report, picked by the total, so small models read 871.8, not 8.7e-4."""
    for name, scale in (("GFLOPs", 1e9), ("MFLOPs", 1e6)):
        if total >= scale:
            return name, scale
    return "KFLOPs", 1e3


def _g(flops: int, scale: float = 1e9) -> str:
    return f"{flops / scale:.4g}"


def _pct(x: float) -> str:
    return f"{x * 100:+.2f}%".replace("-", "−")


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
               f"FLOPs {_pct(rel['flops'])}, params {_pct(rel['params'])}")
    if data["unused_params"]:
        unused = ", ".join(f"{name} ({n:,})" for name, n in data["unused_params"].items())
        click.echo(f"not run at inference, so not in params: {unused}")
    if data["uncounted_ops"]:
        ops = ", ".join(f"{op} x{n}" for op, n in data["uncounted_ops"].items())
        click.echo(f"warning: fvcore does not count these ops (not in the FLOPs): {ops}", err=True)


@click.command("cost")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@ALLOW_IMPORT
@AS_JSON
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


@dataclass(frozen=True)
class Limit:
    """One budget of one spec, and what the spec actually costs."""

    file: str
    spec: str
    what: str  # gflops, params, units
    source: str  # "spec" or the flag that set it
    limit: float
    actual: float

    @property
    def over(self) -> bool:
        return self.actual > self.limit * (1 + _SLACK)

    def row(self) -> dict[str, Any]:
        diff = self.actual - self.limit
        fmt = (lambda v: f"{v:,.0f}") if self.what == "params" else (lambda v: f"{v:.4g}")
        rel = f" ({_pct(diff / self.limit)})" if self.limit else ""
        return {"spec": self.spec, "what": f"{self.what} ({self.source})",
                "limit": fmt(self.limit), "actual": fmt(self.actual),
                "by how much": ("+" if diff > 0 else "−" if diff < 0 else "") + fmt(abs(diff))
                + rel.replace("+0.00%", "0.00%"),
                "status": "OVER" if self.over else "ok"}


def limits_of(filename: str, spec: Any, report: Any, max_gflops: float | None,
              max_params: int | None) -> list[Limit]:
    """Every budget that applies to one spec: its own `budget { }`, then the flags.

    Args:
        filename: the spec file.
        spec: the validated spec (its `budget`, if any).
        report: its cost report (`flops`, `params`, `units`).
        max_gflops, max_params: the flags' limits (None: not given).

    Returns:
        One `Limit` per budget; empty when the spec has none and no flag is given.

    Example:
        >>> [lim.over for lim in limits_of("x.mtl", spec, report, 1.0, None)]  # doctest: +SKIP
        [False, True]
    """
    actual = {"gflops": report.flops / 1e9, "params": report.params, "units": report.units}
    wanted: list[tuple[str, str, float]] = []
    budget = getattr(spec, "budget", None)
    for what in ("gflops", "params", "units"):
        value = getattr(budget, what, None) if budget is not None else None
        if value is not None:
            wanted.append((what, "spec", value))
    if max_gflops is not None:
        wanted.append(("gflops", "--max-gflops", max_gflops))
    if max_params is not None:
        wanted.append(("params", "--max-params", max_params))
    return [Limit(filename, spec.name, w, s, v, actual[w]) for w, s, v in wanted]


@click.command("check")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--max-gflops", type=click.FloatRange(min=0), help="Limit on GFLOPs, every spec.")
@click.option("--max-params", callback=_count_option, metavar="N",
              help="Limit on parameters, every spec (K/M/G suffixes: 60M).")
@ALLOW_IMPORT
@AS_JSON
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
            found = limits_of(doc.filename, doc.spec, _cost(model), max_gflops, max_params)
        except MtlspecError as err:
            click.echo(err.render(), err=True)
            errors.append({"file": path, "message": str(err)})
            continue
        limits.extend(found)
        if not found:
            unchecked.append(doc.filename)
    over = [lim for lim in limits if lim.over]
    if as_json:
        checks = [{"file": lim.file, "spec": lim.spec, "what": lim.what, "source": lim.source,
                   "limit": lim.limit, "actual": lim.actual, "over": lim.over,
                   "relative": lim.actual / lim.limit - 1 if lim.limit else None}
                  for lim in limits]
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
        from mtlspec.cli.tables import print_table

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
@ALLOW_IMPORT
@AS_JSON
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
