"""The training loop: any multi-task model, any weighting, exact resume, per-task metrics.

Batches come through `torch.utils.data.DataLoader` (`mtlspec.data.serve`), workers and pinned
memory included. Determinism: the data order of epoch e is a permutation drawn from a
generator seeded with (seed, e) and augmentation draws from (seed, e, item), so neither needs
saved state; a checkpoint holds the model, the optimiser, the schedule, the weighting's state,
the best epoch's weights, the torch/numpy/python RNG states and the position (epoch, step in
epoch). Resuming from it runs exactly the steps an uninterrupted run would (bit-identical on
CPU, any worker count). The epochs themselves run in `mtlspec.train.epochs`.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mtlspec.data.protocol import DataSplits
from mtlspec.errors import MtlspecError
from mtlspec.train.amp import Precision
from mtlspec.train.checkpoint import (
    CHECKPOINT_NAME,
    CHECKPOINT_VERSION,
    load_checkpoint,
    save_checkpoint,
    set_rng_state,
)
from mtlspec.train.device import check_device
from mtlspec.train.epochs import (
    EpochLoop,
    Parts,
    RunState,
    StepInfo,
    main_metrics,
    split_scores,
)
from mtlspec.train.evaluate import (
    device_of,
    evaluate,
    evaluate_all,
    model_tasks,
    sample_batch,
)
from mtlspec.train.losses import loss_for
from mtlspec.train.optim import OptimSettings, make_optimizer, make_schedule
from mtlspec.train.select import BestTracker, Selector
from mtlspec.train.step import Stepper
from mtlspec.train.weighting import Weighting, make_weighting

__all__ = ["CHECKPOINT_NAME", "CHECKPOINT_VERSION", "StepInfo", "TrainResult", "device_of",
           "evaluate", "evaluate_all", "load_checkpoint", "model_tasks", "save_checkpoint",
           "train"]


@dataclass
class TrainResult:
    """What `train` returns: final test/val metrics per task, per-epoch history, timing.

    `metrics` / `val_metrics` hold each task's main metric; `all_metrics` /
    `all_val_metrics` every metric of every task ({task: {metric: value}}), all of the last
    weights; `best` describes the best epoch's weights (`best_state`).
    """

    metrics: dict[str, float]
    val_metrics: dict[str, float]
    history: list[dict[str, Any]]
    seconds: float
    steps: int
    tasks: list[str] = field(default_factory=list)
    weighting: str = ""
    finished: bool = True  # False when max_steps stopped the run early
    resumed_from: int | None = None  # global step of the checkpoint resumed from
    all_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    all_val_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    # what the weighting did: its options and the last step's weights and gradient cosines
    # (per-epoch means of both are in `history`: mean_weights, conflict)
    weighting_options: dict[str, Any] = field(default_factory=dict)
    last_step: dict[str, Any] = field(default_factory=dict)
    # the best epoch by the validation selector: select, epoch, score, val_metrics and
    # test_metrics (every metric of every task); empty for a grouping trained part by part
    best: dict[str, Any] = field(default_factory=dict)
    best_state: dict[str, torch.Tensor] | None = None  # its weights (a CPU state dict)


def train(
    model: nn.Module,
    data: DataSplits,
    *,
    weighting: str | Weighting = "uniform",
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = False,
    on_step: Callable[[StepInfo], None] | None = None,
    max_steps: int | None = None,
    checkpoint_every: int | None = None,
    weight_decay: float = 0.0,
    device: str | torch.device | None = None,
    workers: int = 0,
    drop_last: bool = False,
    optim: OptimSettings | None = None,
    select: str | None = None,
    baseline: Mapping[str, Any] | None = None,
    amp: str | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train a multi-task model with an optimiser, a schedule and a loss weighting.

    Args:
        model: any module whose forward(x) returns {task: prediction} for tasks of `data`.
        data: the splits (`load_data`); the model's tasks must be among `data.tasks`.
        weighting: a name for `make_weighting` (seeded with `seed`) or a `Weighting`.
        epochs, batch_size: the run's length and batch size.
        lr, weight_decay: Adam at a constant rate, when `optim` is None.
        optim: optimiser and schedule (`OptimSettings`); overrides `lr` and `weight_decay`.
        seed: seeds the torch/numpy/python RNGs (dropout) and the data order.
        checkpoint: folder for `last.pt`, written atomically after every epoch and every
            `checkpoint_every` steps.
        resume: continue from `checkpoint/last.pt` if it exists (fresh start otherwise).
        progress: show a progress bar (only when stderr is a terminal).
        on_step: called with a `StepInfo` after every step.
        on_epoch: called with each epoch's history row (after its validation).
        max_steps: stop after this many steps in all (a checkpoint is written there).
        device: move the model there first ("cpu", "cuda", "cuda:1"); None keeps it where it
            is. Batches follow the model (pinned memory on a GPU). Bit-identical resumes are
            promised on the CPU only.
        workers: DataLoader worker processes loading batches (0: in this process); the
            batches, and so the result, do not depend on it.
        drop_last: skip an epoch's last batch when it is smaller than `batch_size`.
        select, baseline: what makes an epoch the best (`mtlspec.train.select.Selector`:
            `delta` against `baseline`, `mean`, `TASK.METRIC`; None: delta when a baseline is
            given, else mean).
        amp: `bf16` or `fp16` forward passes (`mtlspec.train.amp`); None: float32.

    A model with a `training_parts()` method (a compiled grouping spec) is trained part by
    part, each on its own tasks with these settings (max_steps per part), checkpoints in
    `checkpoint/<part>/`; the result's metrics are the whole model's.

    Returns:
        Final test and val metrics, the best epoch, per-epoch history, seconds and steps.

    Raises:
        MtlspecError: model/data mismatch, bad settings, unreadable or foreign checkpoint.

    Example:
        >>> from mtlspec import load_model
        >>> from mtlspec.train.data import load_data
        >>> data = load_data("multidigits", train_size=64, val_size=32, test_size=32)
        >>> model = load_model("specs/conal_multidigits.mtl", seed=0)
        >>> result = train(model, data, weighting="rlw", epochs=1, batch_size=32)
        >>> result.steps, sorted(result.metrics), result.weighting, result.best["epoch"]
        (2, ['left', 'parity', 'right'], 'rlw', 1)
    """
    optim = optim if optim is not None else OptimSettings(lr=lr, weight_decay=weight_decay)
    if epochs < 0 or batch_size < 1:
        raise MtlspecError("need epochs ≥ 0 and batch size ≥ 1")
    if device is not None:
        model.to(check_device(device))
    parts = getattr(model, "training_parts", None)
    if callable(parts):
        return _train_parts(model, parts(), data, checkpoint=checkpoint, weighting=weighting,
                            epochs=epochs, batch_size=batch_size, seed=seed, resume=resume,
                            progress=progress, on_step=on_step, max_steps=max_steps,
                            checkpoint_every=checkpoint_every, workers=workers,
                            drop_last=drop_last, optim=optim, select=select,
                            baseline=baseline, amp=amp, on_epoch=on_epoch)
    tasks = model_tasks(model, data)
    infos = {t: data.tasks[t] for t in tasks}
    best = BestTracker(Selector(select, infos, baseline))
    precision = Precision(amp, device_of(model))
    if isinstance(weighting, str):
        weighting = make_weighting(weighting, seed=seed)
    weighting.bind(tasks)
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], optim)
    schedule = make_schedule(optimizer, optim, epochs)
    probe = sample_batch(data, batch_size, device_of(model), infos)[0]
    stepper = Stepper(model, tasks, [loss_for(infos[t]) for t in tasks], weighting, probe,
                      precision)
    config = _config(data, tasks, weighting, batch_size, seed, drop_last, optim, epochs, amp)
    path = Path(checkpoint) / CHECKPOINT_NAME if checkpoint is not None else None
    run = RunState()
    held = Parts(stepper, optimizer, weighting, schedule, best, precision)
    resumed_from = None
    if resume and path is not None and path.exists():
        run = _restore(path, config, model, held)
        resumed_from = run.step
    loop = EpochLoop(model, data, infos, held, run, config, path, batch_size=batch_size,
                     seed=seed, on_step=on_step, on_epoch=on_epoch,
                     checkpoint_every=checkpoint_every, workers=workers, drop_last=drop_last)
    finished = loop.run(epochs, max_steps, progress)
    test = split_scores(model, data, "test", infos, workers)
    at_epoch_end = run.step_in_epoch == 0 and run.history and run.history[-1]["epoch"] == run.epoch
    # the last epoch's validation is that of these weights: not evaluated twice
    val = (run.history[-1]["val_metrics"] if at_epoch_end
           else split_scores(model, data, "val", infos, workers))
    summary = best.summary()
    if best.epoch is not None:
        summary["test_metrics"] = (test if at_epoch_end and best.epoch == run.epoch
                                   else _best_test(model, best.state, data, infos, workers))
    return TrainResult(main_metrics(test, infos), main_metrics(val, infos), run.history,
                       run.seconds, run.step, tasks, weighting.name, finished, resumed_from,
                       test, val, _plain(weighting.settings), run.last_step, summary,
                       best.state)


