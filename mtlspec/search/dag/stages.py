"""The three stages of DAG topology search: warm-up, search, then reduction and fine-tuning.

- Warm-up: α, β, Γ stay at 0 (0.5 after the sigmoid); θ (stem, edges, heads) trains on the
  sum of the task losses.
- Search: α, β, Γ and θ train together on L = Σ_k L_k + λ_sq · L_sq,
  L_sq = Σ_k max(Σ_ij σ(γ_ij^k) − κ, 0).
- Reduction (`mtlspec.search.dag.flow`) → a DAG spec → the discrete network, compiled by
  `mtlspec.compile`, initialised from the searched θ and fine-tuned by `mtlspec.train.loop`.

Choices the paper's text leaves open:

- Single-level optimisation: θ and the upper-level parameters step together on the training
  split (Adam each; `arch_lr` for α, β, Γ), no alternating bi-level steps on a validation split.
- Default κ = N − 1 (the edge count of one chain through every state); default λ_sq = 0.05.
  With Γ at 0.5 the squeeze loss is already active when the central network has more than
  2(N − 1) edges.
- Checkpoints (`checkpoint/search.pt`, one per finished epoch, written atomically) hold θ,
  α, β, Γ, both optimisers, the RNG state and the history; each epoch's batch order comes from
  a generator seeded by (seed, stage, epoch), so a resumed run draws the same batches. The
  fine-tuning checkpoint is the training loop's own (`checkpoint/finetune.pt`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from mtlspec.compile.heads import set_output_size
from mtlspec.errors import MtlspecError
from mtlspec.search.dag.supernet import DagSupernet
from mtlspec.spec import ir, validate
from mtlspec.train.checkpoint_file import load_checkpoint_file, save_checkpoint_file
from mtlspec.train.device import check_device
from mtlspec.train.search_weighting import search_weighting, weighted_grads

STAGES = ("warmup", "search")


@dataclass(frozen=True)
class SearchConfig:
    """Settings of one DAG search run (None: take the base spec's value or the default)."""

    states: int | None = None
    flow: int | None = None
    kappa: float | None = None
    lambda_sq: float = 0.05
    epochs_warmup: int = 5
    epochs_search: int = 4
    epochs_finetune: int = 6
    batch_size: int = 64
    lr: float = 1e-3
    arch_lr: float = 0.05
    reduction: str = "flow"
    seed: int = 0
    max_steps: int | None = None  # per stage and epoch; caps tiny test runs
    # a loss weighting for θ's update (search and fine-tuning); None: the plain sum of losses
    weighting: str | None = None
    weighting_options: tuple[tuple[str, str], ...] = ()



@dataclass
class SearchState:
    """A (possibly finished) search: the supernet, where it stands and what it logged."""

    supernet: DagSupernet
    stage: str = "warmup"
    epoch: int = 0  # finished epochs of `stage`
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def _weighting(config: SearchConfig, tasks: list[str]):
    return search_weighting(config.weighting, dict(config.weighting_options), tasks=tasks,
                            seed=config.seed, lr=config.lr, where="DAG")


def central_spec(base: ir.DagSpec, config: SearchConfig) -> ir.DagSpec:
    """The base spec with the run's central network (states and flow overridden), validated.

    Raises:
        MtlspecError / SpecError: a state or flow count the spec language rejects.
    """
    update = {k: v for k, v in (("states", config.states), ("flow", config.flow)) if v is not None}
    if "states" in update and "flow" not in update:
        update["flow"] = min(base.central.flow, max(update["states"] - 1, 1))
    central = base.central.model_copy(update=update)
    whole = [ir.Topology(task=t.name, read_in=frozenset({1}), read_out=frozenset({1}))
             for t in base.tasks]
    spec = base.model_copy(update={"central": central, "topologies": tuple(whole)})
    return validate(spec)


def kappa_for(config: SearchConfig, states: int) -> float:
    """κ of the squeeze loss: the configured value, else N − 1."""
    return float(states - 1) if config.kappa is None else float(config.kappa)


def _fingerprint(spec: ir.DagSpec, config: SearchConfig) -> dict[str, Any]:
    """What must match for a checkpoint to be resumed (epoch counts may grow)."""
    keep = asdict(config)
    for key in ("epochs_warmup", "epochs_search", "epochs_finetune", "reduction", "max_steps"):
        keep.pop(key)
    return {"spec": ir.to_json(spec, indent=None), **keep}


def _batches(dataset, batch_size: int, generator: torch.Generator, device: torch.device):
    order = torch.randperm(len(dataset), generator=generator)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        if hasattr(dataset, "batch"):
            x, y = dataset.batch(idx)
        else:
            xs, ys = zip(*(dataset[int(i)] for i in idx), strict=True)
            x, y = torch.stack(xs), {t: torch.stack([v[t] for v in ys]) for t in ys[0]}
        yield x.to(device), {t: v.to(device) for t, v in y.items()}


def _optimizers(net: DagSupernet, config: SearchConfig):
    weights = torch.optim.Adam(net.weight_parameters(), lr=config.lr)
    arch = torch.optim.Adam(net.arch_parameters(), lr=config.arch_lr)
    return weights, arch


def _save(path: Path, state: SearchState, opts, fingerprint: dict[str, Any],
          weighting=None) -> None:
    save_checkpoint_file(path, "dag", fingerprint, {
        "weighting": weighting.state_dict() if weighting is not None else {},
        "stage": state.stage, "epoch": state.epoch, "history": state.history,
        "seconds": state.seconds, "model": state.supernet.state_dict(),
        "opt_weights": opts[0].state_dict(), "opt_arch": opts[1].state_dict(),
        "rng": torch.get_rng_state()})


def _load(path: Path, state: SearchState, opts, fingerprint: dict[str, Any],
          weighting=None) -> None:
    saved = load_checkpoint_file(path, "dag", fingerprint)
    if weighting is not None:
        weighting.load_state_dict(saved["weighting"])
    state.supernet.load_state_dict(saved["model"])
    opts[0].load_state_dict(saved["opt_weights"])
    opts[1].load_state_dict(saved["opt_arch"])
    torch.set_rng_state(saved["rng"])
    state.stage, state.epoch = saved["stage"], saved["epoch"]
    state.history, state.seconds = list(saved["history"]), float(saved["seconds"])


def _epoch(state: SearchState, data, opts, config: SearchConfig, kappa: float,
           bar, device: torch.device, weighting=None) -> dict[str, Any]:
    from mtlspec.train.losses import loss_for

    net, searching = state.supernet, state.stage == "search"
    losses = {t: loss_for(info) for t, info in data.tasks.items() if t in net.task_names}
    gen = torch.Generator().manual_seed(
        config.seed * 1_000_003 + STAGES.index(state.stage) * 1009 + state.epoch)
    net.train()
    for p in net.arch_parameters():  # the warm-up holds α, β, Γ at 0
        p.requires_grad_(searching)
    total, squeeze, steps = 0.0, 0.0, 0
    for x, y in _batches(data.train, config.batch_size, gen, device):
        out = net(x)
        task_losses = [fn(out[t], y[t]) for t, fn in losses.items()]
        loss = sum(task_losses)
        sq = net.squeeze_loss(kappa)
        if searching:
            loss = loss + config.lambda_sq * sq
        for opt in opts[:2 if searching else 1]:
            opt.zero_grad(set_to_none=True)
        if weighting is None:
            loss.backward()
        else:  # θ: the weighted task gradients; α, β, Γ: the plain (squeezed) loss
            weighted_grads(weighting, task_losses, net.weight_parameters())
            if searching:
                grads = torch.autograd.grad(loss, net.arch_parameters(), allow_unused=True)
                for p, g in zip(net.arch_parameters(), grads, strict=True):
                    p.grad = g
        for opt in opts[:2 if searching else 1]:
            opt.step()
        if weighting is not None and weighting.observes:
            with torch.no_grad():  # FAMO: the same batch's losses after the update
                after = net(x)
                weighting.observe(torch.stack([fn(after[t], y[t])
                                               for t, fn in losses.items()]))
        total, squeeze, steps = total + loss.item(), squeeze + sq.item(), steps + 1
        bar.advance(1, f"{state.stage} {state.epoch + 1}: loss {total / steps:.3f}")
        if config.max_steps is not None and steps >= config.max_steps:
            break
    return {"stage": state.stage, "epoch": state.epoch + 1, "loss": total / max(steps, 1),
            "squeeze": squeeze / max(steps, 1), "steps": steps}


def search(base: ir.DagSpec, data, config: SearchConfig, *, checkpoint: Path | None = None,
           resume: bool = False, progress: bool = False,
           device: str | None = None) -> SearchState:
    """Run the warm-up and search stages; return the trained supernet.

    Args:
        base: the base DAG spec (central network, input, tasks and heads).
        data: `mtlspec.train.data.DataSplits` holding every task of the spec.
        config: the run's settings.
        checkpoint: a folder for `search.pt` (written after every epoch).
        resume: continue from `checkpoint/search.pt` if it exists.
        progress: show a progress bar on stderr.
        device: where the supernet trains (None: the CPU); not part of what a resume matches.

    Returns:
        The finished `SearchState`.

    Raises:
        MtlspecError: a task missing from the data, or a checkpoint of another search.

    Example:
        >>> from mtlspec.spec import load
        >>> from mtlspec.train.data import load_data
        >>> base = load("specs/multidigits_dag.mtl").spec
        >>> data = load_data("multidigits", tasks=["left", "right", "parity"], train_size=64,
        ...                  val_size=32, test_size=32)
        >>> config = SearchConfig(epochs_warmup=1, epochs_search=1, epochs_finetune=1,
        ...                       batch_size=32, max_steps=1)
        >>> state = search(base, data, config)
        >>> state.stage, state.epoch, len(state.history)
        ('search', 1, 2)
    """
    spec = central_spec(base, config)
    missing = [t.name for t in spec.tasks if t.name not in data.tasks]
    if missing:
        raise MtlspecError(f"the data has no task {', '.join(missing)}; it has "
                           f"{', '.join(data.tasks)}")
    device = check_device(device)
    weighting = _weighting(config, [t.name for t in spec.tasks])
    torch.manual_seed(config.seed)
    state = SearchState(DagSupernet(spec))
    set_output_size(state.supernet, tuple(data.input_shape[-2:]))  # dense heads: data's size
    state.supernet.to(device)
    opts = _optimizers(state.supernet, config)
    fingerprint = _fingerprint(spec, config)
    path = None if checkpoint is None else Path(checkpoint) / "search.pt"
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume and path.exists():
            _load(path, state, opts, fingerprint, weighting)
    kappa = kappa_for(config, spec.central.states)
    epochs = {"warmup": config.epochs_warmup, "search": config.epochs_search}
    steps = -(-len(data.train) // config.batch_size)
    if config.max_steps is not None:
        steps = min(steps, config.max_steps)
    remaining = sum(epochs[s] for s in STAGES[STAGES.index(state.stage):]) - state.epoch
    from mtlspec.train.progress import progress_bar

    with progress_bar(progress, total=max(remaining, 0) * steps) as bar:
        for stage in STAGES[STAGES.index(state.stage):]:
            if stage != state.stage:
                state.stage, state.epoch = stage, 0
            while state.epoch < epochs[stage]:
                start = time.perf_counter()
                state.history.append(_epoch(state, data, opts, config, kappa, bar, device,
                                            weighting))
                if weighting is not None:
                    weighting.end_epoch()
                state.epoch += 1
                state.seconds += time.perf_counter() - start
                if path is not None:
                    _save(path, state, opts, fingerprint, weighting)
    return state


@dataclass
class DagSearchResult:
    """Everything a DAG search run produced.

    Attributes:
        spec: the output DAG spec (discrete per-task topologies).
        reductions: task → its discrete topology (`mtlspec.search.dag.flow.Reduction`).
        state: the finished search (supernet, history, seconds).
        model: the fine-tuned compiled network (None when fine-tuning was skipped).
        finetune: the fine-tuning `TrainResult` (None when skipped).
        transferred: state-dict keys initialised from the searched θ.
        params_full: parameters of the full central network with heads.
        params_reduced: parameters of the compiled output network.
    """

    spec: ir.DagSpec
    reductions: dict
    state: SearchState
    model: Any = None
    finetune: Any = None
    transferred: list[str] = field(default_factory=list)
    params_full: int = 0
    params_reduced: int = 0


def finetune(spec: ir.DagSpec, supernet: DagSupernet | None, data, config: SearchConfig, *,
             checkpoint: Path | None = None, resume: bool = False, progress: bool = False,
             device: str | None = None):
    """Compile `spec`, copy the searched θ into it where edges survive, train it.

    Returns:
        (model, TrainResult, transferred keys).

    Example:
        >>> from mtlspec.spec import load
        >>> from mtlspec.train.data import load_data
        >>> base = load("specs/multidigits_dag.mtl").spec
        >>> data = load_data("multidigits", tasks=["left", "right", "parity"], train_size=64,
        ...                  val_size=32, test_size=32)
        >>> config = SearchConfig(epochs_warmup=1, epochs_search=1, epochs_finetune=1,
        ...                       batch_size=32, max_steps=1)
        >>> model, result, keys = finetune(base, None, data, config)
        >>> result.steps, keys
        (1, [])
    """
    from mtlspec.compile.load import load_model
    from mtlspec.search.dag.supernet import transfer_weights
    from mtlspec.train.settings import RunSettings, fit

    settings = RunSettings(epochs=config.epochs_finetune, batch_size=config.batch_size,
                           lr=config.lr, seed=config.seed)
    model = load_model(spec, seed=config.seed, dtype=torch.float32)
    set_output_size(model, tuple(data.input_shape[-2:]))
    keys = transfer_weights(supernet, model) if supernet is not None else []
    result = fit(model, data, settings, checkpoint=checkpoint, resume=resume,
                 progress=progress, max_steps=_total_steps(data, config), device=device,
                 weighting=_weighting(config, list(model.task_names)))
    return model, result, keys


def _total_steps(data, config: SearchConfig) -> int | None:
    if config.max_steps is None:
        return None
    return config.max_steps * config.epochs_finetune


def run_dag_search(base: ir.DagSpec, data, config: SearchConfig, *,
                   checkpoint: Path | None = None, resume: bool = False,
                   progress: bool = False, name: str | None = None,
                   device: str | None = None) -> DagSearchResult:
    """Warm-up, search, reduction (`config.reduction`), spec, fine-tuning.

    Args:
        base: the base DAG spec; data: splits with its tasks; config: the settings.
        checkpoint: folder for `search.pt` and the fine-tuning's `finetune/last.pt`.
        resume: continue from the checkpoints there.
        progress: progress bars on stderr.
        name: the output spec's name.
        device: where the search and fine-tuning train (None: the CPU).

    Returns:
        The `DagSearchResult`; with `epochs_finetune=0` the network is compiled and
        initialised but not trained.

    Raises:
        MtlspecError: see `search`; an unknown reduction method.

    Example:
        >>> from mtlspec.spec import load
        >>> from mtlspec.train.data import load_data
        >>> base = load("specs/multidigits_dag.mtl").spec
        >>> data = load_data("multidigits", tasks=["left", "right", "parity"], train_size=64,
        ...                  val_size=32, test_size=32)
        >>> config = SearchConfig(epochs_warmup=1, epochs_search=1, epochs_finetune=1,
        ...                       batch_size=32, max_steps=1)
        >>> result = run_dag_search(base, data, config)
        >>> result.spec.name, [t.task for t in result.spec.topologies]
        ('multidigits_dag_searched', ['left', 'right', 'parity'])
    """
    from mtlspec.search.dag.flow import reduce_all
    from mtlspec.search.dag.report import to_dag_spec

    state = search(base, data, config, checkpoint=checkpoint, resume=resume, progress=progress,
                   device=device)
    central = state.supernet.spec
    reductions = reduce_all(state.supernet.task_archs(), central.central.flow,
                            config.reduction, config.seed)
    spec = to_dag_spec(central, reductions, name=name)
    tune_dir = None if checkpoint is None else Path(checkpoint) / "finetune"
    model, result, keys = finetune(spec, state.supernet, data, config, checkpoint=tune_dir,
                                   resume=resume, progress=progress, device=device)
    return DagSearchResult(spec, reductions, state, model, result, keys,
                           state.supernet.central_params(),
                           sum(p.numel() for p in model.parameters()))
