"""The interface every loss weighting / gradient aggregation method implements.

A `Weighting` turns one step's T task losses — and, for gradient methods, the T×T Gram matrix
of the task gradients — into T loss weights; `mtlspec.train.step.Stepper` does the backward
passes and applies Σ_t w_t ∇L_t to every parameter. `requires` says what the step must compute:

- "losses": the losses only (one backward pass of Σ w_t L_t);
- "params": per-task gradients of the parameters two or more tasks share (their Gram matrix);
- "representation": per-task gradients w.r.t. the shared trunk's output z (MGDA-UB style,
  LibMTL's `rep_grad`), much cheaper than the parameter gradients.

Methods whose shared update is not a weighted sum of the task gradients (GradDrop, DB-MTL) set
`aggregates` and return the shared direction from `aggregate`; the task-specific parameters then
get Σ_t w_t ∇L_t with the weights it returns. Methods that learn something (UW, GradNorm, FAMO,
IMTL-L) own their parameters and optimiser; `state_dict` holds all of it for checkpoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from mtlspec.errors import MtlspecError

Requires = Literal["losses", "params", "representation"]


class Weighting:
    """Base class: `weights(losses, gram)` → T loss weights (tensor in the losses' dtype).

    Class attributes a method sets: `name`, `kind` ("loss" or "gradient"), `paper` (a short
    citation), `requires`, `aggregates`, `observes` (wants the same batch's losses after the
    update: FAMO) and `option_help` ({option: what it means}). `settings` holds the options
    it was built with (set by `make_weighting`, reported with the training result).
    """

    name = "base"
    kind: Literal["loss", "gradient"] = "loss"
    paper = ""
    requires: Requires = "losses"
    aggregates = False
    observes = False
    option_help: ClassVar[dict[str, str]] = {}

    def __init__(self) -> None:
        self.tasks: list[str] = []
        self.last: np.ndarray | None = None  # the most recent weights, for logs
        self.settings: dict[str, Any] = {}

    def bind(self, tasks: Sequence[str]) -> None:
        """Fix the task order of the weights (called by the loop before the first step)."""
        self.tasks = list(tasks)

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def weights(self, losses: torch.Tensor, gram: np.ndarray | None = None) -> torch.Tensor:
        """Loss weights for one step (losses detached, in `tasks` order)."""
        w = np.asarray(self.compute(losses.detach(), gram), dtype=np.float64)
        self.last = w
        return torch.as_tensor(w, dtype=losses.dtype, device=losses.device)

    def aggregate(self, losses: torch.Tensor, grads: torch.Tensor,
                  rep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """For `aggregates` methods: (weights of the task-specific parts, shared direction).

        Args:
            losses: the T losses (detached).
            grads: [T, D] per-task gradients of the shared parameters, or of the representation
                z (then `rep` is z, detached, and D = z.numel()).
            rep: the representation, in representation mode.
        """
        raise NotImplementedError

    def observe(self, losses: torch.Tensor) -> None:
        """For `observes` methods: the losses on the same batch after the update."""

    def end_epoch(self) -> None:
        """Called by the loop after every epoch (DWA keeps per-epoch mean losses)."""

    def default_lr(self, lr: float) -> None:
        """The model optimiser's learning rate, for methods whose own rate defaults to it."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


class GradientWeighting(Weighting):
    """A method on the task gradients: of the shared parameters, or with `rep_grad` of the
    shared representation (as MGDA-UB; needs a model with an all-shared trunk)."""

    kind: Literal["loss", "gradient"] = "gradient"
    rep_grad_ok = True

    def __init__(self, rep_grad: bool = False) -> None:
        super().__init__()
        if rep_grad and not self.rep_grad_ok:
            raise MtlspecError(f"{self.name} does not work on representation gradients "
                               "(rep_grad); drop the option")
        self.rep_grad = rep_grad

    @property
    def requires(self) -> Requires:  # type: ignore[override]
        return "representation" if self.rep_grad else "params"


def need_gram(name: str, gram: np.ndarray | None) -> np.ndarray:
    """The Gram matrix as float64, or a ValueError when the step did not compute it."""
    if gram is None:
        raise ValueError(f"{name} needs the task gradients' Gram matrix")
    return np.asarray(gram, dtype=np.float64)


class Learned:
    """A vector of T learnable numbers with its own Adam optimiser (a mixin for methods).

    Args:
        initial: the starting value of every entry.
        lr: Adam's learning rate; None takes the model optimiser's (`default_lr`).
        weight_decay: Adam's weight decay.
    """

    def __init__(self, initial: float, lr: float | None, weight_decay: float = 0.0) -> None:
        if lr is not None and not lr > 0:
            raise MtlspecError(f"learning rate lr must be > 0, got {lr}")
        self.initial, self.lr, self.weight_decay = initial, lr, weight_decay
        self.param = torch.zeros(0, dtype=torch.float64, requires_grad=True)
        self.optimizer = torch.optim.Adam([self.param], lr=1e-3)

    def create(self, size: int) -> None:
        self.param = torch.full((size,), float(self.initial), dtype=torch.float64,
                                requires_grad=True)
        self.optimizer = torch.optim.Adam([self.param], lr=self.lr if self.lr else 1e-3,
                                          weight_decay=self.weight_decay)

    def set_default_lr(self, lr: float) -> None:
        if self.lr is None:
            for group in self.optimizer.param_groups:
                group["lr"] = lr

    def descend(self, grad: torch.Tensor) -> None:
        """One Adam step with the given gradient."""
        self.param.grad = grad.detach().to(torch.float64)
        self.optimizer.step()
        self.param.grad = None

    def value(self) -> torch.Tensor:
        return self.param.detach().clone()

    def learned_state(self) -> dict[str, Any]:
        return {"param": self.value(), "optimizer": self.optimizer.state_dict()}

    def load_learned(self, state: Mapping[str, Any]) -> None:
        with torch.no_grad():
            self.param.copy_(state["param"])
        self.optimizer.load_state_dict(state["optimizer"])


def cosine_stats(gram: np.ndarray | torch.Tensor) -> dict[str, float] | None:
    """Gradient-conflict statistics of one step from the Gram matrix of the task gradients.

    Returns:
        {"cos_mean", "cos_min", "conflict_share"} over the task pairs whose gradients are both
        non-zero (conflict_share: share of pairs with a negative cosine), or None with no pair.

    Example:
        >>> cosine_stats(np.array([[1.0, -1.0], [-1.0, 4.0]]))
        {'cos_mean': -0.5, 'cos_min': -0.5, 'conflict_share': 1.0}
    """
    g = np.asarray(gram.detach().cpu() if isinstance(gram, torch.Tensor) else gram,
                   dtype=np.float64)
    norms = np.sqrt(np.maximum(np.diag(g), 0.0))
    cosines = [g[i, j] / (norms[i] * norms[j]) for i in range(len(g)) for j in range(i + 1, len(g))
               if norms[i] > 0 and norms[j] > 0]
    if not cosines:
        return None
    c = np.clip(np.array(cosines), -1.0, 1.0)
    return {"cos_mean": float(c.mean()), "cos_min": float(c.min()),
            "conflict_share": float((c < 0).mean())}
