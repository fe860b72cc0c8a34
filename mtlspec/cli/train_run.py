"""One `mtlspec train` run from its resolved options (`train_once`): load the spec and the
data, train, write the last and best weights, return the JSON report.

A module-level function of plain data in and out, so `--seeds` can run it in worker
processes (`mtlspec.plan.seeds`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mtlspec.errors import MtlspecError
from mtlspec.io import save_torch


def best_path(output: str | None, best_output: str | None) -> str | None:
    """Where the best epoch's weights go: `--best-output`, else -o's name with `.best`.

    Example:
        >>> best_path("runs/model.pt", None)
        'runs/model.best.pt'
    """
    if best_output or not output:
        return best_output
    path = Path(output)
    return str(path.with_name(f"{path.stem}.best{path.suffix}"))


def for_seed(options: dict[str, Any], seed: int) -> dict[str, Any]:
    """The options of one seed of a `--seeds` run: its own seed and own output paths
    (`model.seed1.pt`, `ckpt/seed1/`, `logs/seed1/`).

    Example:
        >>> for_seed({"output": "m.pt", "best_output": None, "checkpoint": "ck",
        ...           "log_dir": None}, 1)["output"]
        'm.seed1.pt'
    """
    out = dict(options, seed=seed, seeds=None)
    for key in ("output", "best_output"):
        if out.get(key):
            path = Path(out[key])
            out[key] = str(path.with_name(f"{path.stem}.seed{seed}{path.suffix}"))
    for key in ("checkpoint", "log_dir"):
        if out.get(key):
            out[key] = str(Path(out[key]) / f"seed{seed}")
    return out


def train_once(options: dict[str, Any]) -> dict[str, Any]:
    """Train the spec `options["file"]` with the resolved options; the JSON report.

    Raises:
        MtlspecError: bad spec, data, settings or checkpoint.
    """
    from mtlspec.cli.data_source import resolve_data
    from mtlspec.cli.train_report import build_report, read_baselines
    from mtlspec.spec import load, validate

    o = options
    base = read_baselines(o["baseline"]) if o["baseline"] else None
    doc = load(o["file"])
    validate(doc)
    resolve_data(o["data"], (), doc)  # checks the data set and the spec's tasks
    names = [t.name for t in doc.spec.tasks]
    import torch

    if o.get("threads"):  # seeds in parallel share the CPUs
        torch.set_num_threads(o["threads"])

    from mtlspec import load_model
    from mtlspec.train.optim import OptimSettings
    from mtlspec.train.prepare import fit_to_data
    from mtlspec.train.settings import RunSettings, fit
    from mtlspec.train.weighting import make_weighting

    optim = OptimSettings(**{k: o[k] for k in (
        "optimizer", "lr", "weight_decay", "momentum", "nesterov", "schedule",
        "warmup_epochs", "step_size", "gamma", "min_lr")})
    weighting = make_weighting(o["weighting"], weights=o["weights"],
                               normalization=o["normalization"], seed=o["seed"],
                               **o["weighting_options"])
    data_options = dict(o["data_options"])
    if o["train_size"]:
        data_options["train_size"] = o["train_size"]
    from mtlspec.cli.options import check_data_memory

    check_data_memory(doc.spec, data_options)  # before the data set is built
    settings = RunSettings(data=o["data"], data_options=data_options, epochs=o["epochs"],
                           batch_size=o["batch_size"], lr=o["lr"], seed=o["seed"],
                           weighting=o["weighting"], augment=o["augment"],
                           drop_last=o["drop_last"])
    splits = settings.load_data(names, allow_import=o["allow_import"])
    fit_to_data(doc, None, splits)  # located errors before anything is compiled
    model = load_model(doc, allow_import=o["allow_import"], seed=o["seed"],
                       dtype=torch.float32)  # float32 master weights
    input_note = fit_to_data(doc, model, splits)
    log = _tensorboard(o["log_dir"])
    try:
        result = fit(model, splits, settings, weighting=weighting,
                     checkpoint=o["checkpoint"], resume=o["resume"],
                     progress=o.get("progress", False), max_steps=o["max_steps"],
                     checkpoint_every=o["checkpoint_every"] if o["checkpoint"] else None,
                     device=o["device"], workers=o["workers"], optim=optim,
                     select=o["select"], baseline=base, amp=o["amp"],
                     on_step=log.on_step if log else None,
                     on_epoch=log.on_epoch if log else None)
    finally:
        if log is not None:
            log.close()
    if o["output"]:
        save_torch(o["output"], model.state_dict())
    best_file = best_path(o["output"], o["best_output"])
    if best_file and result.best_state is not None:
        save_torch(best_file, result.best_state)
    report = build_report(doc, splits, result, base, o["output"], input_note)
    report["seed"] = o["seed"]
    report["optim"] = optim.changed()
    if o["amp"]:
        report["amp"] = o["amp"]
    if result.best:
        report["best"]["weights"] = best_file if result.best_state is not None else None
    if o["log_dir"]:
        report["log_dir"] = o["log_dir"]
    return report


def _tensorboard(log_dir: str | None) -> Any:
    if not log_dir:
        return None
    from mtlspec.train.tblog import TensorBoardLog

    try:
        return TensorBoardLog(log_dir)
    except OSError as err:
        raise MtlspecError(f"cannot write TensorBoard logs to {log_dir}: {err}") from None
