"""Loss weighting: uniform, fixed, RLW, MGDA and MGDA-UB, and the min-norm solver they share.

A `Weighting` turns the T task losses of a step (and, for MGDA, the T×T Gram matrix of the task
gradients) into T loss weights; the loop does the backward passes (`mtlspec.train.step`).
`requires` says what it needs: "losses" only, the gradients on the shared "params" (MGDA), or
the gradients w.r.t. the shared "representation" (MGDA-UB, one backward through the trunk).

MGDA with gradient normalisation (Sener & Koltun): the task gradients g_t are divided by n_t
(none: 1, l2: ‖g_t‖, loss: L_t, loss+: L_t·‖g_t‖), α = min-norm point of the normalised
gradients' hull, and the loss weights are α_t / n_t, so the update is exactly the min-norm
direction Σ α_t g_t / n_t (the reference code weights the raw losses by α_t instead, which
follows that direction only when n_t = 1).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from mtlspec.errors import MtlspecError

NORMALIZATIONS = ("none", "l2", "loss", "loss+")
WEIGHTINGS = ("uniform", "fixed", "rlw", "mgda", "mgda-ub")


@dataclass(frozen=True)
class MinNormResult:
    """The min-norm solver's answer and how far it is from optimal.

    `gap` is the Frank-Wolfe duality gap λᵀGλ − min_j (Gλ)_j, an upper bound on
    ‖x‖² − ‖x*‖² (x = Σ λ_i v_i); 0 at the exact optimum.
    """

    weights: np.ndarray
    norm2: float
    gap: float
    iterations: int
    converged: bool


def _two_task(gram: np.ndarray) -> np.ndarray:
    """Closed form for T = 2: minimise ‖γ v1 + (1−γ) v2‖² over γ ∈ [0, 1]."""
    g11, g12, g22 = gram[0, 0], gram[0, 1], gram[1, 1]
    denom = g11 - 2 * g12 + g22  # ‖v1 − v2‖²
    if denom <= 0:  # identical vectors: every point of the hull is the same point
        return np.array([0.5, 0.5])
    gamma = min(max((g22 - g12) / denom, 0.0), 1.0)
    return np.array([gamma, 1.0 - gamma])


def _affine_minimizer(gram: np.ndarray, corral: list[int]) -> np.ndarray:
    """Weights (summing to 1, any sign) of the min-norm point of the corral's affine hull."""
    k = len(corral)
    kkt = np.zeros((k + 1, k + 1))
    kkt[:k, :k] = gram[np.ix_(corral, corral)]
    kkt[:k, k] = kkt[k, :k] = 1.0
    rhs = np.zeros(k + 1)
    rhs[k] = 1.0
    try:
        sol = np.linalg.solve(kkt, rhs)
    except np.linalg.LinAlgError:  # nearly affinely dependent corral
        sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    return sol[:k]


def min_norm_solve(
    gram: np.ndarray | torch.Tensor, *, max_iter: int = 1000, tol: float = 1e-12
) -> MinNormResult:
    """Min-norm point of the convex hull of T vectors, given only their Gram matrix.

    Wolfe's algorithm (1976) in float64: it keeps a "corral" of affinely independent vertices,
    moves to the min-norm point of their affine hull, and drops vertices whose weight would
    turn negative. It is finite and exact: an optimum at a vertex gets weight exactly 1 there.
    T = 2 uses the closed form. The Gram matrix is scaled by its largest diagonal entry, so
    `tol` is relative to the longest vector's squared norm.

    Args:
        gram: T×T symmetric positive semi-definite matrix, G_ij = ⟨v_i, v_j⟩.
        max_iter: cap on corral updates (each adds or drops a vertex).
        tol: stop when the duality gap is ≤ tol · max_i G_ii.

    Returns:
        Convex weights λ (float64, ≥ 0, sum 1), ‖Σ λ_i v_i‖², the gap, iterations, and whether
        the gap reached `tol` within `max_iter`.

    Raises:
        ValueError: `gram` is not a finite square matrix.

    Example:
        >>> min_norm_solve(np.array([[1.0, -1.0], [-1.0, 1.0]])).weights
        array([0.5, 0.5])
    """
    g = np.array(gram.detach().cpu() if isinstance(gram, torch.Tensor) else gram, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] != g.shape[1] or g.shape[0] == 0 or not np.isfinite(g).all():
        raise ValueError(f"min_norm: need a finite non-empty square Gram matrix, got {g.shape}")
    t = g.shape[0]
    g = (g + g.T) / 2
    scale = float(np.max(np.diag(g)))
    if scale <= 0:  # every vector is zero: any weights are optimal
        return MinNormResult(np.full(t, 1.0 / t), 0.0, 0.0, 0, True)
    g = g / scale
    if t == 1:
        return MinNormResult(np.ones(1), scale * g[0, 0], 0.0, 0, True)
    if t == 2:
        lam = _two_task(g)
        return _result(g, lam, scale, 1, tol)
    lam, iterations = _wolfe(g, max_iter, tol)
    res = _result(g, lam, scale, iterations, tol)
    if not res.converged:
        warnings.warn(f"min_norm: gap {res.gap:.3g} after {iterations} iterations (tol {tol})",
                      RuntimeWarning, stacklevel=2)
    return res


