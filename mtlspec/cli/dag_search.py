"""`mtlspec search dag`: DAG topology search with flow-based reduction → a DAG spec."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mtlspec.cli.base_spec import load_base
from mtlspec.cli.data_source import data_source_options, resolve_data
from mtlspec.cli.options import (
    allow_import_option,
    device_option,
    json_option,
    parse_key_values,
    search_weighting_options,
)
from mtlspec.cli.train import WEIGHTINGS
from mtlspec.errors import MtlspecError
from mtlspec.io import save_torch


def _positive(name: str, value: float | None, minimum: float = 1) -> None:
    if value is not None and value < minimum:
        raise MtlspecError(f"{name} must be at least {minimum:g}, got {value:g}")


@click.command("dag")
@click.option("--spec", "spec_path", required=True, type=click.Path(dir_okay=False),
              help="Base DAG spec: input, central network (stem, edge op), tasks and heads.")
@data_source_options("size=32")
@click.option("--states", type=int, default=None, help="Hidden states N (default: the spec's).")
@click.option("--flow", type=int, default=None, help="Flow constant M (default: the spec's).")
@click.option("--kappa", type=float, default=None, help="Squeeze-loss budget κ (default N−1).")
@click.option("--lambda-sq", "lambda_sq", type=float, default=0.05, show_default=True,
              help="Weight λ_sq of the squeeze loss.")
@click.option("--epochs-warmup", type=int, default=5, show_default=True,
              help="Epochs with α, β, Γ fixed at 0.5 (θ only).")
@click.option("--epochs-search", type=int, default=4, show_default=True,
              help="Epochs learning α, β, Γ and θ with the squeeze loss.")
@click.option("--epochs-finetune", type=int, default=6, show_default=True,
              help="Epochs training the discrete network.")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam rate for θ.")
@click.option("--arch-lr", type=float, default=0.05, show_default=True,
              help="Adam rate for the read-in, edge and read-out weights.")
@click.option("--reduction", type=click.Choice(["flow", "random", "threshold"]), default="flow",
              show_default=True, help="Flow-based reduction, or a baseline at equal sparsity.")
@search_weighting_options(
    WEIGHTINGS, "Combine the task gradients of θ's update (search and fine-tuning) with this "
    "method, e.g. mgda or pcgrad [default: the plain sum of the losses].")
@device_option("Search and fine-tune on this device: cpu (default), cuda, cuda:1.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--train-size", type=int, default=None, help="Training items (data default).")
@click.option("--test-size", type=int, default=None, help="Test items (data default).")
@click.option("--max-steps", type=int, default=None, hidden=True,
              help="Cap on steps per stage epoch (smoke tests).")
@click.option("--checkpoint", type=click.Path(file_okay=False), default=None,
              help="Folder for checkpoints (after every epoch).")
@click.option("--resume", is_flag=True, help="Continue from the checkpoints in --checkpoint.")
@click.option("--weights-out", type=click.Path(dir_okay=False), default=None,
              help="Save the fine-tuned weights here (for `mtlspec build --weights`).")
@click.option("--name", default=None, help="Name of the written spec.")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Write the DAG spec here (default: standard output).")
@click.option("--progress/--no-progress", default=True, help="Progress bars on a terminal.")
@allow_import_option
@json_option()
def search_dag_command(spec_path, data, data_options, states, flow, kappa, lambda_sq, epochs_warmup,
                       epochs_search, epochs_finetune, batch_size, lr, arch_lr, reduction,
                       weighting, weighting_options, device, seed,
                       train_size, test_size, max_steps, checkpoint, resume, weights_out, name,
                       output, progress, allow_import, as_json) -> None:
    """Search per-task topologies over a shared central network, reduce, fine-tune.

    Warm-up (θ only), search (θ with read-in/edge/read-out weights and the squeeze loss),
    flow-based reduction (or a baseline), then the discrete network is fine-tuned and the
    per-task topologies are written as a DAG spec.

    \b
    mtlspec search dag --spec specs/multidigits_dag.mtl --data multidigits -o dag.mtl
    mtlspec search dag --spec base.mtl --states 8 --flow 4 --checkpoint ck --resume -o dag.mtl
    mtlspec search dag --spec specs/multidigits_dag.mtl --weighting mgda --device cuda
    """
    if resume and checkpoint is None:
        raise MtlspecError("--resume continues from --checkpoint DIR; give the folder")
    for flag, value in (("--batch-size", batch_size), ("--train-size", train_size),
                        ("--test-size", test_size), ("--max-steps", max_steps)):
        _positive(flag, value)
    for flag, value in (("--epochs-warmup", epochs_warmup), ("--epochs-search", epochs_search),
                        ("--epochs-finetune", epochs_finetune), ("--lambda-sq", lambda_sq)):
        _positive(flag, value, 0)
    options = parse_key_values(weighting_options, "--weighting-option")
    if options and weighting is None:
        raise MtlspecError("--weighting-option needs --weighting NAME")
    base = load_base(spec_path, "dag", "`mtlspec search dag` needs")
    choice = resolve_data(data, data_options, base, train_size=train_size, test_size=test_size)
    import torch

    from mtlspec.data import load_data
    from mtlspec.search.dag.stages import SearchConfig, run_dag_search
    from mtlspec.train.device import check_device
    from mtlspec.train.prepare import fit_to_data

    check_device(device)  # before anything is loaded or trained

    config = SearchConfig(states=states, flow=flow, kappa=kappa, lambda_sq=lambda_sq,
                          epochs_warmup=epochs_warmup, epochs_search=epochs_search,
                          epochs_finetune=epochs_finetune, batch_size=batch_size, lr=lr,
                          arch_lr=arch_lr, reduction=reduction, seed=seed, max_steps=max_steps,
                          weighting=weighting, weighting_options=tuple(sorted(options.items())))
    splits = load_data(choice.ref, tasks=[t.name for t in base.tasks], seed=seed,
                       allow_import=allow_import, **choice.options)
    fit_to_data(base, None, splits)
    result = run_dag_search(base, splits, config, checkpoint=Path(checkpoint) if checkpoint
                            else None, resume=resume, progress=progress, name=name,
                            device=device)
    _write(result, output, weights_out, torch)
    _report(result, output, weights_out, as_json)


def _write(result, output, weights_out, torch) -> None:

    from mtlspec.io import write_atomic
    from mtlspec.spec import format as format_spec

    if weights_out is not None:
        save_torch(weights_out, result.model.state_dict())
    if output is not None:
        write_atomic(output, format_spec(result.spec))


def _report(result, output, weights_out, as_json: bool) -> None:
    from mtlspec.search.dag.report import spec_stats, stats_rows
    from mtlspec.spec import format as format_spec

    stats = spec_stats(result.spec)
    metrics = result.finetune.metrics if result.finetune is not None else {}
    data = {"spec": None if output else format_spec(result.spec), "output": output,
            "weights": weights_out, "metrics": metrics,
            "params_full": result.params_full, "params_reduced": result.params_reduced,
            "transferred": len(result.transferred),
            "search_seconds": result.state.seconds,
            "finetune_seconds": result.finetune.seconds if result.finetune else 0.0,
            "topologies": [{"task": s.task, "read_in": list(s.read_in),
                            "read_out": list(s.read_out), "edges": s.edges, "depth": s.depth,
                            "width": s.width, "sparsity": s.sparsity} for s in stats]}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    if output is None:
        click.echo(data["spec"], nl=False)
    from mtlspec.cli.rich_table import print_table

    rows = stats_rows(stats)
    for row in rows:
        value = metrics.get(row["task"])
        row["test metric"] = "—" if value is None else f"{value:.4f}"
    with _stderr():
        print_table("searched topologies (D depth, W width, S sparsity)", rows)
    lines = [f"params: full central network {result.params_full:,}, reduced "
             f"{result.params_reduced:,}; {len(result.transferred)} tensors from the search",
             f"search {result.state.seconds:.1f}s, fine-tune {data['finetune_seconds']:.1f}s"]
    lines += [f"wrote {p}" for p in (output, weights_out) if p]
    click.echo("\n".join(lines), err=True)


def _stderr():
    import contextlib
    import sys

    return contextlib.redirect_stdout(sys.stderr)


