"""`mtlspec train`: compile a spec and train it on a bundled data set with a loss weighting.

torch is imported inside the command so `mtlspec validate` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mtlspec.cli.options import (
    allow_import_option,
    data_options_option,
    device_option,
    json_option,
    parse_data_options,
    parse_key_values,
)
from mtlspec.errors import MtlspecError
from mtlspec.io import save_torch
from mtlspec.spec import load, validate

# torch-free copies of the registry's names (mtlspec.train.weighting.WEIGHTINGS; a test keeps
# them equal), so that `mtlspec train --help` does not import torch
WEIGHTINGS = ("uniform", "fixed", "rlw", "uw", "dwa", "gls", "imtl-l", "famo", "gradnorm",
              "db-mtl", "mgda", "mgda-ub", "pcgrad", "graddrop", "gradvac", "imtl-g", "imtl",
              "cagrad", "nash-mtl", "aligned-mtl", "upgrad", "dualproj", "config", "fairgrad")
NORMALIZATIONS = ("none", "l2", "loss", "loss+")


def parse_task_weights(text: str) -> dict[str, float]:
    """`a=1,b=0.5` → {"a": 1.0, "b": 0.5}.

    Raises:
        MtlspecError: not a comma-separated list of task=number.

    Example:
        >>> parse_task_weights("left=2, parity=0.5")
        {'left': 2.0, 'parity': 0.5}
    """
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, eq, value = item.partition("=")
        try:
            if not eq or not name.strip():
                raise ValueError
            weights[name.strip()] = float(value)
        except ValueError:
            raise MtlspecError(f"--weights: {item!r} is not task=number (e.g. left=1,right=2)"
                               ) from None
    if not weights:
        raise MtlspecError("--weights is empty; write e.g. left=1,right=2")
    return weights


def _baseline(path: str) -> dict[str, float]:
    """Single-task metrics from a JSON file: {task: value} or `mtlspec train --json` output."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise MtlspecError(f"cannot read baseline {path}: {err}") from None
    metrics = data.get("metrics", data) if isinstance(data, dict) else None
    if not isinstance(metrics, dict) or not all(
            isinstance(v, (int, float)) for v in metrics.values()):
        raise MtlspecError(f"{path}: expected {{task: metric}} or `mtlspec train --json` output")
    return {k: float(v) for k, v in metrics.items()}


def _check_tasks(spec: Any, data: str) -> list[str]:
    from mtlspec.train.data import dataset_tasks

    names = [t.name for t in spec.tasks]
    offered = dataset_tasks(data)
    missing = [t for t in names if t not in offered]
    if missing:
        raise MtlspecError(
            f"{spec.name}: task(s) {', '.join(missing)} are not in data set {data}; "
            f"rename them to tasks it has: {', '.join(offered)}")
    return names


def _report(doc: Any, data: str, result: Any, infos: dict, baseline: dict | None,
            output: str | None) -> dict[str, Any]:
    from mtlspec.train.delta import relative_delta

    report: dict[str, Any] = {
        "file": doc.filename, "spec": doc.spec.name, "data": data,
        "weighting": result.weighting, "weighting_options": result.weighting_options,
        "last_step": result.last_step, "steps": result.steps, "seconds": result.seconds,
        "finished": result.finished, "resumed_from": result.resumed_from,
        "tasks": {t: {"metric": infos[t].metric, "higher_is_better": infos[t].higher_is_better,
                      "val": result.val_metrics[t], "test": result.metrics[t]}
                  for t in result.tasks},
        "metrics": result.metrics, "val_metrics": result.val_metrics,
        "history": result.history, "weights": output,
    }
    if baseline is not None:
        report["delta"] = relative_delta(result.metrics, baseline, infos)
        for t, row in report["tasks"].items():
            if t in baseline:
                row["single"] = baseline[t]
    return report


def _print_report(report: dict[str, Any]) -> None:
    from mtlspec.cli.rich_table import print_table

    rows = []
    for t, row in report["tasks"].items():
        shown = {"task": t, "metric": row["metric"] + (" ↑" if row["higher_is_better"] else " ↓"),
                 "val": f"{row['val']:.4f}", "test": f"{row['test']:.4f}"}
        if "delta" in report:
            shown["single-task"] = f"{row['single']:.4f}" if "single" in row else "-"
        rows.append(shown)
    status = "" if report["finished"] else " (stopped early; --resume continues)"
    print_table(f"{report['spec']}, {report['weighting']}", rows)
    click.echo(f"{report['data']}: {report['steps']} steps in {report['seconds']:.1f} s"
               f"{status}")
    if "delta" in report:
        click.echo(f"Δ vs single-task: {report['delta']:+.2f}%")
    _print_weighting(report)
    if report["weights"]:
        click.echo(f"wrote {report['weights']} (load with: mtlspec build {report['file']} "
                   f"--weights {report['weights']} -o model.onnx)")


