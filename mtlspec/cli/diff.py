"""`mtlspec diff BASE NEW`: what a change to a spec costs, per node, task path, head and in
total, and which layout rows changed. Each side is a spec file, a saved cost report or
`git:REV:PATH` (`mtlspec.cli.sources`). A diff informs; it exits 0 (2 on bad input).
"""

from __future__ import annotations

import json

import click

from mtlspec.cli.options import (
    allow_import_option,
    emit_report,
    no_cache_option,
    output_format_option,
    resolve_output_format,
)
from mtlspec.cli.report_formats import Case, Finding, render
from mtlspec.cost.diff import CostDiff, Row, human


def _cells(row: Row) -> dict[str, str]:
    def fig(value: int | None, unit: str) -> str:
        return "-" if value is None else human(value, unit)

    return {"row": row.label, "base MACs": fig(row.macs.base, "MACs"),
            "new MACs": fig(row.macs.new, "MACs"), "MACs change": row.macs.describe("MACs"),
            "base params": fig(row.params.base, "params"),
            "new params": fig(row.params.new, "params"),
            "params change": row.params.describe("params")}


def print_diff(diff: CostDiff) -> None:
    """The text report: spec changes, then one table (nodes: only those that changed)."""
    from mtlspec.cli.rich_table import print_table

    click.echo(f"cost diff of {diff.spec}: {diff.base} → {diff.new} "
               "(MACs: fvcore convention, one multiply-add counts once)")
    if diff.changes:
        click.echo("spec changes:")
        for change in diff.changes:
            click.echo(f"  {change.describe()}")
    else:
        click.echo("spec changes: none")
    moved = [r for r in diff.nodes if r.status != "same"]
    rows = [diff.total, *diff.tasks, *diff.heads, *moved]
    print_table("cost change", [_cells(r) for r in rows])
    same = len(diff.nodes) - len(moved)
    if same:
        click.echo(f"{same} node{'s' * (same != 1)} unchanged (not shown)")


def diff_cases(diff: CostDiff, file: str, spans: dict) -> list[Case]:
    """The diff as report cases: one notice for the total (at the spec's name), one per spec
    change (at its line in the newer spec when that side is spec text).

    Args:
        diff: the diff.
        file: the newer side's name.
        spans: its `Document.spans` (empty for a saved report: no lines to point at).
    """
    header = spans.get(("name",))
    header_line = header.line if header else None
    total = diff.total
    findings = [Finding(f"{diff.spec}: total MACs {total.macs.describe('MACs')}, params "
                        f"{total.params.describe('params')} ({diff.base} → {diff.new})",
                        file, header_line, level="notice", title="cost diff")]
    for change in diff.changes:
        span = spans.get(change.path) if change.after is not None else None
        findings.append(Finding(change.describe(), file, span.line if span else header_line,
                                span.column if span else None, level="notice",
                                title="spec change"))
    return [Case(f"{diff.base} → {diff.new}", findings)]


@click.command("diff")
@click.argument("base")
@click.argument("new")
@no_cache_option
@allow_import_option
@output_format_option()
def diff_command(base: str, new: str, no_cache: bool, allow_import: bool, as_json: bool,
                 output_format: str, output: str | None) -> None:
    """Compare the cost of BASE and NEW: per node, per task path, per head and total, MACs and
    parameters, absolute and %, and the spec items (layout rows, topologies, networks,
    heads) that changed.

    BASE and NEW are each a spec file, a cost report saved by `mtlspec cost SPEC --save
    FILE`, or git:REV:PATH (PATH at revision REV, read with `git show`; no checkout).

    \b
    mtlspec diff git:main:specs/nyuv2_resnet34.mtl specs/nyuv2_resnet34.mtl
    mtlspec cost specs/nyuv2_resnet34.mtl --save base.json
    mtlspec diff base.json specs/nyuv2_resnet34.mtl --output-format json
    """
    from mtlspec.cli.sources import load_side
    from mtlspec.cost.diff import diff_costs

    chosen = resolve_output_format(output_format, as_json, output)
    old = load_side(base, allow_import=allow_import, use_cache=not no_cache)
    now = load_side(new, allow_import=allow_import, use_cache=not no_cache)
    diff = diff_costs(old.saved, now.saved, base_name=base, new_name=new)
    if chosen == "text":
        print_diff(diff)
    elif chosen == "json":
        emit_report(json.dumps(diff.to_json(), indent=2), output)
    else:
        spans = now.document.spans if now.document is not None else {}
        emit_report(render(chosen, "mtlspec diff", diff_cases(diff, new, spans)), output)
