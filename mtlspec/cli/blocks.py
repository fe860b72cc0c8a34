"""`mtlspec blocks`: a backbone's branching points, with per-block MACs and parameters.

torch is imported inside the command so that other commands start fast.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import click

from mtlspec.cli.options import allow_import_option, apply_threads, json_option, threads_option
from mtlspec.errors import CheckFailed

_SHAPE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*[xX×]\s*(\d+)\s*$")
_AUTO_K = re.compile(r"^auto\((\d+)\)$")


def _parse_shape(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    match = _SHAPE.match(value)
    if not match or not all(0 < int(d) < 2**31 for d in match.groups()):
        raise click.BadParameter(f"{value!r} is not CxHxW with positive sizes below 2**31, "
                                 "e.g. 3x224x224")
    shape = tuple(int(d) for d in match.groups())
    from mtlspec.limits import check_memory

    check_memory(4 * shape[0] * shape[1] * shape[2], f"input {value}")
    return shape


def _parse_selection(ctx: click.Context, param: click.Parameter, value: str) -> Any:
    text = value.strip()
    if text == "auto":
        return None
    match = _AUTO_K.match(text.replace(" ", ""))
    if (text.isascii() and text.isdigit()) or match:
        k = int(match.group(1) if match else text)
        if k < 1:
            raise click.BadParameter("the number of blocks must be at least 1")
        return k
    names = tuple(n.strip() for n in text.split(","))
    if not all(names) or any(" " in n for n in names):
        raise click.BadParameter(
            f"{value!r}: use auto, a number of blocks K, or comma-separated module names")
    return names


def _parse_args(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
    args: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise click.BadParameter(f"{item!r} is not NAME=VALUE, e.g. width_mult=0.5")
        lowered = raw.strip().lower()
        if lowered in ("true", "false"):
            args[key.strip()] = lowered == "true"
            continue
        try:
            args[key.strip()] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            args[key.strip()] = raw.strip()  # a plain string, e.g. a layer name
    return args


@click.command("blocks")
@click.argument("backbone")
@click.option("--input", "input_shape", default="3x224x224", show_default=True,
              callback=_parse_shape, help="Input shape CxHxW (batch 1).")
@click.option("--blocks", "selection", default="auto", show_default=True,
              callback=_parse_selection,
              help="auto (every detected block), K (K MACs-balanced blocks), or comma-separated "
              "module names to cut after.")
@click.option("--arg", "args", multiple=True, callback=_parse_args, metavar="NAME=VALUE",
              help="Backbone builder argument, repeatable (e.g. --arg width_mult=0.5).")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False),
              help="State dict file for the backbone (loaded with weights_only=True).")
@allow_import_option
@click.option("--verify", is_flag=True,
              help="Check that the blocks, chained, compute the backbone exactly (exit 1 if not).")
@json_option()
@click.option("--no-cache", is_flag=True,
              help="Detect again instead of reading the on-disk cache (~/.cache/mtlspec or "
              "$MTLSPEC_CACHE_DIR); the fresh result is still written to it.")
@threads_option
def blocks(backbone: str, input_shape: tuple[int, ...], selection: Any, args: dict,
           weights: str | None, allow_import: bool, verify: bool, as_json: bool,
           no_cache: bool, threads: int | None) -> None:
    """Detect BACKBONE's branching points and show its blocks with their cost (GMACs:
    10^9 multiply-adds, fvcore convention: one multiply-add counts once).

    BACKBONE is `torchvision.NAME` (e.g. torchvision.resnet34), `timm.NAME` (with the timm
    extra), `convnet`, or, with --allow-import, `pkg.module:callable`. Blocks take one tensor
    and return one; a multi-task tree may branch after any of them. Results are cached on
    disk (keyed by backbone, arguments, input, selection and versions); --verify and
    --weights always run the detector.

    \b
    mtlspec blocks torchvision.resnet34 --input 3x224x224 --verify
    mtlspec blocks torchvision.mobilenet_v2 --blocks 5 --json
    mtlspec blocks torchvision.resnet50 --blocks layer1,layer2,layer3
    mtlspec blocks timm.vit_tiny_patch16_224 --json
    """
    from mtlspec import cache

    apply_threads(threads)
    key = cache.blocks_key(backbone, args, input_shape, selection)
    report = None
    if key is not None and not (no_cache or verify or weights):
        report = cache.load(key)
    if report is None:
        report = _detect(backbone, input_shape, selection, args, weights, allow_import, verify)
        if key is not None:
            cache.store(key, {**report, "verify": None})
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print(report)
    if report["verify"] is not None and not report["verify"]["ok"]:
        raise CheckFailed(_verify_line(report["verify"]))


def _detect(backbone: str, input_shape: tuple[int, ...], selection: Any, args: dict,
            weights: str | None, allow_import: bool, verify: bool) -> dict[str, Any]:
    from mtlspec.backbone import blocks_for
    from mtlspec.backbone import verify as verify_blocks

    bb = blocks_for(backbone, input_shape=input_shape, args=args, selection=selection,
                    allow_import=allow_import, weights=weights,
                    materialize=verify or weights is not None)
    return _report(bb, verify_blocks(bb) if verify else None)


def _report(bb: Any, check: Any) -> dict[str, Any]:
    total = bb.flops or 1
    rows, running = [], 0
    for b in bb.info:
        running += b.flops
        rows.append({
            "index": b.index, "first": b.first, "last": b.last, "cut": b.cut,
            "output_shape": list(b.output_shape), "params": b.params, "macs": b.flops,
            "cumulative_percent": round(100 * running / total, 2),
        })
    verify = None if check is None else {
        "ok": check.ok, "eval_max_rel_diff": check.eval_diff,
        "train_max_rel_diff": check.train_diff, "tolerance": check.tolerance,
        "blocks_modifying_their_input": list(check.mutating_blocks),
    }
    return {
        "backbone": bb.name, "input_shape": list(bb.input_shape), "blocks": rows,
        "detected_blocks": bb.detected, "cut_points": bb.cut_points,
        "total": {"params": bb.params, "macs": bb.flops},
        "uncounted_ops": bb.uncounted, "verify": verify,
        "output_layout": None if bb.layout is None else {
            "kind": bb.layout.kind, "channels": bb.layout.channels,
            "grid": None if bb.layout.grid is None else list(bb.layout.grid),
            "prefix_tokens": bb.layout.prefix_tokens, "declared": bb.layout.declared,
            "description": bb.layout.describe()},
        "fx_leaves": list(bb.leaves),
        "policy": [{"cut": d.cut, "kept": d.kept, "reason": d.reason} for d in bb.decisions],
    }


def _print(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    shape = "x".join(map(str, report["input_shape"][1:]))
    table = Table(title=f"{report['backbone']} at {shape}: {len(report['blocks'])} blocks "
                  f"({report['detected_blocks']} detected, {len(report['cut_points'])} cut points)")
    for name, justify in (("#", "right"), ("modules (first .. last)", "left"),
                          ("output", "left"), ("params", "right"), ("GMACs", "right"),
                          ("cum %", "right")):
        table.add_column(name, justify=justify)
    for row in report["blocks"]:
        table.add_row(str(row["index"]), f"{row['first']} .. {row['last']}",
                      "x".join(map(str, row["output_shape"][1:])), f"{row['params']:,}",
                      f"{row['macs'] / 1e9:.3f}", f"{row['cumulative_percent']:.1f}")
    total = report["total"]
    table.add_section()
    table.add_row("", "total", "", f"{total['params']:,}", f"{total['macs'] / 1e9:.3f}", "")
    console = Console()
    if not console.is_terminal:  # logs and CI: do not squeeze columns into 80 characters
        console = Console(width=160)
    console.print(table)
    if report["uncounted_ops"]:
        ops = ", ".join(f"{op} x{n}" for op, n in report["uncounted_ops"].items())
        click.echo(f"warning: no formula for these ops (not in the MACs): {ops}", err=True)
    layout = report.get("output_layout") or {}
    if layout.get("kind") not in (None, "nchw"):
        click.echo(f"output: {layout['description']}")
    if report["verify"] is not None and report["verify"]["ok"]:
        click.echo(_verify_line(report["verify"]))


def _verify_line(verify: dict[str, Any]) -> str:
    diffs = (f"largest relative difference {verify['eval_max_rel_diff']:.3g} in eval mode, "
             f"{verify['train_max_rel_diff']:.3g} in train mode; tolerance {verify['tolerance']:g}")
    if verify["ok"]:
        return f"verify: ok, the blocks recompose the backbone ({diffs})"
    mutating = verify["blocks_modifying_their_input"]
    extra = f"; blocks {mutating} modify their input in place" if mutating else ""
    return f"verify: the blocks do not recompose the backbone ({diffs}){extra}"
