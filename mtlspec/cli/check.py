"""`mtlspec check`: budgets (the spec's `budget { }` and the flags), latency budgets measured
with onnxruntime, and the regression gate against a baseline (`--against BASE
--max-increase 5%`). Exit 0 when everything passes, 1 when a budget is exceeded or a figure
grew past the limit, 2 when a spec or a baseline cannot be read or built.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from mtlspec.cli.options import (
    allow_import_option,
    count_option,
    emit_report,
    no_cache_option,
    output_format_option,
    resolve_output_format,
)
from mtlspec.cli.report_formats import Case, Finding, findings_of, render
from mtlspec.cost.budget import Limit, budget_limits
from mtlspec.errors import CheckFailed, MtlspecError


def parse_increase(ctx: click.Context, param: click.Parameter, value: str | None
                   ) -> float | None:
    """Click callback: `5%` (or `5`, also percent) → 0.05.

    Example:
        >>> parse_increase(None, None, "5%"), parse_increase(None, None, "0.5")
        (0.05, 0.005)
    """
    if value is None:
        return None
    try:
        number = float(value.strip().removesuffix("%"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a percentage (e.g. 5%)") from None
    if not 0 <= number < float("inf"):
        raise click.BadParameter(f"{value!r}: the allowed increase is a percentage ≥ 0")
    return number / 100


@dataclass
class Checked:
    """What `check` found for one spec file."""

    file: str
    document: Any = None
    limits: list[Limit] = field(default_factory=list)
    growth: list[Any] = field(default_factory=list)  # mtlspec.cost.diff.Growth
    diff: Any = None  # mtlspec.cost.diff.CostDiff against its baseline
    latency: Any = None  # mtlspec.cost.latency.LatencyResult
    notes: list[str] = field(default_factory=list)
    error: MtlspecError | None = None

    def failures(self) -> list[tuple[str, tuple | None]]:
        """(message, IR path to point at) per budget exceeded or figure grown too much."""
        out = []
        for lim in self.limits:
            if lim.over:
                row = lim.row()
                where = ("budget", lim.what) if lim.source.startswith("spec") else ("name",)
                out.append((f"{lim.what} ({lim.source}): {row['actual']} > limit "
                            f"{row['limit']} ({row['by how much']})", where))
        changes = self.diff.changes if self.diff else []
        changed = [c.path for c in changes if c.layout] + [c.path for c in changes if c.path]
        for grown in self.growth:
            if grown.over:
                out.append((f"regression: {grown.message()}", changed[0] if changed
                            else ("name",)))
        return out


def _check_one(path: str, flags: dict[str, Any], baselines: Any, options: dict[str, Any]
               ) -> Checked:
    """Cost one spec, apply its budgets and flags, measure latency, compare with a baseline."""
    from mtlspec.cli.sources import cost_spec_text, read_source
    from mtlspec.cost.cached import Figures
    from mtlspec.spec import parse_document

    checked = Checked(path)
    try:
        text = read_source(path)
        budget = parse_document(text, path).spec.budget  # measured budgets need the model
        measured = budget is not None and budget.latency_ms is not None
        side = cost_spec_text(path, text, allow_import=options["allow_import"],
                              use_cache=options["use_cache"],
                              need_model=measured and not options["skip_latency"])
        checked.document = side.document
        spec = side.document.spec
        checked.limits = budget_limits(path, spec, Figures(side.data), **flags)
        _measure_latency(checked, side.model, options)
        if not checked.limits and not (spec.budget and spec.budget.latency_ms):
            checked.notes.append("no budget (add `budget { ... }` or pass "
                                 "--max-gmacs/--max-params)")
        if baselines is not None:
            _compare(checked, side, baselines, options["max_increase"])
    except MtlspecError as err:
        checked.error = err
    return checked


def _measure_latency(checked: Checked, model: Any, options: dict[str, Any]) -> None:
    budget = checked.document.spec.budget
    setup = budget.latency_ms if budget is not None else None
    if setup is None:
        return
    if options["skip_latency"]:
        checked.notes.append("latency_ms budget not measured (--skip-latency)")
        return
    from mtlspec.cost.latency import measure
    from mtlspec.spec.format import latency_setup

    result = measure(model, setup, runs=options["runs"])
    checked.latency = result
    checked.limits.append(Limit(checked.file, checked.document.spec.name, "latency_ms",
                                f"spec {latency_setup(setup)}", setup.ms, result.median_ms))


def _compare(checked: Checked, side: Any, baselines: Any, max_increase: float) -> None:
    from mtlspec.cost.diff import diff_costs, growth

    base = baselines.for_file(side)
    if base is None:
        checked.notes.append(f"no baseline in {baselines.describe()}: a new spec")
        return
    checked.diff = diff_costs(base.saved, side.saved, base_name=base.name, new_name=side.name)
    checked.growth = growth(checked.diff, checked.file, max_increase)


@click.command("check")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--max-gmacs", "--max-gflops", "max_gmacs", type=click.FloatRange(min=0),
              metavar="X", help="Limit on GMACs (10^9 multiply-adds, fvcore convention: one "
              "multiply-add counts once), every spec. --max-gflops is a synonym.")
@click.option("--max-params", callback=count_option, metavar="N",
              help="Limit on parameters, every spec (K/M/G suffixes: 60M).")
@click.option("--against", multiple=True, metavar="BASE",
              help="Baseline: git:REV (each file at revision REV), git:REV:PATH, a spec file "
              "or a report saved by `mtlspec cost --save`. Repeatable.")
@click.option("--max-increase", callback=parse_increase, metavar="PCT",
              help="Largest allowed growth of total and per-task MACs and params against "
              "the baseline, in percent (5%; default 0%).")
@click.option("--skip-latency", is_flag=True,
              help="Do not measure latency_ms budgets (noisy or shared runners).")
@click.option("--latency-runs", "runs", type=click.IntRange(1, 100_000), default=30,
              show_default=True, help="Timed runs per latency_ms budget (the median counts).")
@no_cache_option
@allow_import_option
@output_format_option()
def check_command(files: tuple[str, ...], max_gmacs: float | None, max_params: int | None,
                  against: tuple[str, ...], max_increase: float | None, skip_latency: bool,
                  runs: int, no_cache: bool, allow_import: bool, as_json: bool,
                  output_format: str, output: str | None) -> None:
    """Check spec FILES against their budgets (`budget { gmacs <= X; params <= N; units <= U;
    latency_ms <= T @ ort-cpu batch 1 }`), the flags, and a baseline; exit 1 if any spec is
    over or grew too much, 2 if a spec or baseline cannot be read or built.

    \b
    mtlspec check specs/*.mtl
    mtlspec check specs/nyuv2_resnet34.mtl --max-gmacs 20 --max-params 60M
    mtlspec check specs/*.mtl --against git:origin/main --max-increase 5%
    mtlspec check specs/*.mtl --skip-latency --output-format github
    """
    from mtlspec.cli.baselines import Baselines, unmatched_error

    chosen = resolve_output_format(output_format, as_json, output)
    if max_increase is not None and not against:
        raise click.UsageError("--max-increase needs --against BASE")
    baselines = Baselines(against, files, allow_import, not no_cache) if against else None
    flags = {"max_gmacs": max_gmacs, "max_params": max_params}
    options = {"allow_import": allow_import, "max_increase": max_increase or 0.0,
               "skip_latency": skip_latency, "runs": runs, "use_cache": not no_cache}
    results = [_check_one(path, flags, baselines, options) for path in files]
    unused = baselines.unused() if baselines is not None else []
    if unused and all(r.error is None for r in results):
        raise unmatched_error(unused)
    _report(results, chosen, output)
    if any(r.error is not None for r in results):
        sys.exit(2)
    failing = [r for r in results if r.failures()]
    if failing:
        over = sum(lim.over for r in failing for lim in r.limits)
        grown = sum(g.over for r in failing for g in r.growth)
        parts = [f"{over} budget{'s' * (over != 1)} exceeded" if over else "",
                 f"{grown} regression{'s' * (grown != 1)} against the baseline" if grown else ""]
        names = ", ".join(r.document.spec.name for r in failing)
        raise CheckFailed(f"{'; '.join(filter(None, parts))} ({names})")


def _report(results: list[Checked], chosen: str, output: str | None) -> None:
    for r in results:
        if r.error is not None and chosen != "json":
            click.echo(r.error.render(), err=True)
    if chosen == "text":
        _print_text(results)
    elif chosen == "json":
        emit_report(json.dumps(_json(results), indent=2), output)
    else:
        emit_report(render(chosen, "mtlspec check", [_case(r) for r in results]), output)


def _json(results: list[Checked]) -> dict[str, Any]:
    return {
        "ok": all(r.error is None and not r.failures() for r in results),
        "checks": [lim.to_json() for r in results for lim in r.limits],
        "against": [g.to_json() for r in results for g in r.growth],
        "spec_changes": [{"file": r.file, **c.to_json()} for r in results if r.diff
                         for c in r.diff.changes],
        "latency": [{"file": r.file, **r.latency.to_json()} for r in results if r.latency],
        "no_budget": [r.file for r in results if any(n.startswith("no budget")
                                                     for n in r.notes)],
        "notes": [{"file": r.file, "note": n} for r in results for n in r.notes],
        "errors": [{"file": r.file, "message": str(r.error)} for r in results if r.error],
    }


def _case(r: Checked) -> Case:
    """One report case per spec: its failures at the lines they point at, notes as notices."""
    if r.error is not None:
        return Case(r.file, findings_of(r.error, r.file, "mtlspec check"))
    spans = r.document.spans
    findings = []
    for message, path in r.failures():
        span = spans.get(path) or spans.get(("name",))
        findings.append(Finding(message, r.file, span and span.line, span and span.column,
                                title="budget exceeded" if "regression" not in message
                                else "cost regression"))
    if r.latency is not None:
        findings.append(Finding(f"latency measured on {r.latency.machine.describe()} "
                                "(machine-dependent)", r.file, level="notice",
                                title="latency"))
    findings += [Finding(n, r.file, level="notice", title="mtlspec check") for n in r.notes]
    rows = [lim.row() for lim in r.limits] + [g.row() for g in r.growth]
    return Case(r.file, findings, "\n".join(" | ".join(map(str, row.values())) for row in rows))


def _print_text(results: list[Checked]) -> None:
    from mtlspec.cli.rich_table import print_table

    limits = [lim for r in results for lim in r.limits]
    if limits:
        over = sum(lim.over for lim in limits)
        print_table(f"budgets: {len(limits) - over} ok, {over} over",
                    [lim.row() for lim in limits])
    grown = [g for r in results for g in r.growth]
    if grown:
        bad = sum(g.over for g in grown)
        print_table(f"against the baseline: {len(grown) - bad} ok, {bad} grew too much",
                    [g.row() for g in grown])
    for r in results:
        if r.diff is not None:
            for change in r.diff.changes:
                click.echo(f"{r.file}: changed since {r.diff.base}: {change.describe()}")
        for message, _ in r.failures():
            if message.startswith("regression"):
                click.echo(f"{r.file}: {message}")
        if r.latency is not None:
            click.echo(f"{r.file}: latency {r.latency.median_ms:.3g} ms (median of "
                       f"{len(r.latency.times_ms)} runs after {r.latency.warmup} warm-up) on "
                       f"{r.latency.machine.describe()}; machine-dependent")
        for note in r.notes:
            click.echo(f"{r.file}: {note}")
