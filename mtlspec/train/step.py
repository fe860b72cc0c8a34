"""One optimiser step under a weighting: the forward pass, the backward passes the weighting
needs, the combination of the task gradients, the update.

- "losses" (uniform, RLW, UW, DWA, ...): one backward pass of Σ w_t L_t.
- "params" (MGDA, PCGrad, UPGrad, GradNorm, ...): one backward pass per task on all parameters;
  the Gram matrix of their shared parts gives the weights, and each parameter's gradient is
  Σ w_t g_t (no extra pass). GradDrop and DB-MTL set the shared parameters' gradient to their
  own direction instead.
- "representation" (MGDA-UB, any gradient method with rep_grad): the trunk runs once; per-task
  gradients w.r.t. its output z need backward passes through the task-specific part only; then
  Σ w_t L_t is back-propagated through the heads and z's gradient once through the trunk.

After a step `conflict` holds the cosine statistics of the task gradients it computed (None for
loss-only methods, which compute none).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from mtlspec.errors import MtlspecError
from mtlspec.train.amp import Precision
from mtlspec.train.shared import gram_matrix, shared_parameters, shared_split
from mtlspec.train.weighting import Weighting, cosine_stats

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Grads = Sequence[torch.Tensor | None]


class Stepper:
    """Performs training steps of `model` on `tasks` with a weighting.

    Args:
        model: the multi-task model.
        tasks: the trained tasks, in the weighting's order.
        losses: one loss function per task.
        weighting: the (bound) weighting.
        probe: an input batch, used to find the shared parameters.
        amp: mixed precision of the forward passes (None: float32). Backward passes,
            Gram matrices and weightings run outside autocast.

    Raises:
        MtlspecError: a gradient method without shared parameters, or a representation method
            without a shared trunk.

    Example:
        >>> from mtlspec import load_model
        >>> from mtlspec.train.weighting import make_weighting
        >>> model = load_model("specs/conal_multidigits.mtl", seed=0)
        >>> tasks = ["left", "right"]
        >>> weighting = make_weighting("upgrad")
        >>> weighting.bind(tasks)
        >>> x = torch.randn(4, 1, 8, 16)
        >>> y = {t: torch.tensor([0, 1, 2, 3]) for t in tasks}
        >>> ce = torch.nn.functional.cross_entropy
        >>> stepper = Stepper(model, tasks, [ce, ce], weighting, x)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> losses, weights = stepper.step(x, y, optimizer)
        >>> sorted(weights), stepper.conflict is not None
        (['left', 'right'], True)
    """

    def __init__(self, model: nn.Module, tasks: Sequence[str], losses: Sequence[LossFn],
                 weighting: Weighting, probe: torch.Tensor, amp: Precision | None = None
                 ) -> None:
        self.model, self.tasks, self.loss_fns = model, list(tasks), list(losses)
        self.weighting = weighting
        self.amp = amp if amp is not None else Precision(None, probe.device)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.shared_mask: list[bool] = []
        self.conflict: dict[str, float] | None = None
        self._lr_given = False
        if weighting.requires == "params":
            shared = {id(p) for p in shared_parameters(model, probe, self.tasks,
                                                       method=weighting.name)}
            self.shared_mask = [id(p) in shared for p in self.params]
        elif weighting.requires == "representation":
            self.trunk, self.rest = shared_split(model, method=weighting.name)

    def _forward(self, fn: Callable[[torch.Tensor], dict[str, torch.Tensor]], x: torch.Tensor,
                 y: dict[str, torch.Tensor]) -> torch.Tensor:
        """The task losses (float32) of `fn(x)`, run under the run's autocast."""
        with self.amp.autocast():
            out = fn(x)
            losses = torch.stack([fn_t(out[t], y[t]).float() for t, fn_t in
                                  zip(self.tasks, self.loss_fns, strict=True)])
        return self._check(losses)

    def _check(self, losses: torch.Tensor) -> torch.Tensor:
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
        if not self._lr_given:  # learnt weights train at the model's rate unless told
            self.weighting.default_lr(optimizer.param_groups[0]["lr"])
            self._lr_given = True
        self.conflict = None
        kind = self.weighting.requires
        if kind == "representation":
            losses, w = self._representation_step(x, y)
        elif kind == "params":
            losses, w = self._params_step(x, y)
        else:
            losses = self._forward(self.model, x, y)
            w = self.weighting.weights(losses.detach(), None)
            self.amp.scaled((w * losses).sum()).backward()
        self.amp.step(optimizer)
        if self.weighting.observes:
            self._observe(x, y)
        return (dict(zip(self.tasks, losses.detach().tolist(), strict=True)),
                dict(zip(self.tasks, w.tolist(), strict=True)))

    def _observe(self, x, y) -> None:
        """The same batch's losses after the update (FAMO); batch-norm statistics are kept."""
        buffers = [b.clone() for b in self.model.buffers()]
        with torch.no_grad():
            losses = self._forward(self.model, x, y)
            for b, saved in zip(self.model.buffers(), buffers, strict=True):
                b.copy_(saved)
        self.weighting.observe(losses)

    def _representation_step(self, x, y) -> tuple[torch.Tensor, torch.Tensor]:
        with self.amp.autocast():
            z = self.trunk(x)
        rep = z.detach().requires_grad_()
        losses = self._forward(self.rest, rep, y)
        # One pass per task through its own part gives the gradient w.r.t. z (for the
        # weights) and w.r.t. the task-specific parameters at once; trunk parameters are not
        # reachable from the detached z, so they come out None here.
        # fp16: gradients of the scaled losses; the weighting sees them unscaled
        per_task = [torch.autograd.grad(self.amp.scaled(loss), [rep, *self.params],
                                        allow_unused=True, retain_graph=i < len(losses) - 1)
                    for i, loss in enumerate(losses)]
        scale = self.amp.factor
        grads = torch.stack([g[0].reshape(-1) for g in per_task]) / scale
        gram = gram_matrix(grads)
        self.conflict = cosine_stats(gram)
        if self.weighting.aggregates:
            w, direction = self.weighting.aggregate(losses.detach(), grads, rep.detach())
            _combine(self.params, [g[1:] for g in per_task], w)
            z.backward((direction * scale).reshape(z.shape).to(z.dtype))
            return losses, w
        w = self.weighting.weights(losses.detach(), gram.numpy())
        _combine(self.params, [g[1:] for g in per_task], w)
        z.backward(sum(float(w[i]) * g[0] for i, g in enumerate(per_task)).to(z.dtype))
        return losses, w

    def _params_step(self, x, y) -> tuple[torch.Tensor, torch.Tensor]:
        losses = self._forward(self.model, x, y)
        # fp16: gradients of the scaled losses; the weighting sees them unscaled
        per_task = [torch.autograd.grad(self.amp.scaled(loss), self.params, allow_unused=True,
                                        retain_graph=i < len(losses) - 1)
                    for i, loss in enumerate(losses)]
        w, self.conflict = weighted_gradients(self.weighting, losses.detach(), per_task,
                                              self.params, self.shared_mask,
                                              scale=self.amp.factor)
        return losses, w


