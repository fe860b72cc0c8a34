"""The epochs and steps of one training (`EpochLoop`) and its position (`RunState`).

Kept apart from `mtlspec.train.loop.train`, which sets a run up and reports it. Per step: one
`Stepper.step`, the sums for the epoch's history, `on_step`; per epoch: the validation
metrics, the best-epoch tracker, the schedule's step, `on_epoch`, a checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mtlspec.data.protocol import DataSplits
from mtlspec.data.serve import serve_splits
from mtlspec.errors import MtlspecError
from mtlspec.train.amp import Precision
from mtlspec.train.checkpoint import CHECKPOINT_VERSION, rng_state, save_checkpoint
from mtlspec.train.evaluate import device_of, evaluate_all
from mtlspec.train.optim import current_lr
from mtlspec.train.select import BestTracker
from mtlspec.train.step import Stepper
from mtlspec.train.weighting import Weighting


@dataclass(frozen=True)
class StepInfo:
    """Passed to `on_step` after every optimiser step."""

    step: int  # global, 1-based
    epoch: int  # 0-based
    losses: dict[str, float]
    weights: dict[str, float]
    lr: float = 0.0  # the rate this step used
    conflict: dict[str, float] | None = None  # task-gradient cosines (gradient methods)


RUN_FIELDS = ("epoch", "step_in_epoch", "step", "history", "seconds", "loss_sums",
              "weight_sums", "conflict_sums", "conflict_steps", "last_step")


@dataclass
class RunState:
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


def data_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The training items' order in an epoch: a permutation drawn from (seed, epoch) alone."""
    key = np.random.SeedSequence([seed, epoch]).generate_state(2, np.uint32)
    gen = torch.Generator().manual_seed(int(key[0]) << 32 | int(key[1]))
    return torch.randperm(n, generator=gen)


def split_scores(model: nn.Module, data: DataSplits, split: str, infos: dict,
                 workers: int = 0) -> dict[str, dict[str, float]]:
    """Every metric of every task on one split."""
    return evaluate_all(model, getattr(data, split), infos, trusted=data.trusted,
                        name=f"{data.name} {split}", workers=workers)


def main_metrics(scores: dict[str, dict[str, float]], infos: dict) -> dict[str, float]:
    return {t: scores[t][info.metric] for t, info in infos.items()}


@dataclass
class Parts:
    """What the loop updates besides the model and what the checkpoint holds of them."""

    stepper: Stepper
    optimizer: torch.optim.Optimizer
    weighting: Weighting
    schedule: torch.optim.lr_scheduler.LRScheduler | None
    best: BestTracker
    amp: Precision


class EpochLoop:
    """Epochs and steps of one `train` call."""

    def __init__(self, model: nn.Module, data: DataSplits, infos: dict, parts: Parts,
                 run: RunState, config: dict[str, Any], path: Path | None, *, batch_size: int,
                 seed: int, on_step: Callable[[StepInfo], None] | None,
                 on_epoch: Callable[[dict[str, Any]], None] | None,
                 checkpoint_every: int | None, workers: int, drop_last: bool) -> None:
        self.model, self.data, self.infos, self.parts = model, data, infos, parts
        self.run_state, self.config, self.path = run, config, path
        self.batch_size, self.seed = batch_size, seed
        self.on_step, self.on_epoch = on_step, on_epoch
        self.checkpoint_every, self.workers, self.drop_last = checkpoint_every, workers, drop_last
        self.device = device_of(model)
        # BatchNorm cannot train on one item: say so instead of failing deep in the model
        self.has_batch_norm = any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                  for m in model.modules())

    def save(self) -> None:
        if self.path is None:
            return
        p, run = self.parts, self.run_state
        save_checkpoint(self.path, {
            "version": CHECKPOINT_VERSION, "config": self.config,
            "model": self.model.state_dict(), "optimizer": p.optimizer.state_dict(),
            "weighting": p.weighting.state_dict(), "rng": rng_state(),
            "schedule": p.schedule.state_dict() if p.schedule is not None else {},
            "best": p.best.state_dict(), "amp": p.amp.state_dict(),
            "run": {k: getattr(run, k) for k in RUN_FIELDS},
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
        run, optimizer = self.run_state, self.parts.optimizer
        order = data_order(n, self.seed, run.epoch)
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
            lr = current_lr(optimizer)
            losses, weights = self.parts.stepper.step(x, y, optimizer)
            run.seconds += time.perf_counter() - start
            run.step += 1
            run.step_in_epoch += 1
            for t, value in losses.items():
                run.loss_sums[t] = run.loss_sums.get(t, 0.0) + value
                run.weight_sums[t] = run.weight_sums.get(t, 0.0) + weights[t]
            conflict = self._record(weights)
            bar.advance(1, f"epoch {run.epoch + 1} loss {sum(losses.values()):.3f}")
            if self.on_step is not None:
                self.on_step(StepInfo(run.step, run.epoch, losses, weights, lr, conflict))
            if self.checkpoint_every and run.step % self.checkpoint_every == 0:
                self.save()
        self._end_epoch()
        return True

    def _record(self, weights: dict[str, float]) -> dict[str, float] | None:
        """The step's gradient cosines (gradient methods) into the epoch sums; the last step."""
        run, conflict = self.run_state, self.parts.stepper.conflict
        if conflict is not None:
            for k, v in conflict.items():
                run.conflict_sums[k] = run.conflict_sums.get(k, 0.0) + v
            run.conflict_steps += 1
        run.last_step = {"step": run.step, "weights": weights, "conflict": conflict}
        return conflict

    def _end_epoch(self) -> None:
        run, parts = self.run_state, self.parts
        steps = max(run.step_in_epoch, 1)
        val = split_scores(self.model, self.data, "val", self.infos, self.workers)
        row = {
            "epoch": run.epoch + 1,
            "train_loss": {t: v / steps for t, v in run.loss_sums.items()},
            "mean_weights": {t: v / steps for t, v in run.weight_sums.items()},
            "val": main_metrics(val, self.infos),
            "val_metrics": val,
            "seconds": run.seconds,
            "lr": current_lr(parts.optimizer),
        }
        if run.conflict_steps:
            row["conflict"] = {k: v / run.conflict_steps for k, v in run.conflict_sums.items()}
        row["best"] = parts.best.update(run.epoch + 1, val, self.model)
        run.history.append(row)
        run.epoch += 1
        run.step_in_epoch = 0
        run.loss_sums, run.weight_sums = {}, {}
        run.conflict_sums, run.conflict_steps = {}, 0
        parts.weighting.end_epoch()
        if parts.schedule is not None:
            parts.schedule.step()
        if self.on_epoch is not None:
            self.on_epoch(row)
        self.save()