def _result(g: np.ndarray, lam: np.ndarray, scale: float, iterations: int,
            tol: float) -> MinNormResult:
    gl = g @ lam
    norm2 = float(lam @ gl)
    gap = max(norm2 - float(gl.min()), 0.0)
    return MinNormResult(lam, norm2 * scale, gap * scale, iterations, gap <= tol)


def _wolfe(g: np.ndarray, max_iter: int, tol: float) -> tuple[np.ndarray, int]:
    """Wolfe's min-norm-point iterations on a scaled Gram matrix (max diagonal 1)."""
    t = g.shape[0]
    start = int(np.argmin(np.diag(g)))
    corral = [start]
    lam = np.zeros(t)
    lam[start] = 1.0
    iterations = 0
    while iterations < max_iter:
        gl = g @ lam
        norm2 = lam @ gl
        j = int(np.argmin(gl))
        if norm2 - gl[j] <= tol or j in corral:  # optimal (or no vertex improves)
            break
        corral.append(j)
        while iterations < max_iter:  # minor cycle: affine step, drop vertices that go ≤ 0
            iterations += 1
            alpha = _affine_minimizer(g, corral)
            if np.all(alpha > 0):
                lam[:] = 0.0
                lam[corral] = alpha
                break
            current = lam[corral]
            neg = np.flatnonzero(alpha <= 0)
            ratios = current[neg] / (current[neg] - alpha[neg])
            first = neg[int(np.argmin(ratios))]  # the vertex that reaches 0 first leaves
            new = current + float(ratios.min()) * (alpha - current)
            new[first] = 0.0
            keep = new > 0
            lam[:] = 0.0
            corral = [c for c, k in zip(corral, keep, strict=True) if k]
            lam[corral] = new[keep] / new[keep].sum()
    return lam, iterations


def min_norm(gram: np.ndarray | torch.Tensor, *, max_iter: int = 1000,
             tol: float = 1e-12) -> np.ndarray:
    """The convex weights of the min-norm point (see `min_norm_solve`).

    Example:
        >>> min_norm(np.eye(3))
        array([0.33333333, 0.33333333, 0.33333333])
    """
    return min_norm_solve(gram, max_iter=max_iter, tol=tol).weights


def gradient_normalizers(gram: np.ndarray, losses: np.ndarray, kind: str) -> np.ndarray:
    """Per-task divisors n_t of the gradients: none 1, l2 ‖g_t‖, loss L_t, loss+ L_t·‖g_t‖.

    Zero divisors become 1 (a zero gradient or loss stays zero instead of turning into NaN).

    Raises:
        MtlspecError: unknown kind.
    """
    norms = np.sqrt(np.maximum(np.diag(gram), 0.0))
    if kind == "none":
        n = np.ones_like(norms)
    elif kind == "l2":
        n = norms
    elif kind == "loss":
        n = np.asarray(losses, dtype=np.float64)
    elif kind == "loss+":
        n = np.asarray(losses, dtype=np.float64) * norms
    else:
        raise MtlspecError(f"unknown gradient normalization {kind!r}; use one of "
                           f"{', '.join(NORMALIZATIONS)}")
    return np.where(np.abs(n) > 0, n, 1.0)


class Weighting:
    """Base class: `weights(losses, gram)` → T loss weights (float32 tensor).

    Subclasses set `requires` ("losses", "params" or "representation") and may keep state
    (`state_dict`/`load_state_dict`, saved in checkpoints).
    """

    name = "base"
    requires: Literal["losses", "params", "representation"] = "losses"

    def __init__(self) -> None:
        self.tasks: list[str] = []
        self.last: np.ndarray | None = None  # the most recent weights, for logs

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

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


