"""Gradient-conflict diagnostics: how often task gradients point against each other.

For every module shared by two or more tasks, over a few batches: the share of task pairs whose
gradients on that module have a negative cosine (the CoNAL paper's Table 1, there for an
all-shared network; here for any compiled tree model or CoNAL supernet, so an all-shared model
and a searched one can be compared). The model runs in eval mode (BatchNorm statistics are
neither used from the batch nor updated) and its parameters and `.grad` are left untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from mtlspec.errors import MtlspecError


@dataclass(frozen=True)
class ModuleConflict:
    """One shared module: `negative` of `pairs` task-gradient pairs had a negative cosine."""

    name: str
    tasks: tuple[str, ...]
    negative: int
    pairs: int

    @property
    def ratio(self) -> float:
        return self.negative / self.pairs if self.pairs else 0.0


def shared_modules(model: nn.Module) -> list[tuple[str, nn.Module, tuple[str, ...]]]:
    """(name, module, tasks) of every module that two or more tasks share.

    Tree models: each block copy serving ≥ 2 tasks ("block 2 {a, b}"). CoNAL supernets: the
    all-shared blocks ("shared block 1"), which every task reaches.

    Raises:
        MtlspecError: the model is neither a tree model nor a CoNAL supernet.
    """
    from mtlspec.compile.tree import TreeModel
    from mtlspec.search.conal.supernet import ConalSupernet

    if isinstance(model, TreeModel):
        return [(f"block {n.block + 1} {{{', '.join(n.tasks)}}}",
                 model.nodes[f"b{n.block + 1}"][n.key], n.tasks)
                for n in model.plan if len(n.tasks) > 1]
    if isinstance(model, ConalSupernet):
        tasks = tuple(model.task_names)
        return [(f"shared block {i + 1}", m, tasks) for i, m in enumerate(model.shared)]
    raise MtlspecError(f"cannot find shared modules in a {type(model).__name__}: use a "
                       "compiled tree spec or a CoNAL supernet")


def gradient_conflicts(model: nn.Module, batches, losses: dict[str, Callable]
                       ) -> list[ModuleConflict]:
    """Negative-cosine ratios per shared module over the given batches.

    Args:
        model: a compiled tree model or CoNAL supernet.
        batches: an iterable of (x, {task: target}).
        losses: task → loss function (`mtlspec.train.losses.loss_for`).

    Returns:
        One `ModuleConflict` per shared module, in model order (empty: nothing is shared).

    Raises:
        MtlspecError: see `shared_modules`.

    Example:
        >>> from mtlspec import load_model
        >>> from mtlspec.train.losses import loss_for
        >>> from mtlspec.train.data import load_data
        >>> data = load_data("multidigits", tasks=["left", "right", "parity"], train_size=64,
        ...                  val_size=32, test_size=32)
        >>> losses = {task: loss_for(info) for task, info in data.tasks.items()}
        >>> model = load_model("specs/conal_multidigits.mtl", seed=0)
        >>> rows = gradient_conflicts(model, dataset_batches(data.val, batches=2, batch_size=16),
        ...                           losses)
        >>> [(row.name, row.pairs) for row in rows][:2]
        [('block 1 {left, right, parity}', 6), ('block 2 {left, right}', 2)]
    """
    modules = shared_modules(model)
    counts = [[0, 0] for _ in modules]
    was_training = model.training
    model.eval()
    try:
        for x, y in batches:
            out = model(x)
            task_losses = {t: losses[t](out[t], y[t]) for t in out}
            for k, (_, module, tasks) in enumerate(modules):
                params = [p for p in module.parameters() if p.requires_grad]
                vectors = []
                for task in tasks:
                    grads = torch.autograd.grad(task_losses[task], params, retain_graph=True,
                                                allow_unused=True)
                    vectors.append(torch.cat([
                        (g if g is not None else torch.zeros_like(p)).flatten().double()
                        for g, p in zip(grads, params, strict=True)]))
                gram = torch.stack(vectors) @ torch.stack(vectors).T
                upper = torch.triu(torch.ones_like(gram, dtype=torch.bool), diagonal=1)
                counts[k][0] += int(((gram < 0) & upper).sum())
                counts[k][1] += int(upper.sum())
    finally:
        model.train(was_training)
    return [ModuleConflict(name, tasks, neg, pairs)
            for (name, _, tasks), (neg, pairs) in zip(modules, counts, strict=True)]


def dataset_batches(dataset, *, batches: int = 4, batch_size: int = 64, seed: int = 0):
    """`batches` seeded random batches of a data set (for `gradient_conflicts`)."""
    from mtlspec.search.conal.stage import _batch

    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(dataset), generator=gen)
    for k in range(batches):
        idx = order[k * batch_size:(k + 1) * batch_size]
        if len(idx) == 0:
            return
        yield _batch(dataset, idx)
