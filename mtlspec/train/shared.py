"""What the tasks of a model share: the parameters gradient methods balance, and the shared
trunk whose output representation-gradient methods (MGDA-UB, rep_grad) differentiate.

Protocol for models other than compiled tree specs (optional methods):

- `model.shared_parameters() -> list[nn.Parameter]`: the parameters MGDA balances. Without
  it, they are found by one probe forward pass: a parameter is shared when the outputs of two
  or more tasks depend on it (for a TreeModel: the nodes serving ≥ 2 tasks).
- `model.shared_split() -> (trunk, rest)`: `trunk(x)` is the all-shared representation z and
  `rest(z)` returns {task: prediction}, with `rest(trunk(x)) == model(x)`. MGDA-UB needs it;
  a TreeModel provides it from the leading layout rows that hold all tasks in one node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from mtlspec.errors import MtlspecError

Trunk = Callable[[torch.Tensor], torch.Tensor]
Rest = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def _tree_trunk_rows(model: nn.Module) -> int:
    """Number of leading layout rows of a TreeModel whose single node serves every task."""
    rows = 0
    for i in range(len(model.spec.layout)):
        nodes = [n for n in model.plan if n.block == i]
        if len(nodes) != 1:
            break
        rows += 1
    return rows


def _instead(method: str) -> str:
    """What to use instead of representation gradients."""
    if method == "mgda-ub":
        return "use --weighting mgda (gradients on the shared parameters) instead"
    return f"drop rep_grad so that {method} uses the gradients on the shared parameters"


def _tree_split(model: nn.Module, method: str) -> tuple[Trunk, Rest]:
    from mtlspec.compile.tree import TreeModel

    assert isinstance(model, TreeModel)
    k = _tree_trunk_rows(model)
    if k == 0:
        raise MtlspecError(
            f"{model.spec.name}: {method} needs an all-shared trunk, but the first layout row "
            f"already splits the tasks; {_instead(method)}")
    trunk_nodes = [n for n in model.plan if n.block < k]
    tail = [n for n in model.plan if n.block >= k]
    last = len(model.spec.layout) - 1

    def trunk(x: torch.Tensor) -> torch.Tensor:
        for node in trunk_nodes:
            x = model.nodes[f"b{node.block + 1}"][node.key](x)
        return x

    def rest(z: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs: dict[tuple[int, str], torch.Tensor] = {(k - 1, trunk_nodes[-1].key): z}
        for node in tail:
            source = outputs[(node.block - 1, "+".join(node.parent))]
            outputs[(node.block, node.key)] = model.nodes[f"b{node.block + 1}"][node.key](source)
        return {t: model.heads[t](outputs[(last, model.leaf[t])]) for t in model.task_names}

    return trunk, rest


def shared_split(model: nn.Module, *, method: str = "mgda-ub") -> tuple[Trunk, Rest]:
    """Split a model into its all-shared trunk and the rest (for representation gradients).

    Args:
        model: a TreeModel, or any model with a `shared_split()` method (see module docs).
        method: the weighting that asks, named in errors.

    Returns:
        `(trunk, rest)` with `rest(trunk(x))` equal to `model(x)`.

    Raises:
        MtlspecError: the model has no all-shared trunk or does not say what it is.

    Example:
        >>> from mtlspec import load_model
        >>> model = load_model("specs/conal_multidigits.mtl").eval()
        >>> trunk, rest = shared_split(model)
        >>> x = torch.zeros(4, 1, 8, 16)
        >>> torch.equal(rest(trunk(x))["left"], model(x)["left"])
        True
    """
    own = getattr(model, "shared_split", None)
    if callable(own):
        return own()
    from mtlspec.compile.tree import TreeModel

    if isinstance(model, TreeModel):
        return _tree_split(model, method)
    raise MtlspecError(
        f"{method} needs the model's all-shared trunk, but {type(model).__name__} has none "
        f"that mtlspec knows of; {_instead(method)}, or give the model a shared_split() "
        "method returning (trunk, rest)")


def shared_parameters(model: nn.Module, probe: torch.Tensor, tasks: Sequence[str], *,
                      method: str = "mgda") -> list[nn.Parameter]:
    """The parameters that two or more of `tasks` depend on (what gradient methods balance).

    Args:
        model: the model (`shared_parameters()` method, if any, decides).
        probe: an input batch; one forward pass in eval mode (no batch-norm statistics change,
            no random numbers drawn) shows which task depends on which parameter.
        tasks: the tasks trained.
        method: the weighting that asks, named in errors.

    Returns:
        The shared parameters, in `model.parameters()` order.

    Raises:
        MtlspecError: no parameter is shared by two tasks.
    """
    own = getattr(model, "shared_parameters", None)
    if callable(own):
        params = list(own())
    else:
        params = [p for p in model.parameters() if p.requires_grad]
        was_training = model.training
        model.eval()
        try:
            with torch.enable_grad():
                out = model(probe)
                users = [0] * len(params)
                for task in tasks:
                    grads = torch.autograd.grad(out[task].float().sum(), params,
                                                retain_graph=True, allow_unused=True)
                    users = [u + (g is not None) for u, g in zip(users, grads, strict=True)]
        finally:
            model.train(was_training)
        params = [p for p, u in zip(params, users, strict=True) if u >= 2]
    if not params:
        raise MtlspecError(f"{method} needs parameters shared by two or more tasks, and this "
                           "model has none (every task has its own network); use a loss "
                           "weighting such as --weighting uniform")
    return params


def gram_matrix(grads: torch.Tensor, *, chunk: int = 1 << 16) -> torch.Tensor:
    """T×T Gram matrix (float64) of T flattened gradients [T, D].

    Products are taken in float32 (or the gradients' precision if higher) chunk by chunk, even
    under autocast, and summed in float64: as fast as one float32 matrix product, and the sum
    over D does not lose precision.

    Example:
        >>> gram_matrix(torch.eye(2))
        tensor([[1., 0.],
                [0., 1.]], dtype=torch.float64)
    """
    t, d = grads.shape
    if grads.dtype in (torch.float16, torch.bfloat16):  # gradients of an autocast activation
        grads = grads.float()
    out = torch.zeros(t, t, dtype=torch.float64, device=grads.device)
    with torch.autocast(grads.device.type, enabled=False):  # never in half precision
        for start in range(0, d, chunk):
            part = grads[:, start:start + chunk]
            out += (part @ part.T).double()
    return ((out + out.T) / 2).cpu()  # the min-norm solver works on the CPU
