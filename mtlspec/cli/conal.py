"""`mtlspec search conal` (CoNAL branch search → tree spec) and `mtlspec import conal`.

Both hang off the shared `search` / `import` groups (`mtlspec.cli.lazy`), which load them on
first use. torch is imported inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from mtlspec.cli.base_spec import load_base, warn_mapping
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

RETRAIN = ["none", *WEIGHTINGS]


def _write_spec(spec, output: str | None, as_json: bool) -> str:
    from mtlspec.io import write_atomic
    from mtlspec.spec import format as format_spec

    text = format_spec(spec)
    if output is not None:
        write_atomic(output, text)
    elif not as_json:
        click.echo(text, nl=False)
    return text


@click.command("conal")
@click.option("--spec", "spec_path", required=True, type=click.Path(dir_okay=False),
              help="Base tree spec: its backbone blocks and task heads (layout ignored).")
@data_source_options("size=32", name="data_name")
@click.option("--pro", is_flag=True, help="CoNAL-Pro: progressive, one stage per block → "
              "a general tree with task subgroups.")
@click.option("--no-conflict-noticing", "no_noticing", is_flag=True,
              help="Ablation: update every shared module whatever the conflicts (not Eq. 5).")
@click.option("--epochs", type=click.IntRange(1), default=10, show_default=True,
              help="Search epochs (per stage with --pro).")
@click.option("--warmup", type=click.IntRange(0), default=0, show_default=True,
              help="Epochs that train only the weights before α moves.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--train-size", type=click.IntRange(1), default=None, help="Training items.")
@click.option("--val-size", type=click.IntRange(1), default=None, help="Validation items.")
@click.option("--test-size", type=click.IntRange(1), default=None, help="Test items.")
@search_weighting_options(
    WEIGHTINGS, "Combine the task gradients of the search's weight step with this method "
    "(CoNAL paper, Table 7: + mgda, pcgrad, cagrad, ...) [default: their plain sum].")
@device_option("Search and retrain on this device: cpu (default), cuda, cuda:1.")
@click.option("--retrain", type=click.Choice(RETRAIN), default="rlw", show_default=True,
              help="Retrain the found spec from scratch with this loss weighting.")
@click.option("--retrain-epochs", type=click.IntRange(1), default=10, show_default=True)
@click.option("--weights-out", default=None, type=click.Path(dir_okay=False),
              help="Save the retrained weights here (for `mtlspec build --weights`).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--checkpoint", "checkpoint_dir", default=None, type=click.Path(file_okay=False),
              help="Folder for the search checkpoint (saved after every epoch).")
@click.option("--resume", is_flag=True, help="Continue the search saved in --checkpoint.")
@click.option("--name", default=None, help="Name of the written spec.")
@allow_import_option
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Write the found spec here (default: standard output).")
@json_option()
def search_conal_command(spec_path, data_name, data_options, pro, no_noticing, epochs, warmup,
                         batch_size, train_size, val_size, test_size, weighting,
                         weighting_options, device, retrain, retrain_epochs, weights_out,
                         seed, checkpoint_dir, resume, name, allow_import, output,
                         as_json) -> None:
    """Search where each task leaves the shared trunk (CoNAL), then retrain the found tree.

    \b
    mtlspec search conal --spec base.mtl --data multidigits -o conal.mtl
    mtlspec search conal --spec base.mtl --pro --epochs 2 --retrain none -o pro.mtl --json
    mtlspec search conal --spec specs/scenes_resnet.mtl --data scenes --weighting pcgrad
    """
    if resume and checkpoint_dir is None:
        raise MtlspecError("--resume needs --checkpoint DIR (the folder of the saved search)")
    if weights_out is not None and retrain == "none":
        raise MtlspecError("--weights-out saves the retrained weights; drop --retrain none")
    options = parse_key_values(weighting_options, "--weighting-option")
    if options and weighting is None:
        raise MtlspecError("--weighting-option needs --weighting NAME")
    from mtlspec.data import load_data
    from mtlspec.search.conal import SearchConfig, search_conal
    from mtlspec.train.device import check_device
    from mtlspec.train.prepare import fit_to_data
    from mtlspec.train.progress import progress_bar

    check_device(device)  # before anything is loaded or trained
    base = load_base(spec_path, "model", "CoNAL needs its backbone and heads from")
    choice = resolve_data(data_name, data_options, base, train_size=train_size,
                          val_size=val_size, test_size=test_size)
    data = load_data(choice.ref, tasks=[t.name for t in base.tasks], seed=seed,
                     allow_import=allow_import, **choice.options)
    fit_to_data(base, None, data)
    config = SearchConfig(epochs=epochs, batch_size=batch_size, warmup_epochs=warmup,
                          conflict_noticing=not no_noticing, seed=seed, weighting=weighting,
                          weighting_options=tuple(sorted(options.items())))
    with progress_bar(not as_json, total=None, description="search") as bar:
        result = search_conal(base, data, config=config, pro=pro, name=name,
                              checkpoint=Path(checkpoint_dir) if checkpoint_dir else None,
                              resume=resume, allow_import=allow_import, device=device,
                              progress=lambda label, done, total: bar.update(
                                  done, total, f"search {label}"))
    text = _write_spec(result.spec, output, as_json)
    trained = None
    if retrain != "none":
        trained = _retrain(result.spec, data, retrain, retrain_epochs, batch_size, seed,
                           weights_out, allow_import, not as_json, device)
    report = _report(result, trained, retrain)
    report["weighting"] = {"name": weighting, "options": options} if weighting else None
    if as_json:
        if output is None:
            report["spec"] = text
        click.echo(json.dumps(report, indent=2))
        return
    _print(report)
    if output is not None:
        click.echo(f"wrote {output}", err=True)
    if weights_out is not None:
        click.echo(f"wrote {weights_out}", err=True)


def _retrain(spec, data, weighting, epochs, batch_size, seed, weights_out, allow_import,
             progress, device=None):
    import torch

    from mtlspec import load_model
    from mtlspec.train.prepare import fit_to_data
    from mtlspec.train.settings import RunSettings, fit

    settings = RunSettings(epochs=epochs, batch_size=batch_size, seed=seed, weighting=weighting)
    model = load_model(spec, allow_import=allow_import, seed=seed, dtype=torch.float32)
    fit_to_data(spec, model, data)
    result = fit(model, data, settings, progress=progress, device=device)
    if weights_out is not None:
        save_torch(weights_out, model.state_dict())
    return result


def _report(result, trained, weighting) -> dict:
    stages = []
    for stage in result.stages:
        stages.append({"label": stage.label, "choices": stage.choices,
                       "candidates": stage.candidates, "weights": stage.weights,
                       "steps": stage.steps,
                       "conflicts": [{"module": i + 1, "negative_ratio": r,
                                      "conflicted_steps": c, "frozen_steps": f}
                                     for i, (r, c, f) in enumerate(zip(
                                         stage.stats.ratio(), stage.stats.conflicted,
                                         stage.stats.frozen, strict=True))],
                       "history": stage.history})
    out = {"spec_name": result.spec.name, "pro": result.pro,
           "conflict_noticing": result.config.conflict_noticing,
           "branch_points": result.branch_points, "stages": stages,
           "search_seconds": result.seconds}
    if trained is not None:
        out["retrain"] = {"weighting": weighting, "test": trained.metrics,
                          "val": trained.val_metrics, "seconds": trained.seconds}
    return out


def _print(report: dict) -> None:
    from mtlspec.cli.rich_table import print_table

    for stage in report["stages"]:
        rows = [{"unit": unit, "branch point": str(point),
                 "α weights (softmax)": " ".join(
                     f"{c}:{w:.2f}" for c, w in zip(stage["candidates"][unit],
                                                     stage["weights"][unit], strict=True))}
                for unit, point in stage["choices"].items()]
        print_table(f"CoNAL {stage['label']}: branch points (shared blocks)", rows)
        print_table(f"CoNAL {stage['label']}: gradient conflicts on the all-shared blocks", [
            {"block": str(c["module"]), "negative cosine pairs": f"{c['negative_ratio']:.1%}",
             "steps with a conflict": str(c["conflicted_steps"]),
             "steps not updated": f"{c['frozen_steps']} of {stage['steps']}"}
            for c in stage["conflicts"]])
    if "retrain" in report:
        r = report["retrain"]
        print_table(f"retrained with {r['weighting']} ({r['seconds']:.1f} s)", [
            {"task": t, "val": f"{r['val'].get(t, float('nan')):.4f}", "test": f"{v:.4f}"}
            for t, v in r["test"].items()])
    click.echo(f"search: {report['search_seconds']:.1f} s", err=True)


@click.command("conal")
@click.argument("arch", type=click.Path(dir_okay=False))
@click.option("--base", "base_path", required=True, type=click.Path(dir_okay=False),
              help="Tree spec supplying the input, backbone (B blocks) and heads.")
@click.option("--tasks", default=None,
              help="Task name of each index, comma-separated (default: the base's order).")
@click.option("--name", default=None, help="Name of the written spec (default: the base's).")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Write the spec here (default: standard output).")
@json_option("the result")
def import_conal_command(arch, base_path, tasks, name, output, as_json) -> None:
    """Turn a CoNAL result ({"0": 5, "1": 3}: task index → shared stages) into a tree spec.

    \b
    mtlspec import conal arch.json --tasks segment,depth,normal --base base.mtl -o out.mtl
    """
    from mtlspec.search.conal import import_conal

    base = load_base(base_path, "model", "CoNAL needs its backbone and heads from")
    warn_mapping(base, "conal")
    names = [t.strip() for t in tasks.split(",")] if tasks is not None else None
    if names is not None and not all(names):
        raise MtlspecError(f"--tasks {tasks!r} has an empty name; write e.g. a,b,c")
    spec = import_conal(arch, base, tasks=names, name=name)
    text = _write_spec(spec, output, as_json)
    if as_json:
        report = {"name": spec.name, "output": output,
                  "layout": [sorted(sorted(g) for g in row) for row in spec.layout]}
        if output is None:
            report["spec"] = text
        click.echo(json.dumps(report, indent=2))
    elif output is not None:
        click.echo(f"wrote {output}", err=True)


