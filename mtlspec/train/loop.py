"""The training loop: any multi-task model, any weighting, exact resume, per-task metrics.

Batches come through `torch.utils.data.DataLoader` (`mtlspec.data.serve`), workers and pinned
memory included. Determinism: the data order of epoch e is a permutation drawn from a
generator seeded with (seed, e) and augmentation draws from (seed, e, item), so neither needs
saved state; a checkpoint holds the model, the optimiser, the weighting's state, the
torch/numpy/python RNG states and the position (epoch, step in epoch). Resuming from it runs
exactly the steps an uninterrupted run would (bit-identical on CPU, any worker count).
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mtlspec.data.protocol import DataSplits
from mtlspec.data.serve import serve_splits
from mtlspec.errors import MtlspecError
from mtlspec.train.checkpoint import (
    CHECKPOINT_NAME,
    CHECKPOINT_VERSION,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from mtlspec.train.evaluate import (
    device_of,
    evaluate,
    evaluate_all,
    model_tasks,
    sample_batch,
)
from mtlspec.train.losses import loss_for
from mtlspec.train.step import Stepper
from mtlspec.train.weighting import Weighting, make_weighting

__all__ = ["CHECKPOINT_NAME", "CHECKPOINT_VERSION", "StepInfo", "TrainResult", "device_of",
           "evaluate", "evaluate_all", "load_checkpoint", "model_tasks", "save_checkpoint",
           "train"]


@dataclass
class TrainResult:
    """What `train` returns: final test/val metrics per task, per-epoch history, timing.

    `metrics` / `val_metrics` hold each task's main metric; `all_metrics` /
    `all_val_metrics` every metric of every task ({task: {metric: value}}).
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


@dataclass(frozen=True)
class StepInfo:
    """Passed to `on_step` after every optimiser step."""

    step: int  # global, 1-based
    epoch: int  # 0-based
    losses: dict[str, float]
    weights: dict[str, float]


