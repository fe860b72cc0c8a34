"""The optimiser and learning-rate schedule of a training (`OptimSettings`).

Optimisers: `sgd` (with momentum, optionally Nesterov), `adam`, `adamw`; weight decay for all.
Schedules, stepped once per epoch (torch.optim.lr_scheduler does the arithmetic):

- `constant`: the rate stays `lr`;
- `step`: multiplied by `gamma` every `step_size` epochs (MTAN: halve every 100);
- `cosine`: `warmup_epochs` of linear warm-up (epoch e trains at lr·(e+1)/(warmup+1)), then
  cosine annealing to `min_lr` at the last epoch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from mtlspec.errors import MtlspecError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")


@dataclass(frozen=True)
class OptimSettings:
    """How the parameters are updated.

    Example:
        >>> OptimSettings(optimizer="sgd", lr=0.1, schedule="step", step_size=2).changed()
        {'optimizer': 'sgd', 'lr': 0.1, 'schedule': 'step', 'step_size': 2}
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    schedule: str = "constant"
    warmup_epochs: int = 0  # cosine only
    step_size: int = 100  # step only (epochs)
    gamma: float = 0.5  # step only
    min_lr: float = 0.0  # cosine only

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise MtlspecError(f"unknown optimizer {self.optimizer!r}; use one of "
                               f"{', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise MtlspecError(f"unknown schedule {self.schedule!r}; use one of "
                               f"{', '.join(SCHEDULES)}")
        if not self.lr > 0 or self.weight_decay < 0 or not 0 <= self.momentum < 1:
            raise MtlspecError("need lr > 0, weight decay ≥ 0 and 0 ≤ momentum < 1")
        if self.warmup_epochs < 0 or self.step_size < 1 or not 0 < self.gamma <= 1:
            raise MtlspecError("need warmup epochs ≥ 0, step size ≥ 1 and 0 < gamma ≤ 1")
        if self.min_lr < 0 or self.min_lr > self.lr:
            raise MtlspecError("need 0 ≤ min lr ≤ lr")

    def changed(self) -> dict[str, Any]:
        """The settings that differ from the defaults (what a checkpoint's config records, so
        checkpoints of plain Adam runs written before schedules existed stay valid)."""
        default = asdict(OptimSettings())
        return {k: v for k, v in asdict(self).items() if v != default[k]}


def make_optimizer(params: Iterable[torch.nn.Parameter],
                   settings: OptimSettings) -> torch.optim.Optimizer:
    """The optimiser for `params`.

    Example:
        >>> p = torch.nn.Parameter(torch.zeros(2))
        >>> type(make_optimizer([p], OptimSettings(optimizer="adamw"))).__name__
        'AdamW'
    """
    params = list(params)
    s = settings
    if s.optimizer == "sgd":
        return torch.optim.SGD(params, lr=s.lr, momentum=s.momentum, nesterov=s.nesterov,
                               weight_decay=s.weight_decay)
    if s.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay)
    return torch.optim.Adam(params, lr=s.lr, weight_decay=s.weight_decay)


def make_schedule(optimizer: torch.optim.Optimizer, settings: OptimSettings,
                  epochs: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The per-epoch schedule (None for a constant rate); `epochs` is the run's length.

    Example:
        >>> p = torch.nn.Parameter(torch.zeros(1))
        >>> s = OptimSettings(lr=1.0, schedule="cosine", warmup_epochs=1)
        >>> opt = make_optimizer([p], s)
        >>> sched = make_schedule(opt, s, epochs=3)
        >>> rates = []
        >>> for _ in range(3):
        ...     rates.append(round(opt.param_groups[0]["lr"], 3))
        ...     opt.step(); sched.step()
        >>> rates
        [0.5, 1.0, 0.5]
    """
    s = settings
    sched = torch.optim.lr_scheduler
    if s.schedule == "step":
        return sched.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma)
    if s.schedule == "cosine":
        warmup = min(s.warmup_epochs, max(epochs - 1, 0))
        cosine = sched.CosineAnnealingLR(optimizer, T_max=max(epochs - warmup, 1),
                                         eta_min=s.min_lr)
        if warmup == 0:
            return cosine
        linear = sched.LinearLR(optimizer, start_factor=1 / (warmup + 1), end_factor=1.0,
                                total_iters=warmup)
        return sched.SequentialLR(optimizer, [linear, cosine], milestones=[warmup])
    return None


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    """The first parameter group's rate now."""
    return float(optimizer.param_groups[0]["lr"])
