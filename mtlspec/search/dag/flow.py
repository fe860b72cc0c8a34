"""Flow-based reduction of a searched DAG topology (Choi & Im, CVPR 2023, Algorithm 1).

Pure numpy: no torch, so the reduction is testable on hand-written matrices.

One task's searched topology is three arrays of weights *after* the sigmoid:

    A = alpha[i-1]        read-in weight of state i (input → i),          i = 1..N
    Γ = gamma[i-1, j-1]   weight of the hidden edge i → j, 0 < j − i ≤ M
    B = beta[i-1]         read-out weight of state i (i → head),           i = 1..N

`merge` packs them into one (N+2)×(N+2) adjacency matrix Ψ: node 0 is the read-in (the stem
output), nodes 1..N the hidden states, node N+1 the read-out. `flow_reduce` then follows
Algorithm 1:

1. N_α = argmax A (the read-in state), N_β = max(N_α + 1, argmax B) (the read-out state);
   every other read-in and read-out edge is dropped, and so is every hidden edge that leaves
   the window [N_α, N_β] (i < N_α or j > N_β).
2. Repeat: compute the information-flow score S of every edge of Ψ, take the edge with the
   lowest score, and remove it if the read-in → read-out graph stays reachable (DFS);
   otherwise stop. Scores are recomputed after each removal.
3. Discretise: the surviving edges get weight 1 (the fine-tuned network has no sigmoids).

Choices the paper's text leaves open, made here (all documented in the report too):

- *Information-flow score.* S[i, j] is the flow that reaches edge i → j from the read-in,
  propagated forward: S[0, j] = Ψ[0, j], S[i, j] = Ψ[i, j] · Σ_k S[k, i] (= F[i] · Ψ[i, j],
  F[i] the total product-weight of the paths 0 → i). A score that also multiplied in the flow
  *from* j to the read-out (total weight of the paths through the edge) cannot be what the
  paper means: every bridge then carries the whole flow, so the lowest-scoring edge is never a
  bridge until the graph is a single path; every task would end as a chain (width 1 by
  construction), and reporting a width W (the paper's Table 5) would be pointless.
- *Stopping rule.* "Remove while the graph stays reachable" is read literally: the loop ends at
  the first lowest-score edge whose removal would disconnect read-in from read-out (it is kept).
  The read-in and read-out edges take part: the loop often ends on the read-out edge, whose
  score is the total flow reaching the read-out.
- *Discretisation* keeps the live edges only (on some read-in → read-out path); an edge left
  dangling by the loop cannot change the task's output (the compiler drops it too).
- *Ties* in A, B or S are broken towards the lowest index (numpy's argmax; edges in (i, j)
  order), so the result is deterministic.
- *N_α range.* N_α is taken over states 1..N−1 (for N ≥ 2) so that N_β = N_α + 1 exists.

Baselines at equal sparsity (the paper's Fig. 5), over the same window and the same read-in
and read-out states, so that only the edge-removal rule differs: `random_reduce` keeps a
uniformly random subset of the window's edges, `threshold_reduce` keeps the edges with the
highest Γ over all tasks at once (one global threshold). Neither protects reachability; a task
left disconnected reads out the deepest state still reachable from its read-in
(`repair_read_out`), or its read-in state itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from mtlspec.errors import MtlspecError
from mtlspec.spec import graph

Edge = tuple[int, int]


@dataclass(frozen=True)
class TaskArch:
    """One task's searched weights after the sigmoid (states 1..N map to index 0..N−1).

    Attributes:
        alpha: read-in weights, shape (N,).
        gamma: hidden-edge weights, shape (N, N); entry [i-1, j-1] is edge i → j. Entries
            outside the central network's edges are ignored.
        beta: read-out weights, shape (N,).
    """

    alpha: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray


@dataclass(frozen=True)
class Reduction:
    """A discrete topology for one task.

    Attributes:
        read_in: the read-in state (1..N).
        read_out: the read-out state (1..N).
        edges: the kept hidden edges (i, j), states 1..N.
        window: the hidden edges inside [read_in, read_out] before removal (⊇ edges).
        removed: the removed window edges, in removal order.
    """

    read_in: int
    read_out: int
    edges: frozenset[Edge]
    window: frozenset[Edge]
    removed: tuple[Edge, ...] = ()


def central_edges(states: int, flow: int) -> list[Edge]:
    """Every hidden edge of the central network: i → j with 0 < j − i ≤ flow, sorted.

    Example:
        >>> central_edges(4, 2)
        [(1, 2), (1, 3), (2, 3), (2, 4), (3, 4)]
    """
    return [(i, j) for i in range(1, states + 1) for j in range(i + 1, min(i + flow, states) + 1)]


def merge(arch: TaskArch, flow: int) -> np.ndarray:
    """Γ, A, B → Ψ of size (N+2)², node 0 = read-in, N+1 = read-out.

    Args:
        arch: the task's weights after the sigmoid, each in [0, 1].
        flow: the flow constant M; hidden edges beyond it get weight 0.

    Returns:
        Ψ (float64). Ψ[0, i] = A_i, Ψ[i, N+1] = B_i, Ψ[i, j] = Γ_ij for central edges.

    Raises:
        MtlspecError: shapes disagree or a weight is outside [0, 1].

    Example:
        >>> psi = merge(TaskArch(np.ones(2), np.ones((2, 2)), np.ones(2)), flow=1)
        >>> psi.astype(int).tolist()
        [[0, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    """
    alpha, gamma, beta = (np.asarray(a, dtype=np.float64) for a in (arch.alpha, arch.gamma,
                                                                   arch.beta))
    n = alpha.shape[0]
    if n < 1 or alpha.shape != (n,) or beta.shape != (n,) or gamma.shape != (n, n):
        raise MtlspecError(f"arch shapes disagree: alpha {alpha.shape}, gamma {gamma.shape}, "
                           f"beta {beta.shape}; expected (N,), (N, N), (N,)")
    for name, a in (("alpha", alpha), ("gamma", gamma), ("beta", beta)):
        if not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > 1:
            raise MtlspecError(f"{name} must hold weights after the sigmoid, in [0, 1]")
    psi = np.zeros((n + 2, n + 2))
    psi[0, 1:n + 1] = alpha
    psi[1:n + 1, n + 1] = beta
    for i, j in central_edges(n, flow):
        psi[i, j] = gamma[i - 1, j - 1]
    return psi


def information_flow(psi: np.ndarray) -> np.ndarray:
    """S[i, j] = Ψ[i, j] · (flow into i), the flow propagated forward from node 0.

    Ψ must be strictly upper triangular (node order is topological). The flow into node 0 is
    1; the flow into j is Σ_i S[i, j] (the total product-weight of the paths 0 → j).

    Example:
        >>> psi = np.zeros((3, 3)); psi[0, 1] = 0.5; psi[1, 2] = 0.4
        >>> float(information_flow(psi)[1, 2])
        0.2
    """
    size = psi.shape[0]
    into = np.zeros(size)
    into[0] = 1.0
    for j in range(1, size):
        into[j] = into[:j] @ psi[:j, j]
    return into[:, None] * psi


def connects(psi: np.ndarray, source: int = 0, sink: int | None = None) -> bool:
    """Whether the edges with a positive weight in Ψ lead from `source` to `sink` (default:
    the last node).

    Example:
        >>> connects(np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]))
        True
    """
    sink = psi.shape[0] - 1 if sink is None else sink
    pairs = zip(*(axis.tolist() for axis in np.nonzero(psi > 0)), strict=True)
    return sink in graph.reachable([source], pairs)


def select_window(arch: TaskArch, flow: int) -> tuple[np.ndarray, int, int]:
    """Step 1 of Algorithm 1: N_α, N_β and Ψ restricted to the window [N_α, N_β].

    Returns:
        (Ψ with only the read-in edge 0 → N_α, the read-out edge N_β → N+1 and the hidden
        edges inside the window, N_α, N_β).
    """
    psi = merge(arch, flow)
    n = psi.shape[0] - 2
    n_alpha = 1 + int(np.argmax(psi[0, 1:max(n, 2)])) if n >= 2 else 1
    n_beta = max(n_alpha + 1, 1 + int(np.argmax(psi[1:n + 1, n + 1]))) if n >= 2 else 1
    keep = np.zeros_like(psi, dtype=bool)
    keep[0, n_alpha] = keep[n_beta, n + 1] = True
    keep[n_alpha:n_beta + 1, n_alpha:n_beta + 1] = True  # hidden edges inside the window
    psi = np.where(keep, psi, 0.0)
    # A zero weight would read as "no edge": keep the read-in/read-out path structurally alive.
    psi[0, n_alpha] = max(psi[0, n_alpha], np.finfo(float).tiny)
    psi[n_beta, n + 1] = max(psi[n_beta, n + 1], np.finfo(float).tiny)
    return psi, n_alpha, n_beta


def _hidden(psi: np.ndarray) -> frozenset[Edge]:
    n = psi.shape[0] - 2
    rows, cols = np.nonzero(psi[1:n + 1, 1:n + 1] > 0)
    return frozenset((int(i) + 1, int(j) + 1) for i, j in zip(rows, cols, strict=True))


def flow_reduce(arch: TaskArch, flow: int) -> Reduction:
    """Algorithm 1: window, then greedy lowest-flow edge removal while still reachable.

    Args:
        arch: the task's weights after the sigmoid.
        flow: the flow constant M of the central network.

    Returns:
        The discrete topology (see the module docstring for the rules).

    Raises:
        MtlspecError: malformed weights (see `merge`).

    Example:
        >>> arch = TaskArch(np.array([.9, .1, .1]), np.full((3, 3), .5), np.array([.1, .1, .9]))
        >>> r = flow_reduce(arch, flow=2)
        >>> r.read_in, sorted(r.edges), r.read_out
        (1, [(1, 3)], 3)
    """
    psi, n_alpha, n_beta = select_window(arch, flow)
    window = _hidden(psi)
    removed: list[Edge] = []
    while True:
        scores = information_flow(psi)
        rows, cols = np.nonzero(psi > 0)
        order = np.lexsort((cols, rows, scores[rows, cols]))  # lowest score, then (i, j)
        i, j = int(rows[order[0]]), int(cols[order[0]])
        trial = psi.copy()
        trial[i, j] = 0.0
        if not connects(trial):
            break
        psi = trial
        removed.append((i, j))
    live = live_edges(n_alpha, n_beta, _hidden(psi))
    return Reduction(n_alpha, n_beta, live, window, tuple(removed))


def live_edges(read_in: int, read_out: int, edges: Iterable[Edge]) -> frozenset[Edge]:
    """The edges on some path from `read_in` to `read_out`.

    Example:
        >>> sorted(live_edges(1, 3, [(1, 2), (2, 3), (1, 4)]))
        [(1, 2), (2, 3)]
    """
    return graph.live_edges([read_in], [read_out], edges)


def repair_read_out(read_in: int, read_out: int, edges: Iterable[Edge]) -> int:
    """The read-out state if reachable from `read_in`, else the deepest reachable state.

    Example:
        >>> repair_read_out(1, 4, [(1, 2), (3, 4)])
        2
    """
    seen = graph.reachable([read_in], edges)
    return read_out if read_out in seen else max(seen)


def _baseline(flows: Reduction, edges: Iterable[Edge]) -> Reduction:
    kept = frozenset(edges)
    out = repair_read_out(flows.read_in, flows.read_out, kept)
    removed = tuple(sorted(flows.window - kept))
    return Reduction(flows.read_in, out, kept, flows.window, removed)


def random_reduce(flows: Mapping[str, Reduction], seed: int = 0) -> dict[str, Reduction]:
    """Random edge removal at the flow reduction's sparsity, task by task.

    Each task keeps as many window edges as flow-based reduction kept for it, chosen
    uniformly at random (same read-in state; read-out repaired if disconnected).

    Example:
        >>> r = Reduction(1, 3, frozenset({(1, 3)}), frozenset({(1, 2), (2, 3), (1, 3)}))
        >>> len(random_reduce({"a": r})["a"].edges)
        1
    """
    rng = np.random.default_rng(seed)
    out = {}
    for task, red in flows.items():
        pool = sorted(red.window)
        picks = rng.choice(len(pool), size=len(red.edges), replace=False) if pool else []
        out[task] = _baseline(red, (pool[int(k)] for k in picks))
    return out


def threshold_reduce(flows: Mapping[str, Reduction],
                     archs: Mapping[str, TaskArch]) -> dict[str, Reduction]:
    """Global thresholding of Γ at the flow reduction's total sparsity.

    All tasks' window edges are ranked by weight together (ties: task order, then (i, j));
    the top K are kept, K = the total number of edges flow-based reduction kept.

    Example:
        >>> g = np.zeros((3, 3)); g[0, 1], g[1, 2], g[0, 2] = .2, .9, .7
        >>> r = Reduction(1, 3, frozenset({(1, 3)}), frozenset({(1, 2), (2, 3), (1, 3)}))
        >>> sorted(threshold_reduce({"a": r}, {"a": TaskArch(g[0], g, g[0])})["a"].edges)
        [(2, 3)]
    """
    ranked = [(-float(archs[t].gamma[i - 1, j - 1]), k, (i, j), t)
              for k, (t, red) in enumerate(flows.items()) for i, j in sorted(red.window)]
    ranked.sort()
    budget = sum(len(red.edges) for red in flows.values())
    kept: dict[str, list[Edge]] = {t: [] for t in flows}
    for _, _, edge, task in ranked[:budget]:
        kept[task].append(edge)
    return {t: _baseline(red, kept[t]) for t, red in flows.items()}


def reduce_all(archs: Mapping[str, TaskArch], flow: int, method: str = "flow",
               seed: int = 0) -> dict[str, Reduction]:
    """Reduce every task's topology with `method` ("flow", "random" or "threshold").

    The baselines reuse flow-based reduction's windows and per-task (random) or total
    (threshold) edge counts, so all three methods are compared at equal sparsity.

    Raises:
        MtlspecError: an unknown method.
    """
    flows = {task: flow_reduce(arch, flow) for task, arch in archs.items()}
    if method == "flow":
        return flows
    if method == "random":
        return random_reduce(flows, seed)
    if method == "threshold":
        return threshold_reduce(flows, archs)
    raise MtlspecError(f"unknown reduction `{method}`; choose flow, random or threshold")