def _config(data: DataSplits, tasks: list[str], weighting: Weighting, batch_size: int,
            seed: int, drop_last: bool, optim: OptimSettings, epochs: int,
            amp: str | None) -> dict[str, Any]:
    """What a resumed run must share with the checkpoint (additions only when set, so
    checkpoints of runs that did not use them stay valid)."""
    config = {"tasks": tasks, "weighting": weighting.name,
              "weighting_options": _plain(weighting.settings), "batch_size": batch_size,
              "lr": optim.lr, "seed": seed, "train_items": len(data.train), "data": data.name,
              "data_options": dict(data.options)}
    if data.augment or drop_last:
        config.update(augment=repr(data.augment) if data.augment else None, drop_last=drop_last)
    changed = {k: v for k, v in optim.changed().items() if k != "lr"}
    if changed:
        config["optim"] = changed
    if optim.schedule == "cosine":  # its rates depend on the run's length
        config["epochs"] = epochs
    if amp is not None:
        config["amp"] = amp
    return config


def _best_test(model: nn.Module, state: dict[str, torch.Tensor] | None, data: DataSplits,
               infos: dict, workers: int) -> dict[str, dict[str, float]]:
    """The test metrics of the best epoch's weights (the model keeps its last weights)."""
    last = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    try:
        return split_scores(model, data, "test", infos, workers)
    finally:
        model.load_state_dict(last)