def _device(name: str | torch.device) -> torch.device:
    """A torch device that exists here, else a clear error."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as err:
        raise MtlspecError(f"unknown device {name!r}: {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MtlspecError(f"device {name!r}: CUDA is not available on this machine")
    if device.type not in ("cpu", "cuda"):
        raise MtlspecError(f"device {name!r}: mtlspec trains on cpu or cuda")
    return device


def _order(n: int, seed: int, epoch: int) -> torch.Tensor:
    key = np.random.SeedSequence([seed, epoch]).generate_state(2, np.uint32)
    gen = torch.Generator().manual_seed(int(key[0]) << 32 | int(key[1]))
    return torch.randperm(n, generator=gen)


def _scores(model: nn.Module, data: DataSplits, split: str, infos: dict,
            workers: int = 0) -> dict[str, dict[str, float]]:
    return evaluate_all(model, getattr(data, split), infos, trusted=data.trusted,
                        name=f"{data.name} {split}", workers=workers)


def _main(scores: dict[str, dict[str, float]], infos: dict) -> dict[str, float]:
    return {t: scores[t][info.metric] for t, info in infos.items()}


@dataclass
class _Run:
    """The loop's mutable position and records (what a checkpoint stores besides modules)."""

    epoch: int = 0
    step_in_epoch: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    loss_sums: dict[str, float] = field(default_factory=dict)
    weight_sums: dict[str, float] = field(default_factory=dict)
    conflict_sums: dict[str, float] = field(default_factory=dict)
    conflict_steps: int = 0
    last_step: dict[str, Any] = field(default_factory=dict)


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
) -> TrainResult:
    """Train a multi-task model with Adam and a loss weighting.

    Args:
        model: any module whose forward(x) returns {task: prediction} for tasks of `data`.
        data: the splits (`load_data`); the model's tasks must be among `data.tasks`.
        weighting: a name for `make_weighting` (seeded with `seed`) or a `Weighting`.
        epochs, batch_size, lr, weight_decay: the schedule (Adam, constant rate).
        seed: seeds the torch/numpy/python RNGs (dropout) and the data order.
        checkpoint: folder for `last.pt`, written atomically after every epoch and every
            `checkpoint_every` steps.
        resume: continue from `checkpoint/last.pt` if it exists (fresh start otherwise).
        progress: show a progress bar (only when stderr is a terminal).
        on_step: called with a `StepInfo` after every step.
        max_steps: stop after this many steps in all (a checkpoint is written there).
        device: move the model there first ("cpu", "cuda", "cuda:1"); None keeps it where it
            is. Batches follow the model (pinned memory on a GPU). Bit-identical resumes are
            promised on the CPU only.
        workers: DataLoader worker processes loading batches (0: in this process); the
            batches, and so the result, do not depend on it.
        drop_last: skip an epoch's last batch when it is smaller than `batch_size`.

    A model with a `training_parts()` method (a compiled grouping spec) is trained part by
    part, each on its own tasks with these settings (max_steps per part), checkpoints in
    `checkpoint/<part>/`; the result's metrics are the whole model's.

    Returns:
        Final test and val metrics, per-epoch history, seconds and steps.

    Raises:
        MtlspecError: model/data mismatch, bad settings, unreadable or foreign checkpoint.

    Example:
        >>> from mtlspec import load_model
        >>> from mtlspec.train.data import load_data
        >>> data = load_data("multidigits", train_size=64, val_size=32, test_size=32)
        >>> model = load_model("specs/conal_multidigits.mtl", seed=0)
        >>> result = train(model, data, weighting="rlw", epochs=1, batch_size=32)
        >>> result.steps, sorted(result.metrics), result.weighting
        (2, ['left', 'parity', 'right'], 'rlw')
    """
    if epochs < 0 or batch_size < 1 or not lr > 0:
        raise MtlspecError("need epochs ≥ 0, batch size ≥ 1 and a positive learning rate")
    if device is not None:
        model.to(_device(device))
    parts = getattr(model, "training_parts", None)
    if callable(parts):
        return _train_parts(model, parts(), data, checkpoint=checkpoint, weighting=weighting,
                            epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                            resume=resume, progress=progress, on_step=on_step,
                            max_steps=max_steps, checkpoint_every=checkpoint_every,
                            weight_decay=weight_decay, workers=workers, drop_last=drop_last)
    tasks = model_tasks(model, data)
    infos = {t: data.tasks[t] for t in tasks}
    if isinstance(weighting, str):
        weighting = make_weighting(weighting, seed=seed)
    weighting.bind(tasks)
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr,
                                 weight_decay=weight_decay)
    probe = sample_batch(data, batch_size, device_of(model), infos)[0]
    stepper = Stepper(model, tasks, [loss_for(infos[t]) for t in tasks], weighting, probe)
    config = {"tasks": tasks, "weighting": weighting.name,
              "weighting_options": _plain(weighting.settings), "batch_size": batch_size,
              "lr": lr, "seed": seed, "train_items": len(data.train), "data": data.name,
              "data_options": dict(data.options)}
    if data.augment or drop_last:  # only then: checkpoints of runs without them stay valid
        config.update(augment=repr(data.augment) if data.augment else None, drop_last=drop_last)
    path = Path(checkpoint) / CHECKPOINT_NAME if checkpoint is not None else None
    run = _Run()
    resumed_from = None
    if resume and path is not None and path.exists():
        run = _restore(path, config, model, optimizer, weighting)
        resumed_from = run.step
    loop = _Loop(model, data, infos, stepper, optimizer, weighting, run, config, path,
                 batch_size=batch_size, seed=seed, on_step=on_step,
                 checkpoint_every=checkpoint_every, workers=workers, drop_last=drop_last)
    finished = loop.run(epochs, max_steps, progress)
    test = _scores(model, data, "test", infos, workers)
    # val was scored at the last epoch's end; on these very weights, not a second time
    val = (loop.val_at[1] if loop.val_at and loop.val_at[0] == run.step
           else _scores(model, data, "val", infos, workers))
    return TrainResult(_main(test, infos), _main(val, infos), run.history, run.seconds,
                       run.step, tasks, weighting.name, finished, resumed_from, test, val,
                       _plain(weighting.settings), run.last_step)


