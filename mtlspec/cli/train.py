"""`mtlspec train`: compile a spec and train it on a bundled data set with a loss weighting.

torch is imported inside the command so `mtlspec validate` stays fast.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from mtlspec.cli.data_source import data_source_options
from mtlspec.cli.options import (
    allow_import_option,
    apply_threads,
    device_option,
    json_option,
    threads_option,
)
from mtlspec.cli.train_options import recipe_options, resolve
from mtlspec.errors import MtlspecError

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


@click.command("train")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@data_source_options("overlap=2 or val_size=500")
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
@click.option("--augment", is_flag=True,
              help="Random scale-crop and flip of training images and dense targets alike.")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="DataLoader worker processes (results do not depend on it).")
@click.option("--drop-last", is_flag=True,
              help="Skip each epoch's last, smaller batch.")
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
              help="Write the last epoch's state dict (for `mtlspec build --weights`); the "
                   "best epoch's goes next to it (see --best-output).")
@click.option("--baseline", type=click.Path(dir_okay=False), multiple=True,
              help="Single-task metrics to report Δm against: JSON {task: value}, "
                   "{task: {metric: value}} or `train --json` output (repeatable, merged).")
@recipe_options
@threads_option
@allow_import_option
@json_option()
@click.pass_context
def train_command(ctx: click.Context, **params: Any) -> None:
    """Train spec FILE on a data set and print every metric of every task (val and test),
    of the last epoch's weights and of the best epoch's (by --select on the val split).
    The spec's task names must be tasks of the data set, each head must suit its task's kind
    (conv/aspp per pixel, linear/mlp per image) and output size; images of another size than
    the spec's input train at the data's size.

    \b
    mtlspec train specs/conal_multidigits.mtl --epochs 3 -o weights.pt
    mtlspec train specs/scenes_resnet.mtl --data scenes --data-option size=64
    mtlspec train specs/nyuv2_resnet34.mtl --data nyuv2:/data/nyuv2 --augment --workers 4
    mtlspec train specs/conal_multidigits.mtl --weighting mgda-ub --normalization loss+
    mtlspec train specs/conal_multidigits.mtl --weighting fixed --weights left=1,parity=2
    mtlspec train specs/conal_multidigits.mtl --optimizer sgd --lr 0.05 --schedule cosine
    mtlspec train specs/conal_multidigits.mtl --config run.toml --seeds 0,1,2
    mtlspec train specs/conal_multidigits.mtl --checkpoint ckpt/ --resume
    """
    options = resolve(ctx, params, parse_task_weights, WEIGHTINGS)
    if options["resume"] and not options["checkpoint"]:
        raise MtlspecError("--resume needs --checkpoint DIR (where the run saved its state)")
    if options["log_dir"]:
        _need_tensorboard()
    from mtlspec.cli.train_report import print_report, print_seeds
    from mtlspec.cli.train_run import for_seed, train_once

    as_json = options["as_json"]
    apply_threads(options["threads"])
    if not options["seeds"]:
        report = train_once(dict(options, progress=not as_json))
        click.echo(json.dumps(report, indent=2)) if as_json else print_report(report)
        return
    from mtlspec.plan.seeds import run_seeds, summarize

    seeds = options["seeds"]
    parallel = min(options["parallel"] or os.cpu_count() or 1, len(seeds))
    threads = options["threads"] or max(1, (os.cpu_count() or 1) // parallel)
    jobs = [dict(for_seed(options, s), threads=threads if parallel > 1 else 0) for s in seeds]
    reports = run_seeds(train_once, jobs, parallel, preload=(
        "torch", "mtlspec.compile.load", "mtlspec.train.settings", "mtlspec.cli.train_run"))
    summary = {"seeds": seeds, "summary": summarize(reports), "runs": reports}
    click.echo(json.dumps(summary, indent=2)) if as_json else print_seeds(summary)


def _need_tensorboard() -> None:
    """--log-dir without TensorBoard: a clear error before any training."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise MtlspecError("--log-dir needs TensorBoard, an optional extra: "
                           "pip install 'mtlspec[tensorboard]'")
