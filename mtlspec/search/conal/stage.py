"""CoNAL search: first-order bi-level training of the supernet with conflict noticing.

Each step: (1) α takes one Adam step on a validation batch (first order: the current weights
are treated as constants); (2) the weights take one Adam step on a training batch, where the
all-shared modules are updated by Eq. (5) of the paper: per-task gradients are computed on each
all-shared module p; if any pair of tasks has a negative cosine at some module p' ≤ p, module p
gets no update. Masked modules get `grad = None`, not zeros, so Adam's momentum and weight decay
do not move them either ("nothing is updated there"). `conflict_noticing=False` ablates it.

Choices the paper leaves open (documented here and in the README):
- Search loss: the plain sum of task losses (uniform weights), on both levels; with
  `weighting` (CoNAL paper, Table 7: CoNAL + MGDA, PCGrad, ...) the weight step combines the
  per-task gradients with that method (`mtlspec.train.step.weighted_gradients`, on the
  parameters two or more tasks reach) before conflict noticing drops the frozen modules'.
- Optimisers: Adam for weights (lr 1e-3) and for α (lr 3e-3, betas (0.5, 0.999), weight decay
  1e-3, DARTS-style); α starts at zero (uniform over branch points).
- `warmup_epochs` (default 0): epochs that train only the weights, α frozen.
- Every block copy starts from the same initial weights (the base backbone's).
- Ties in argmax α go to the deeper branch point (more sharing, cheaper model).
- A pair with a zero gradient (cosine undefined) counts as not conflicting.
- BatchNorm runs in training mode on both levels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch

from mtlspec.search.conal.checkpoint import Checkpoint
from mtlspec.search.conal.supernet import ConalSupernet
from mtlspec.train.search_weighting import search_weighting
from mtlspec.train.step import weighted_gradients

Progress = Callable[[str, int, int], None]  # (stage label, steps done, steps in the stage)


@dataclass(frozen=True)
class SearchConfig:
    """Hyper-parameters of a search (for CoNAL-Pro, `epochs` is per stage)."""

    epochs: int = 10
    batch_size: int = 64
    weight_lr: float = 1e-3
    arch_lr: float = 3e-3
    arch_weight_decay: float = 1e-3
    warmup_epochs: int = 0
    conflict_noticing: bool = True
    seed: int = 0
    steps_per_epoch: int | None = None  # cap (tests, quick looks); None: one pass over train
    # a loss weighting for the weight step (`mtlspec.train.weighting`); None: the plain sum
    weighting: str | None = None
    weighting_options: tuple[tuple[str, str], ...] = ()


def make_search_weighting(config: SearchConfig, tasks: Sequence[str]):
    """The configured weighting bound to `tasks` (None: the plain sum of the losses).

    Raises:
        MtlspecError: an unknown method or option, or a representation method (rep_grad).
    """
    return search_weighting(config.weighting, dict(config.weighting_options), tasks=tasks,
                            seed=config.seed, lr=config.weight_lr, where="CoNAL")


@dataclass
class ConflictStats:
    """Per all-shared module, over the weight steps of a stage."""

    steps: int = 0
    conflicted: list[int] = field(default_factory=list)  # steps with a negative pair there
    frozen: list[int] = field(default_factory=list)  # steps the module was not updated
    negative: list[int] = field(default_factory=list)  # negative-cosine task pairs
    pairs: list[int] = field(default_factory=list)  # task pairs seen

    def ratio(self) -> list[float]:
        """Share of task pairs with a negative cosine, per module (the seed's Table 1)."""
        return [n / p if p else 0.0 for n, p in zip(self.negative, self.pairs, strict=True)]


@dataclass
class StageResult:
    """One supernet trained: its units' choices, α weights, conflicts and losses."""

    label: str
    choices: dict[str, int]
    weights: dict[str, list[float]]
    candidates: dict[str, list[int]]
    stats: ConflictStats
    history: list[dict[str, float]]
    steps: int


def conflict_mask(grads: Sequence[Sequence[torch.Tensor]]) -> tuple[list[bool], list[int],
                                                                    list[int]]:
    """Eq. (5): which all-shared modules may be updated, from per-task gradients.

    Args:
        grads: grads[p][t] = task t's gradient on module p, flattened (modules in order).

    Returns:
        (update, negative, pairs): update[p] is False from the first module with a task pair
        of negative cosine on; negative[p] / pairs[p] count such pairs at module p.

    Example:
        >>> g = [[torch.tensor([1., 0]), torch.tensor([1., 1])],
        ...      [torch.tensor([1., 0]), torch.tensor([-1., 0])],
        ...      [torch.tensor([1., 0]), torch.tensor([1., 0])]]
        >>> conflict_mask(g)[0]
        [True, False, False]
    """
    update, negative, pairs = [], [], []
    blocked = False
    for per_task in grads:
        vectors = torch.stack([g.double() for g in per_task])
        gram = vectors @ vectors.T  # cos < 0 ⇔ dot < 0 when both norms are positive
        t = len(per_task)
        upper = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        n = int(((gram < 0) & upper).sum())
        negative.append(n)
        pairs.append(t * (t - 1) // 2)
        blocked = blocked or n > 0
        update.append(not blocked)
    return update, negative, pairs


def _batch(dataset, indices: torch.Tensor, device: torch.device | None = None):
    if hasattr(dataset, "batch"):
        x, y = dataset.batch(indices)
    else:
        from torch.utils.data import default_collate

        x, y = default_collate([dataset[int(i)] for i in indices])
    if device is None:
        return x, y
    return x.to(device), {t: v.to(device) for t, v in y.items()}


def _losses(net: ConalSupernet, data) -> dict[str, Callable]:
    from mtlspec.train.losses import loss_for

    return {t: loss_for(data.tasks[t]) for t in net.task_names}


def _arch_step(net, opt, batch, losses) -> float:
    x, y = batch
    out = net(x)
    loss = sum(losses[t](out[t], y[t]) for t in net.task_names)
    grads = torch.autograd.grad(loss, net.arch_parameters())
    for p, g in zip(net.arch_parameters(), grads, strict=True):
        p.grad = g
    opt.step()
    return float(loss.detach())


def _weight_step(net, opt, batch, losses, stats: ConflictStats, noticing: bool,
                 weighting=None) -> float:
    x, y = batch
    out = net(x)
    task_losses = [losses[t](out[t], y[t]) for t in net.task_names]
    params = net.weight_parameters()
    per_task = [torch.autograd.grad(loss, params, retain_graph=i < len(task_losses) - 1,
                                    allow_unused=True) for i, loss in enumerate(task_losses)]
    position = {id(p): k for k, p in enumerate(params)}
    module_grads = []
    for module in net.shared:
        keys = [position[id(p)] for p in module.parameters()]
        module_grads.append([
            torch.cat([(g[k] if g[k] is not None else torch.zeros_like(params[k])).flatten()
                       for k in keys]) for g in per_task])
    update, negative, pairs = conflict_mask(module_grads) if module_grads else ([], [], [])
    stats.steps += 1
    for p, (ok, n, m) in enumerate(zip(update, negative, pairs, strict=True)):
        stats.conflicted[p] += n > 0
        stats.negative[p] += n
        stats.pairs[p] += m
        stats.frozen[p] += noticing and not ok
    frozen = {id(q) for p, ok in enumerate(update) if noticing and not ok
              for q in net.shared[p].parameters()}
    if weighting is not None:
        for param in params:
            param.grad = None
        reached = [sum(g[k] is not None for g in per_task) >= 2 for k in range(len(params))]
        weighted_gradients(weighting, torch.stack(task_losses).detach(), per_task, params,
                           reached)
        for param in params:
            if id(param) in frozen:
                param.grad = None
    else:
        for k, param in enumerate(params):
            parts = [g[k] for g in per_task if g[k] is not None]
            param.grad = None if id(param) in frozen or not parts else torch.stack(parts).sum(0)
    opt.step()
    if weighting is not None and weighting.observes:
        with torch.no_grad():  # FAMO: the same batch's losses after the update
            after = net(x)
            weighting.observe(torch.stack([losses[t](after[t], y[t]) for t in net.task_names]))
    return float(sum(task_losses).detach())


def _epoch_order(size: int, seed: int, stage: int, epoch: int, salt: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(((seed * 1_000_003 + stage) * 10_007 + epoch) * 7 + salt)
    return torch.randperm(size, generator=gen)


def _restore(state: dict | None, net, opt_w, opt_a, weighting=None
             ) -> tuple[ConflictStats, list[dict], int]:
    """Load a saved stage state (or start fresh): stats, history, first epoch to run."""
    if state is None:
        depth = len(net.shared)
        return ConflictStats(0, [0] * depth, [0] * depth, [0] * depth, [0] * depth), [], 0
    net.load_state_dict(state["net"])
    opt_w.load_state_dict(state["opt_w"])
    opt_a.load_state_dict(state["opt_a"])
    if weighting is not None:
        weighting.load_state_dict(state["weighting"])
    torch.set_rng_state(state["rng"])
    return ConflictStats(**state["stats"]), list(state["history"]), state["epoch"]


def run_stage(net: ConalSupernet, data, config: SearchConfig, *, label: str = "conal",
              stage: int = 0, state: dict | None = None,
              on_epoch: Callable[[dict], None] | None = None,
              progress: Progress | None = None,
              losses: dict[str, Callable] | None = None,
              device: torch.device | str | None = None) -> StageResult:
    """Train one supernet bi-level for `config.epochs` epochs; return its choices.

    Args:
        net: the supernet.
        data: a `DataSplits` (train and val used).
        config: the search's hyper-parameters.
        label, stage: shown in progress; `stage` also seeds the batch order.
        state: a saved stage state (from `on_epoch`) to resume from.
        on_epoch: called after every epoch with the stage's state (for checkpoints).
        progress: called after every step.
        losses: task → loss function (default: each task's registered loss, `loss_for`).
        device: where the supernet trains (None: where it is; checked by the caller).

    Returns:
        The `StageResult`.

    Example:
        >>> from mtlspec.search.conal.supernet import build_supernet
        >>> from mtlspec.spec import load
        >>> from mtlspec.train.data import load_data
        >>> data = load_data("multidigits", tasks=["left", "right", "parity"], train_size=64,
        ...                  val_size=32, test_size=32)
        >>> net = build_supernet(load("specs/conal_multidigits.mtl").spec)
        >>> result = run_stage(net, data, SearchConfig(epochs=1, batch_size=32))
        >>> result.steps, sorted(result.choices), len(result.history)
        (2, ['left', 'parity', 'right'], 1)
    """
    losses = losses if losses is not None else _losses(net, data)
    device = torch.device(device) if device is not None else None
    if device is not None:
        net.to(device)
    weighting = make_search_weighting(config, net.task_names)
    opt_w = torch.optim.Adam(net.weight_parameters(), lr=config.weight_lr)
    opt_a = torch.optim.Adam(net.arch_parameters(), lr=config.arch_lr, betas=(0.5, 0.999),
                             weight_decay=config.arch_weight_decay)
    stats, history, start = _restore(state, net, opt_w, opt_a, weighting)
    n_train, bs = len(data.train), config.batch_size
    steps = math.ceil(n_train / bs)
    if config.steps_per_epoch is not None:
        steps = min(steps, config.steps_per_epoch)
    for epoch in range(start, config.epochs):
        order = _epoch_order(n_train, config.seed, stage, epoch, 0)
        val_order = _epoch_order(len(data.val), config.seed, stage, epoch, 1)
        net.train()
        train_sum = val_sum = 0.0
        for k in range(steps):
            if epoch >= config.warmup_epochs:
                v = val_order[(torch.arange(bs) + k * bs) % len(val_order)]
                val_sum += _arch_step(net, opt_a, _batch(data.val, v, device), losses)
            batch = _batch(data.train, order[k * bs:(k + 1) * bs], device)
            train_sum += _weight_step(net, opt_w, batch, losses, stats, config.conflict_noticing,
                                      weighting)
            if progress is not None:
                progress(label, (epoch - start) * steps + k + 1, (config.epochs - start) * steps)
        history.append({"epoch": epoch + 1, "train_loss": train_sum / steps,
                        "val_loss": val_sum / steps if epoch >= config.warmup_epochs else None})
        if weighting is not None:
            weighting.end_epoch()
            history[-1]["weights"] = [float(w) for w in weighting.last] \
                if weighting.last is not None else None
        if on_epoch is not None:
            on_epoch({"epoch": epoch + 1, "net": net.state_dict(), "opt_w": opt_w.state_dict(),
                      "opt_a": opt_a.state_dict(), "stats": asdict(stats), "history": history,
                      "rng": torch.get_rng_state(),
                      "weighting": weighting.state_dict() if weighting is not None else {}})
    return StageResult(label, net.choices(),
                       {k: [float(v) for v in w] for k, w in net.branch_weights().items()},
                       {u.key: list(u.candidates) for u in net.units}, stats, history,
                       stats.steps)


def run_checkpointed(ckpt: Checkpoint, stage: int, net: ConalSupernet, data,
                     config: SearchConfig, label: str, progress: Progress | None,
                     device: torch.device | str | None = None) -> StageResult:
    """Run one stage (or return it, when the checkpoint holds it finished), saving every epoch."""
    done = ckpt.finished(stage)
    if done is not None:
        done = dict(done)
        done["stats"] = ConflictStats(**done["stats"])
        return StageResult(**done)
    result = run_stage(net, data, config, label=label, stage=stage,
                       state=ckpt.stage_state(stage), on_epoch=ckpt.on_epoch(stage),
                       progress=progress, device=device)
    ckpt.finish(stage, asdict(result))
    return result