def _plain(options: Mapping[str, Any]) -> dict[str, Any]:
    """Weighting options as JSON-able values (a checkpoint's config compares them)."""
    return {k: v if isinstance(v, (int, float, str, bool, dict, type(None))) else str(v)
            for k, v in options.items()}


def _restore(path: Path, config: dict[str, Any], model: nn.Module, parts: Parts) -> RunState:
    state = load_checkpoint(path)
    missing = [k for k in ("config", "model", "optimizer", "weighting", "rng", "run")
               if not isinstance(state.get(k), dict)]
    if missing:  # a truncated or hand-made file: name it instead of a KeyError
        raise MtlspecError(f"checkpoint {path} is incomplete: no {', '.join(missing)}; "
                           "delete it to train from the start")
    if state["config"] != config:
        diff = ", ".join(f"{k}: {state['config'].get(k)!r} → {v!r}" for k, v in config.items()
                         if state["config"].get(k) != v)
        raise MtlspecError(f"checkpoint {path} is from a different run ({diff}); resume with "
                           "the same settings or use another --checkpoint folder")
    try:
        model.load_state_dict(state["model"])
        parts.optimizer.load_state_dict(state["optimizer"])
        parts.weighting.load_state_dict(state["weighting"])
        if parts.schedule is not None:
            parts.schedule.load_state_dict(state["schedule"])
        if state.get("best"):
            parts.best.load_state_dict(state["best"])
        parts.amp.load_state_dict(state.get("amp", {}))
        set_rng_state(state["rng"])
        return RunState(**state["run"])
    except (RuntimeError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise MtlspecError(f"checkpoint {path} does not fit this model: {err}") from None


def _train_parts(model: nn.Module, parts: dict[str, nn.Module], data: DataSplits, *,
                 checkpoint: str | Path | None, weighting: str | Weighting,
                 **settings: Any) -> TrainResult:
    """Train each part on its own tasks (a grouping's networks), then score the whole model."""
    results = {}
    for name, part in parts.items():
        folder = Path(checkpoint) / name if checkpoint is not None else None
        own = copy.deepcopy(weighting)  # each part starts the weighting afresh
        select = settings.get("select")
        if select and "." in select and select.split(".")[0] not in model_tasks(part, data):
            select = None  # a part without the selected task selects by its own tasks
        results[name] = train(part, data, checkpoint=folder, weighting=own,
                              **{**settings, "select": select})
    # no best epoch of the whole: each part keeps its own best in its checkpoint
    tasks = model_tasks(model, data)
    infos = {t: data.tasks[t] for t in tasks}
    history = [{"part": name, **row} for name, r in results.items() for row in r.history]
    done = list(results.values())
    workers = settings.get("workers", 0)
    test, val = (split_scores(model, data, split, infos, workers) for split in ("test", "val"))
    return TrainResult(main_metrics(test, infos), main_metrics(val, infos),
                       history, sum(r.seconds for r in done), sum(r.steps for r in done), tasks,
                       done[0].weighting if done else "", all(r.finished for r in done),
                       max((r.resumed_from for r in done if r.resumed_from is not None),
                           default=None), test, val,
                       done[0].weighting_options if done else {})
