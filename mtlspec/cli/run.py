"""`mtlspec run PLAN`: train every spec of a plan, locally or on Ray; then write its table."""

from __future__ import annotations

import json

import click

from mtlspec.cli.data_source import data_source_options, resolve_data
from mtlspec.cli.options import allow_import_option, device_option, json_option
from mtlspec.errors import CheckFailed, MtlspecError


@click.command("run")
@click.argument("plan", type=click.Path(file_okay=False))
@data_source_options("size=32 or train_size=200")
@click.option("--epochs", type=int, default=5, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="A local process pool, or one Ray task per spec.")
@click.option("--workers", type=int, default=None,
              help="local: processes (default 1); ray: most tasks in flight (default: as "
                   "many as the cluster's resources allow).")
@click.option("--address", default=None,
              help="ray: the cluster to join (e.g. auto, ray://host:10001); default: start one.")
@click.option("--cpus-per-task", type=float, default=1.0, show_default=True,
              help="ray: CPUs one training asks for.")
@click.option("--gpus-per-task", type=float, default=0.0, show_default=True,
              help="ray: GPUs one training asks for.")
@click.option("--threads", type=int, default=1, show_default=True,
              help="torch threads per training.")
@device_option("Where each training runs: cpu (default), cuda, cuda:1; with ray, ask for "
               "GPUs with --gpus-per-task.")
@click.option("--force", is_flag=True, help="Train every spec again, ignoring results.")
@click.option("--tables-only", is_flag=True,
              help="Train nothing; assemble the tables from the results present.")
@allow_import_option
@json_option("the run report")
def run_command(plan, data, data_options, epochs, batch_size, lr, seed, executor, workers,
                address, cpus_per_task, gpus_per_task, threads, device, force, tables_only,
                allow_import, as_json) -> None:
    """Train and evaluate every spec of PLAN; write results/<id>.json as each one finishes.

    A killed run resumes where it stopped: specs whose result exists (same spec, same
    settings) are skipped. When all are done, the plan's table is written: pairs.csv
    (recommender) or candidates.csv and candidates_test.csv (task grouping). Exit 1 when
    some training failed (rerun to retry only those).

    \b
    mtlspec run plan/ --data multidigits --epochs 5 --workers 2
    mtlspec run plan/ --data scenes --data-option size=32 --device cuda
    mtlspec run plan/ --executor ray --address auto --gpus-per-task 0.25
    """
    from mtlspec.plan import ExecutorOptions, RunSettings, assemble_tables, load_manifest, run_plan

    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise MtlspecError("--epochs and --batch-size must be at least 1 and --lr positive")
    if tables_only:
        written = assemble_tables(plan, load_manifest(plan))
        click.echo(json.dumps({"tables": [str(p) for p in written]}) if as_json else
                   "\n".join(f"wrote {p}" for p in written))
        return
    choice = resolve_data(data, data_options)
    settings = RunSettings(data=choice.ref, data_options=choice.options, epochs=epochs,
                           batch_size=batch_size, lr=lr, seed=seed)
    if workers is None and executor == "local":
        workers = 1
    options = ExecutorOptions(kind=executor, workers=workers, address=address,
                              cpus_per_task=cpus_per_task, gpus_per_task=gpus_per_task)
    log = None if as_json else (lambda line: click.echo(line, err=True))
    report = run_plan(plan, settings, options, threads=threads, device=device, force=force,
                      log=log, allow_import=allow_import)
    if as_json:
        click.echo(json.dumps(vars(report), indent=2))
    else:
        click.echo(f"{report.kind} plan {plan}: {len(report.trained)} trained, "
                   f"{len(report.skipped)} already done, {len(report.failed)} failed "
                   f"in {report.seconds:.1f} s", err=True)
        for path in report.tables:
            click.echo(f"wrote {path}")
    if report.failed:
        raise CheckFailed(f"{len(report.failed)} trainings failed (first: "
                          f"{next(iter(report.failed.items()))[1]}); run again to retry them")
