"""A loss weighting inside a search's own training step (CoNAL, DAG search).

A search trains a supernet with its own step (bi-level, conflict noticing, a squeeze loss), not
with `mtlspec.train.step.Stepper`; these two helpers let it use any weighting of the registry
on the parameters (the CoNAL paper's Table 7: CoNAL + MGDA, PCGrad, CAGrad, ...). Methods on
the gradient of one shared representation (rep_grad, MGDA-UB) need a single trunk output, which
a supernet does not have: they are refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mtlspec.errors import MtlspecError
from mtlspec.train.step import weighted_gradients
from mtlspec.train.weighting import Weighting, make_weighting


def search_weighting(name: str | None, options: Mapping[str, str], *, tasks: Sequence[str],
                     seed: int, lr: float, where: str) -> Weighting | None:
    """The weighting `name` with `options`, bound to `tasks` (None: no weighting).

    Raises:
        MtlspecError: an unknown method or option, or a representation method.

    Example:
        >>> search_weighting("pcgrad", {}, tasks=["a", "b"], seed=0, lr=1e-3, where="CoNAL")
        PCGrad(pcgrad)
    """
    if name is None:
        return None
    weighting = make_weighting(name, seed=seed, **dict(options))
    if weighting.requires == "representation":
        raise MtlspecError(f"weighting {name} works on the gradients of one shared "
                           f"representation, which the {where} supernet does not have; use a "
                           "method on the parameters (e.g. mgda, pcgrad, without rep_grad)")
    weighting.bind(tasks)
    weighting.default_lr(lr)
    return weighting


def weighted_grads(weighting: Weighting, losses: Sequence[torch.Tensor],
                   params: Sequence[nn.Parameter]) -> None:
    """Set `params`' gradients to the task gradients combined by `weighting` (the Gram matrix
    over the parameters two or more tasks reach); the graph is kept for later passes."""
    per_task = [torch.autograd.grad(loss, list(params), allow_unused=True, retain_graph=True)
                for loss in losses]
    reached = [sum(g[k] is not None for g in per_task) >= 2 for k in range(len(params))]
    for p in params:
        p.grad = None
    weighted_gradients(weighting, torch.stack(list(losses)).detach(), per_task, params, reached)