def _plain(options: Mapping[str, Any]) -> dict[str, Any]:
    """Weighting options as JSON-able values (a checkpoint's config compares them)."""
    return {k: v if isinstance(v, (int, float, str, bool, dict, type(None))) else str(v)
            for k, v in options.items()}


def _restore(path: Path, config: dict[str, Any], model: nn.Module,
             optimizer: torch.optim.Optimizer, weighting: Weighting) -> _Run:
    state = load_checkpoint(path)
    if state["config"] != config:
        diff = ", ".join(f"{k}: {state['config'].get(k)!r} → {v!r}" for k, v in config.items()
                         if state["config"].get(k) != v)
        raise MtlspecError(f"checkpoint {path} is from a different run ({diff}); resume with "
                           "the same settings or use another --checkpoint folder")
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        weighting.load_state_dict(state["weighting"])
    except (RuntimeError, ValueError, KeyError) as err:
        raise MtlspecError(f"checkpoint {path} does not fit this model: {err}") from None
    set_rng_state(state["rng"])
    return _Run(**state["run"])


class _Loop:
    """Epochs and steps of one `train` call (kept apart so each piece stays short)."""

    def __init__(self, model, data, infos, stepper, optimizer, weighting, run, config, path, *,
                 batch_size, seed, on_step, checkpoint_every, workers, drop_last) -> None:
        self.model, self.data, self.infos = model, data, infos
        self.stepper, self.optimizer, self.weighting = stepper, optimizer, weighting
        self.run_state, self.config, self.path = run, config, path
        self.batch_size, self.seed, self.on_step = batch_size, seed, on_step
        self.checkpoint_every, self.workers, self.drop_last = checkpoint_every, workers, drop_last
        self.device = device_of(model)
        self.val_at: tuple[int, dict] | None = None  # (step, val scores) of the last epoch end
        # BatchNorm cannot train on one item: say so instead of failing deep in the model
        self.has_batch_norm = any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                  for m in model.modules())

    def save(self) -> None:
        if self.path is None:
            return
        run = self.run_state
        save_checkpoint(self.path, {
            "version": CHECKPOINT_VERSION, "config": self.config,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "weighting": self.weighting.state_dict(), "rng": rng_state(),
            "run": {k: getattr(run, k) for k in ("epoch", "step_in_epoch", "step", "history",
                                                  "seconds", "loss_sums", "weight_sums",
                                                  "conflict_sums", "conflict_steps",
                                                  "last_step")},
        })

    def run(self, epochs: int, max_steps: int | None, progress: bool) -> bool:
        """Train up to `epochs`; False when `max_steps` stopped it first."""
        n = len(self.data.train)
        per_epoch = (n // self.batch_size if self.drop_last
                     else (n + self.batch_size - 1) // self.batch_size)
        from mtlspec.train.progress import progress_bar

        with progress_bar(progress, total=epochs * per_epoch) as bar:
            bar.advance(min(self.run_state.epoch * per_epoch + self.run_state.step_in_epoch,
                            epochs * per_epoch))
            while self.run_state.epoch < epochs:
                if not self._epoch(n, max_steps, bar):
                    return False
        return True

    def _epoch(self, n: int, max_steps: int | None, bar: Any) -> bool:
        run = self.run_state
        order = _order(n, self.seed, run.epoch)
        self.model.train()
        batches = serve_splits(self.data, "train", infos=self.infos, batch_size=self.batch_size,
                               order=order, start_batch=run.step_in_epoch, epoch=run.epoch,
                               seed=self.seed, workers=self.workers, device=self.device,
                               drop_last=self.drop_last)
        items = iter(batches)
        for _ in range(len(batches)):
            if max_steps is not None and run.step >= max_steps:
                self.save()
                return False
            start = time.perf_counter()
            x, y = next(items)
            if len(x) == 1 and self.has_batch_norm:
                raise MtlspecError(
                    f"a training batch of one item (the last of {n} items in batches of "
                    f"{self.batch_size}): batch norm cannot train on it; use --drop-last "
                    "or another batch size")
            losses, weights = self.stepper.step(x, y, self.optimizer)
            run.seconds += time.perf_counter() - start
            run.step += 1
            run.step_in_epoch += 1
            for t, value in losses.items():
                run.loss_sums[t] = run.loss_sums.get(t, 0.0) + value
                run.weight_sums[t] = run.weight_sums.get(t, 0.0) + weights[t]
            self._record(weights)
            bar.advance(1, f"epoch {run.epoch + 1} loss {sum(losses.values()):.3f}")
            if self.on_step is not None:
                self.on_step(StepInfo(run.step, run.epoch, losses, weights))
            if self.checkpoint_every and run.step % self.checkpoint_every == 0:
                self.save()
        self._end_epoch()
        return True

    def _record(self, weights: dict[str, float]) -> None:
        """The step's gradient cosines (gradient methods) into the epoch sums; the last step."""
        run, conflict = self.run_state, self.stepper.conflict
        if conflict is not None:
            for k, v in conflict.items():
                run.conflict_sums[k] = run.conflict_sums.get(k, 0.0) + v
            run.conflict_steps += 1
        run.last_step = {"step": run.step, "weights": weights, "conflict": conflict}

    def _end_epoch(self) -> None:
        run = self.run_state
        steps = max(run.step_in_epoch, 1)
        row = {
            "epoch": run.epoch + 1,
            "train_loss": {t: v / steps for t, v in run.loss_sums.items()},
            "mean_weights": {t: v / steps for t, v in run.weight_sums.items()},
            "val": _main(val := _scores(self.model, self.data, "val", self.infos,
                                        self.workers), self.infos),
            "val_metrics": val,
            "seconds": run.seconds,
        }
        self.val_at = (run.step, val)
        if run.conflict_steps:
            row["conflict"] = {k: v / run.conflict_steps for k, v in run.conflict_sums.items()}
        run.history.append(row)
        run.epoch += 1
        run.step_in_epoch = 0
        run.loss_sums, run.weight_sums = {}, {}
        run.conflict_sums, run.conflict_steps = {}, 0
        self.weighting.end_epoch()
        self.save()


def _train_parts(model: nn.Module, parts: dict[str, nn.Module], data: DataSplits, *,
                 checkpoint: str | Path | None, weighting: str | Weighting,
                 **settings: Any) -> TrainResult:
    """Train each part on its own tasks (a grouping's networks), then score the whole model."""
    results = {}
    for name, part in parts.items():
        folder = Path(checkpoint) / name if checkpoint is not None else None
        own = copy.deepcopy(weighting)  # each part starts the weighting afresh
        results[name] = train(part, data, checkpoint=folder, weighting=own, **settings)
    tasks = model_tasks(model, data)
    infos = {t: data.tasks[t] for t in tasks}
    history = [{"part": name, **row} for name, r in results.items() for row in r.history]
    done = list(results.values())
    workers = settings.get("workers", 0)
    test, val = (_scores(model, data, split, infos, workers) for split in ("test", "val"))
    return TrainResult(_main(test, infos), _main(val, infos),
                       history, sum(r.seconds for r in done), sum(r.steps for r in done), tasks,
                       done[0].weighting if done else "", all(r.finished for r in done),
                       max((r.resumed_from for r in done if r.resumed_from is not None),
                           default=None), test, val,
                       done[0].weighting_options if done else {})
