"""TreeMTL's estimate of a layout from 2-task results, without training it.

Pair (t, s) shares the first b_ts blocks; Δ_t = mean over s ≠ t of the 2-task table's Δ_t at
b_ts (`estimate`). The layout's score is S = Σ_t w_t Δ_t with TreeMTL's task weights
(`task_weights`, from the SVD entropy of each task's Δ sequences), additive over pairs
(`pair_scores`), which is what lets the recommender score millions of layouts at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mtlspec.search.treemtl import layouts as lay
from mtlspec.search.treemtl.pairs_table import PairsTable


def svd_entropy(sequence: Sequence[float], *, order: int = 3, delay: int = 1) -> float:
    """Normalised SVD entropy (antropy's `svd_entropy(normalize=True)`, TreeMTL's measure).

    The delay embedding's singular values σ are scaled to sum 1; entropy = −Σ σ log2 σ,
    divided by log2(order). All-zero sequences give 0.

    Example:
        >>> round(svd_entropy([1.0, 2.0, 3.0, 4.0, 5.0]), 4)
        0.2087
    """
    x = np.asarray(sequence, dtype=np.float64)
    rows = len(x) - (order - 1) * delay
    if rows < 1:
        raise ValueError(f"a sequence of {len(x)} values is too short for order {order}")
    embedded = np.stack([x[i * delay:i * delay + rows] for i in range(order)], axis=1)
    sigma = np.linalg.svd(embedded, compute_uv=False)
    total = sigma.sum()
    if total == 0:
        return 0.0
    sigma = sigma[sigma > 0] / total
    return float(-(sigma * np.log2(sigma)).sum() / np.log2(order))


def task_weights(table: PairsTable) -> np.ndarray:
    """TreeMTL's task weights: 1 − mean SVD entropy of the task's Δ sequences, sum 1.

    Example:
        >>> from mtlspec.search.treemtl.pairs import load_pairs
        >>> task_weights(load_pairs("treemtl:nyuv2-resnet34")).round(3)
        array([0.093, 0.578, 0.328])
    """
    count = len(table.tasks)
    if table.blocks < 3:
        return np.full(count, 1.0 / count)
    raw = np.array([1.0 - np.mean([svd_entropy(table.delta[t, s, 1:])
                                   for s in range(count) if s != t]) for t in range(count)])
    if raw.sum() <= 0:
        return np.full(count, 1.0 / count)
    return raw / raw.sum()


def estimate(values: np.ndarray, table: PairsTable) -> np.ndarray:
    """Estimated Δ (%) of every task for every layout: array (N, T)."""
    count = len(table.tasks)
    deltas = np.zeros((len(values), count))
    for col, (i, j) in enumerate(lay.pairs(count)):
        branch = values[:, col]
        deltas[:, i] += table.delta[i, j][branch]
        deltas[:, j] += table.delta[j, i][branch]
    return deltas / max(count - 1, 1)


def pair_scores(table: PairsTable, weights: np.ndarray) -> np.ndarray:
    """Flat lookup: S = Σ_pairs g[p·(B+1) + b_p] (the score is additive over pairs)."""
    count = len(table.tasks)
    g = np.array([(weights[i] * table.delta[i, j] + weights[j] * table.delta[j, i])
                  for i, j in lay.pairs(count)]) / max(count - 1, 1)
    return g.reshape(-1)