def weighted_gradients(weighting: Weighting, losses: torch.Tensor, per_task: Sequence[Grads],
                       params: Sequence[nn.Parameter], shared_mask: Sequence[bool], *,
                       scale: float = 1.0) -> tuple[torch.Tensor, dict[str, float] | None]:
    """Set every parameter's `.grad` from per-task gradients under a weighting.

    For a training step that computes the per-task gradients itself (a search's supernet step,
    which may then drop some modules' gradients before the update). Works with any weighting
    whose `requires` is not "representation": the Gram matrix of the shared parts gives the
    weights; each parameter gets Σ_t w_t g_t, except that `aggregates` methods (GradDrop,
    DB-MTL) give the shared parameters their own direction.

    Args:
        weighting: a bound weighting.
        losses: the T task losses (detached).
        per_task: per task, one gradient (or None: not reached) per parameter of `params`.
        params: the parameters, in the order of the gradients.
        shared_mask: which of `params` two or more tasks share.
        scale: the gradients are those of the losses times `scale` (a grad scaler's): the
            weighting sees them divided by it, the parameters get them as they are.

    Returns:
        The T weights and the gradient-conflict statistics of the shared parts.

    Example:
        >>> from mtlspec.train.weighting import make_weighting
        >>> weighting = make_weighting("uniform")
        >>> weighting.bind(["a", "b"])
        >>> p = nn.Parameter(torch.ones(2))
        >>> losses = torch.stack([p.sum(), (2 * p).sum()])
        >>> grads = [torch.autograd.grad(loss, [p], retain_graph=True) for loss in losses]
        >>> w, conflict = weighted_gradients(weighting, losses.detach(), grads, [p], [True])
        >>> p.grad
        tensor([1.5000, 1.5000])
        >>> round(conflict["cos_min"], 6)
        1.0
    """
    flat = torch.stack([
        torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                   for p, g, shared in zip(params, gs, shared_mask, strict=True) if shared])
        for gs in per_task])
    if scale != 1.0:
        flat = flat / scale
    gram = gram_matrix(flat)
    conflict = cosine_stats(gram)
    if weighting.aggregates:
        w, direction = weighting.aggregate(losses, flat)
        _combine(params, per_task, w, skip=shared_mask)
        _scatter([p for p, s in zip(params, shared_mask, strict=True) if s], direction * scale)
        return w, conflict
    w = weighting.weights(losses, gram.numpy())
    _combine(params, per_task, w)
    return w, conflict


def _combine(params: Sequence[nn.Parameter], per_task: Sequence[Grads], w: torch.Tensor,
             skip: Sequence[bool] | None = None) -> None:
    """Set each parameter's gradient to Σ_t w_t g_t (tasks whose loss does not reach it skip;
    a parameter no task reaches keeps no gradient, as after a plain backward). Parameters
    flagged in `skip` are left alone."""
    weights = [float(v) for v in w]
    for j, p in enumerate(params):
        if skip is not None and skip[j]:
            continue
        total = None
        for wt, grads in zip(weights, per_task, strict=True):
            if grads[j] is not None:
                total = wt * grads[j] if total is None else total + wt * grads[j]
        if total is not None:
            p.grad = total if p.grad is None else p.grad + total


def _scatter(params: Sequence[nn.Parameter], direction: torch.Tensor) -> None:
    """Give the shared parameters the slices of one flat direction as their gradients."""
    start = 0
    for p in params:
        part = direction[start:start + p.numel()].reshape(p.shape).to(p.dtype)
        p.grad = part if p.grad is None else p.grad + part
        start += p.numel()