def _print_weighting(report: dict[str, Any]) -> None:
    """What the weighting did in the last epoch: mean weights and gradient cosines."""
    history = [row for row in report["history"] if "mean_weights" in row]
    if not history or report["weighting"] == "uniform":
        return
    last = history[-1]
    weights = ", ".join(f"{t} {w:.3g}" for t, w in last["mean_weights"].items())
    click.echo(f"{report['weighting']} weights (mean of the last epoch): {weights}")
    conflict = last.get("conflict")
    if conflict:
        click.echo(f"task-gradient cosines: mean {conflict['cos_mean']:+.3f}, min "
                   f"{conflict['cos_min']:+.3f}, {100 * conflict['conflict_share']:.0f}% of "
                   "pairs conflicting")


@click.command("train")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--data", default="multidigits", show_default=True, help="Bundled data set.")
@click.option("--weighting", type=click.Choice(WEIGHTINGS), default="uniform", show_default=True,
              help="Loss weighting / gradient aggregation (`mtlspec weightings` lists them).")
@click.option("--weighting-option", "weighting_options", multiple=True, metavar="KEY=VALUE",
              help="An option of the weighting, e.g. alpha=1.5 or rep_grad=true (repeatable).")
@click.option("--weights", "task_weights", metavar="T=W,...",
              help="Per-task loss weights for --weighting fixed (e.g. left=1,right=2).")
@click.option("--normalization", type=click.Choice(NORMALIZATIONS), default=None,
              help="Gradient normalisation for mgda / mgda-ub [default: loss+; none for the "
              "other weightings].")
@click.option("--epochs", type=click.IntRange(min=0), default=5, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3,
              show_default=True)
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds initialisation, data splits and order.")
@click.option("--train-size", type=click.IntRange(min=1), help="Training items (data default).")
@data_options_option("overlap=2 or val_size=500")
@click.option("--checkpoint", type=click.Path(file_okay=False),
              help="Folder for the checkpoint (written atomically each epoch and every "
                   "--checkpoint-every steps).")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=50, show_default=True,
              metavar="STEPS")
@click.option("--resume", is_flag=True, help="Continue from --checkpoint (exactly as if "
                                              "never stopped).")
@click.option("--max-steps", type=click.IntRange(min=0), help="Stop after this many steps.")
@device_option("Train on this device: cpu (default), cuda, cuda:1.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the trained state dict (for `mtlspec build --weights`).")
@click.option("--baseline", type=click.Path(dir_okay=False),
              help="Single-task metrics (JSON {task: value}) to report Δ against.")
@allow_import_option
@json_option()
def train_command(file: str, data: str, weighting: str, weighting_options: tuple[str, ...],
                  task_weights: str | None, normalization: str | None, epochs: int,
                  batch_size: int, lr: float, seed: int,
                  train_size: int | None, data_options: tuple[str, ...],
                  checkpoint: str | None, checkpoint_every: int, resume: bool,
                  max_steps: int | None, device: str | None, output: str | None,
                  baseline: str | None,
                  allow_import: bool, as_json: bool) -> None:
    """Train spec FILE on a bundled data set and print per-task val/test metrics. The spec's
    task names must be tasks of the data set (MultiDigits: left, right, parity, greater, has7,
    max, equal, sum, absdiff) and each head's output size must match.

    \b
    mtlspec train specs/conal_multidigits.mtl --epochs 3 -o weights.pt
    mtlspec train specs/conal_multidigits.mtl --weighting mgda-ub --normalization loss+
    mtlspec train specs/conal_multidigits.mtl --weighting fixed --weights left=1,parity=2
    mtlspec train specs/conal_multidigits.mtl --weighting gradnorm --weighting-option alpha=1
    mtlspec train specs/conal_multidigits.mtl --checkpoint ckpt/ --resume
    """
    if resume and not checkpoint:
        raise MtlspecError("--resume needs --checkpoint DIR (where the run saved its state)")
    weights = parse_task_weights(task_weights) if task_weights is not None else None
    method_options = parse_key_values(weighting_options, "--weighting-option")
    base = _baseline(baseline) if baseline else None
    doc = load(file)
    names = _check_tasks(validate(doc), data)
    import torch

    from mtlspec import load_model
    from mtlspec.train.settings import RunSettings, fit
    from mtlspec.train.weighting import make_weighting

    w = make_weighting(weighting, weights=weights, normalization=normalization, seed=seed,
                       **method_options)
    options = parse_data_options(data_options)
    if train_size:
        options["train_size"] = train_size
    settings = RunSettings(data=data, data_options=options, epochs=epochs,
                           batch_size=batch_size, lr=lr, seed=seed, weighting=weighting)
    splits = settings.load_data(names)
    model = load_model(doc, allow_import=allow_import, seed=seed,  # initial weights: the seed
                       dtype=torch.float32)  # float32 master weights
    result = fit(model, splits, settings, weighting=w, checkpoint=checkpoint, resume=resume,
                 progress=not as_json, max_steps=max_steps,
                 checkpoint_every=checkpoint_every if checkpoint else None, device=device)
    if output:
        save_torch(output, model.state_dict())
    report = _report(doc, data, result, splits.tasks, base, output)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print_report(report)
