"""One optimiser step under a weighting: the forward pass, the backward passes the weighting
needs, the weighted sum of the task gradients, the update.

- "losses" (uniform, fixed, RLW): one backward pass of Σ w_t L_t.
- "params" (MGDA): one backward pass per task on all parameters; the Gram matrix of their
  shared parts gives the weights, and each parameter's gradient is Σ w_t g_t (no extra pass).
- "representation" (MGDA-UB): the trunk runs once; per-task gradients w.r.t. its output z
  need backward passes through the task-specific part only; then Σ w_t L_t is back-propagated
  through the heads and z's gradient once through the trunk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from mtlspec.errors import MtlspecError
from mtlspec.train.shared import gram_matrix, shared_parameters, shared_split
from mtlspec.train.weighting import Weighting

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Stepper:
    """Performs training steps of `model` on `tasks` with a weighting.

    Args:
        model: the multi-task model.
        tasks: the trained tasks, in the weighting's order.
        losses: one loss function per task.
        weighting: the (bound) weighting.
        probe: an input batch, used to find MGDA's shared parameters.

    Raises:
        MtlspecError: MGDA without shared parameters, MGDA-UB without a shared trunk.
    """

    def __init__(self, model: nn.Module, tasks: Sequence[str], losses: Sequence[LossFn],
                 weighting: Weighting, probe: torch.Tensor) -> None:
        self.model, self.tasks, self.loss_fns = model, list(tasks), list(losses)
        self.weighting = weighting
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.shared_mask: list[bool] = []
        if weighting.requires == "params":
            shared = {id(p) for p in shared_parameters(model, probe, self.tasks)}
            self.shared_mask = [id(p) in shared for p in self.params]
        elif weighting.requires == "representation":
            self.trunk, self.rest = shared_split(model)

    def _losses(self, out: dict[str, torch.Tensor], y: dict[str, torch.Tensor]) -> torch.Tensor:
        losses = torch.stack([fn(out[t], y[t]) for t, fn in zip(self.tasks, self.loss_fns,
                                                                  strict=True)])
        if not torch.isfinite(losses).all():
            bad = [t for t, v in zip(self.tasks, losses.tolist(), strict=True)
                   if not torch.isfinite(torch.tensor(v))]
            raise MtlspecError(f"the loss of task(s) {', '.join(bad)} is not finite; "
                               "lower the learning rate")
        return losses

    def step(self, x: torch.Tensor, y: dict[str, torch.Tensor],
             optimizer: torch.optim.Optimizer) -> tuple[dict[str, float], dict[str, float]]:
        """One update; returns each task's loss and weight."""
        optimizer.zero_grad(set_to_none=True)
        kind = self.weighting.requires
        if kind == "representation":
            losses, w = self._representation_step(x, y)
        elif kind == "params":
            losses, w = self._params_step(x, y)
        else:
            losses = self._losses(self.model(x), y)
            w = self.weighting.weights(losses.detach(), None)
            (w * losses).sum().backward()
        optimizer.step()
        return (dict(zip(self.tasks, losses.detach().tolist(), strict=True)),
                dict(zip(self.tasks, w.tolist(), strict=True)))

    def _representation_step(self, x, y) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.trunk(x)
        rep = z.detach().requires_grad_()
        losses = self._losses(self.rest(rep), y)
        # One pass per task through its own part gives the gradient w.r.t. z (for the
        # weights) and w.r.t. the task-specific parameters at once; trunk parameters are not
        # reachable from the detached z, so they come out None here.
        per_task = [torch.autograd.grad(loss, [rep, *self.params], allow_unused=True,
                                        retain_graph=i < len(losses) - 1)
                    for i, loss in enumerate(losses)]
        grads = torch.stack([g[0].reshape(-1) for g in per_task])
        w = self.weighting.weights(losses.detach(), gram_matrix(grads).numpy())
        _combine(self.params, [g[1:] for g in per_task], w)
        z.backward(sum(float(w[i]) * g[0] for i, g in enumerate(per_task)))
        return losses, w

    def _params_step(self, x, y) -> tuple[torch.Tensor, torch.Tensor]:
        losses = self._losses(self.model(x), y)
        per_task = [torch.autograd.grad(loss, self.params, allow_unused=True,
                                        retain_graph=i < len(losses) - 1)
                    for i, loss in enumerate(losses)]
        flat = torch.stack([
            torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                       for p, g, shared in zip(self.params, gs, self.shared_mask, strict=True)
                       if shared])
            for gs in per_task])
        w = self.weighting.weights(losses.detach(), gram_matrix(flat).numpy())
        _combine(self.params, per_task, w)
        return losses, w


def _combine(params: Sequence[nn.Parameter], per_task: Sequence[Sequence[torch.Tensor | None]],
             w: torch.Tensor) -> None:
    """Set each parameter's gradient to Σ_t w_t g_t (tasks whose loss does not reach it skip;
    a parameter no task reaches keeps no gradient, as after a plain backward)."""
    weights = [float(v) for v in w]
    for j, p in enumerate(params):
        total = None
        for wt, grads in zip(weights, per_task, strict=True):
            if grads[j] is not None:
                total = wt * grads[j] if total is None else total + wt * grads[j]
        if total is not None:
            p.grad = total if p.grad is None else p.grad + total
