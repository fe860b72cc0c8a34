"""MGDA's exact min-norm solver (Wolfe's algorithm) and its gradient normalisations.

MGDA with gradient normalisation (Sener & Koltun): the task gradients g_t are divided by n_t
(none: 1, l2: ‖g_t‖, loss: L_t, loss+: L_t·‖g_t‖), α = min-norm point of the normalised
gradients' hull, and the loss weights are α_t / n_t, so the update is exactly the min-norm
direction Σ α_t g_t / n_t (the reference code weights the raw losses by α_t instead, which
follows that direction only when n_t = 1).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from mtlspec.errors import MtlspecError

NORMALIZATIONS = ("none", "l2", "loss", "loss+")


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
    res = _result(g, _drop_rounding(g, lam, tol), scale, iterations, tol)
    if not res.converged:
        warnings.warn(f"min_norm: gap {res.gap:.3g} after {iterations} iterations (tol {tol})",
                      RuntimeWarning, stacklevel=2)
    return res


def _drop_rounding(g: np.ndarray, lam: np.ndarray, tol: float) -> np.ndarray:
    """Zero weights at rounding level (a vertex the affine solve left at ~1e-16) when the
    point stays optimal without them, so an optimum on a face has exact zeros elsewhere."""
    tiny = (lam > 0) & (lam < 1e-13)
    if not tiny.any():
        return lam
    trial = np.where(tiny, 0.0, lam)
    trial /= trial.sum()
    gl = g @ trial
    return trial if trial @ gl - gl.min() <= tol else lam


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
