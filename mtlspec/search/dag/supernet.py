"""DAG topology search (Choi & Im, CVPR 2023): the central-network supernet.

The central network has N hidden states and one edge module e_ij for every 0 < j − i ≤ M
(the flow restriction; M = N − 1 is the complete DAG). Its op comes from the base spec's
`central { edge: ... }` through the compiler's op registry, and its weights θ_ij are shared by
all tasks. Each task k owns upper-level parameters, used through a sigmoid σ:

    read-in   α_i^k  (input → state i)        edge  γ_ij^k        read-out  β_i^k (state i → head)

    v_j^k = (1 / In_j) · ( σ(α_j^k) · v_0  +  Σ_{i → j} σ(γ_ij^k) · e_ij(v_i^k) )
    v_L^k = Σ_i σ(β_i^k) · v_i^k,            prediction_k = head_k(v_L^k)

with v_0 the stem output. Choices the paper's text leaves open:

- *In_j* is the number of terms that can reach state j: its read-in term plus its incoming
  central edges (1 + min(j − 1, M)). It is a constant, not the sum of the weights, so the
  sigmoids scale the terms as in the paper; and it matches the compiled discrete network,
  which averages exactly the terms its topology keeps (`mtlspec.compile.dag`).
- The read-in term and the edge terms are summed into one state (the issue's two formulas
  written as one), again as the compiler does for a state that is read in and has edges.
- All tasks run through the shared edges in one batch (task-major), so each edge module runs
  once per forward and BatchNorm sees every task's activations.

Module names equal the compiled `DagModel`'s (`stem`, `edges.e{i}_{j}`, `heads.{task}`), so
the searched θ initialises the fine-tuned network key by key (`transfer_weights`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mtlspec.compile.dag import _EDGE_OPS, _STEM_OPS, _build_op, edge_name
from mtlspec.compile.heads import build_head
from mtlspec.errors import MtlspecError
from mtlspec.search.dag.flow import TaskArch, central_edges
from mtlspec.spec import ir


class DagSupernet(nn.Module):
    """The central network with every flow-restricted edge and per-task α, β, Γ.

    Attributes:
        spec: the base DAG spec (its central network, input and task heads are used).
        task_names: output order (the spec's task order).
        edge_list: the central edges (i, j), sorted; gamma's columns follow this order.
        alpha, beta: (T, N) read-in / read-out parameters (before the sigmoid).
        gamma: (T, E) edge parameters (before the sigmoid).
    """

    def __init__(self, spec: ir.DagSpec) -> None:
        super().__init__()
        shape = tuple(spec.input.shape)
        if len(shape) != 4:
            raise MtlspecError(f"{spec.name}: a DAG's input must be (N, C, H, W), got {shape}")
        central = spec.central
        self.spec = spec
        self.task_names = [t.name for t in spec.tasks]
        self.states, self.flow = central.states, central.flow
        self.edge_list = central_edges(central.states, central.flow)
        self.stem = _build_op(_STEM_OPS, "stem", central.stem, in_channels=shape[1])
        channels = int(central.stem.args["out"])
        self.edges = nn.ModuleDict({
            edge_name(e): _build_op(_EDGE_OPS, "edge", central.edge, channels=channels)
            for e in self.edge_list
        })
        self.heads = nn.ModuleDict({
            t.name: build_head(t.head, in_channels=channels, size=shape[-2:]) for t in spec.tasks
        })
        tasks, n = len(self.task_names), central.states
        # Zero before the sigmoid = 0.5 after it: the warm-up's fixed value.
        self.alpha = nn.Parameter(torch.zeros(tasks, n))
        self.beta = nn.Parameter(torch.zeros(tasks, n))
        self.gamma = nn.Parameter(torch.zeros(tasks, len(self.edge_list)))
        self._incoming = [[(k, i) for k, (i, jj) in enumerate(self.edge_list) if jj == j]
                          for j in range(1, n + 1)]

    def arch_parameters(self) -> list[nn.Parameter]:
        """The upper-level parameters α, β, Γ."""
        return [self.alpha, self.beta, self.gamma]

    def weight_parameters(self) -> list[nn.Parameter]:
        """θ: stem, edges and heads (everything but α, β, Γ)."""
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        v0 = self.stem(x).unsqueeze(0)  # (1, B, C, H, W), broadcast over tasks
        a, b, g = (torch.sigmoid(p).view(*p.shape, 1, 1, 1, 1)
                   for p in (self.alpha, self.beta, self.gamma))
        states: list[torch.Tensor] = []
        for j, incoming in enumerate(self._incoming, start=1):
            total = a[:, j - 1] * v0
            for k, i in incoming:
                src = states[i - 1]  # (T, B, C, H, W)
                out = self.edges[edge_name(self.edge_list[k])](src.flatten(0, 1))
                total = total + g[:, k] * out.view_as(src)
            states.append(total / (1 + len(incoming)))
        feature = sum(b[:, i] * v for i, v in enumerate(states))
        return {t: self.heads[t](feature[k]) for k, t in enumerate(self.task_names)}

    def squeeze_loss(self, kappa: float) -> torch.Tensor:
        """L_sq = Σ_k max(Σ_ij σ(γ_ij^k) − κ, 0)."""
        return torch.relu(torch.sigmoid(self.gamma).sum(dim=1) - kappa).sum()

    def task_archs(self) -> dict[str, TaskArch]:
        """Each task's α, Γ, β after the sigmoid, as numpy arrays for `mtlspec.search.dag.flow`."""
        n = self.states
        with torch.no_grad():
            a, b, g = (torch.sigmoid(p).double().cpu().numpy()
                       for p in (self.alpha, self.beta, self.gamma))
        out = {}
        for k, task in enumerate(self.task_names):
            gamma = np.zeros((n, n))
            for e, (i, j) in enumerate(self.edge_list):
                gamma[i - 1, j - 1] = g[k, e]
            out[task] = TaskArch(a[k], gamma, b[k])
        return out

    def central_params(self) -> int:
        """Parameters of the full central network with the heads (θ, without α, β, Γ)."""
        return sum(p.numel() for p in self.weight_parameters())


def transfer_weights(source: nn.Module, target: nn.Module) -> list[str]:
    """Copy every tensor of `target`'s state dict that `source` has under the same key and shape.

    Args:
        source: the searched supernet.
        target: the compiled discrete network (`mtlspec.compile.compile` of the output spec).

    Returns:
        The copied keys (parameters and buffers), sorted.

    Example:
        >>> from mtlspec import load_model
        >>> from mtlspec.search.dag.stages import SearchConfig, central_spec
        >>> from mtlspec.spec import load
        >>> base = load("specs/multidigits_dag.mtl").spec
        >>> supernet = DagSupernet(central_spec(base, SearchConfig()))
        >>> keys = transfer_weights(supernet, load_model(base))
        >>> keys[:2]
        ['edges.e1_2.0.weight', 'edges.e1_2.1.bias']
    """
    have = source.state_dict()
    state = target.state_dict()
    copied = sorted(k for k, v in state.items() if k in have and have[k].shape == v.shape)
    for key in copied:
        state[key] = have[key].detach().clone()
    target.load_state_dict(state)
    return copied