class Uniform(Weighting):
    """Every task weighted 1/T (the mean of the losses)."""

    name = "uniform"

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        return np.full(len(losses), 1.0 / len(losses))


class Fixed(Weighting):
    """User-given weights per task, used as given; unnamed tasks get 1."""

    name = "fixed"

    def __init__(self, weights: Mapping[str, float]) -> None:
        super().__init__()
        self.given = dict(weights)
        for task, w in self.given.items():
            if not math.isfinite(w) or w < 0:
                raise MtlspecError(f"weight of task {task} must be finite and ≥ 0, got {w}")

    def bind(self, tasks: Sequence[str]) -> None:
        unknown = sorted(set(self.given) - set(tasks))
        if unknown:
            raise MtlspecError(f"--weights names unknown task(s) {', '.join(unknown)}; the "
                               f"model's tasks are {', '.join(tasks)}")
        super().bind(tasks)

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        return np.array([self.given.get(t, 1.0) for t in self.tasks])


class RandomLoss(Weighting):
    """RLW: each step, weights drawn uniform on [0, 1] and normalised to sum 1 (CoNAL's rule).

    Draws come from its own seeded generator, whose state is checkpointed.
    """

    name = "rlw"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        w = self.rng.uniform(0.0, 1.0, size=len(losses))
        total = w.sum()
        return w / total if total > 0 else np.full(len(losses), 1.0 / len(losses))

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


class MGDA(Weighting):
    """Min-norm point of the (normalised) task gradients on the shared parameters."""

    name = "mgda"
    requires: Literal["losses", "params", "representation"] = "params"

    def __init__(self, normalization: str = "none", *, max_iter: int = 1000,
                 tol: float = 1e-12) -> None:
        super().__init__()
        if normalization not in NORMALIZATIONS:
            raise MtlspecError(f"unknown gradient normalization {normalization!r}; use one of "
                               f"{', '.join(NORMALIZATIONS)}")
        self.normalization = normalization
        self.max_iter, self.tol = max_iter, tol
        self.alpha: np.ndarray | None = None

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        if gram is None:
            raise ValueError(f"{self.name} needs the task gradients' Gram matrix")
        n = gradient_normalizers(gram, losses.double().cpu().numpy(), self.normalization)
        alpha = min_norm(gram / np.outer(n, n), max_iter=self.max_iter, tol=self.tol)
        self.alpha = alpha
        return alpha / n


class MGDAUB(MGDA):
    """MGDA-UB: MGDA on the gradients w.r.t. the shared representation (Sener & Koltun)."""

    name = "mgda-ub"
    requires: Literal["losses", "params", "representation"] = "representation"


def make_weighting(
    name: str,
    *,
    weights: Mapping[str, float] | None = None,
    normalization: str | None = None,
    seed: int = 0,
) -> Weighting:
    """A weighting by name.

    Args:
        name: uniform, fixed, rlw, mgda or mgda-ub.
        weights: per-task weights (fixed only).
        normalization: gradient normalisation for mgda / mgda-ub: none, l2, loss, loss+.
            Default (None): loss+ for mgda / mgda-ub, as the MGDA-UB authors' MultiMNIST
            setting — without it the min-norm point leans on whichever task's gradient is
            smallest and the others stall (left/right stuck near 55-65% on MultiDigits).
        seed: RLW's generator seed.

    Raises:
        MtlspecError: unknown name or normalisation, weights given to a weighting other than
            fixed, or fixed without weights.

    Example:
        >>> make_weighting("fixed", weights={"left": 2.0}).name
        'fixed'
    """
    if name not in WEIGHTINGS:
        raise MtlspecError(f"unknown weighting {name!r}; use one of {', '.join(WEIGHTINGS)}")
    if weights is not None and name != "fixed":
        raise MtlspecError(f"per-task weights (--weights) need weighting 'fixed', not {name!r}")
    if weights is None and name == "fixed":
        raise MtlspecError("weighting 'fixed' needs per-task weights, e.g. "
                           "--weights left=1,right=2")
    if normalization is None:
        normalization = "loss+" if name in ("mgda", "mgda-ub") else "none"
    if normalization != "none" and name not in ("mgda", "mgda-ub"):
        raise MtlspecError(f"gradient normalization applies to mgda and mgda-ub, not {name}")
    if name == "uniform":
        return Uniform()
    if name == "fixed":
        return Fixed(weights or {})
    if name == "rlw":
        return RandomLoss(seed)
    return (MGDA if name == "mgda" else MGDAUB)(normalization)
