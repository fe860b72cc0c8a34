"""TreeMTL's recommender: estimate every layout from 2-task results, filter by budget, rank.

- **Cost** without compiling (compute in MACs, fvcore's convention; the code's `flops` names
  hold MACs): a layout runs one copy of block d per task set of row d, so MACs = Σ_d (sets in
  row d) × MACs(block d) + every head (params likewise). With depth(t) = max_{s<t} b_st (see
  `layouts.branch_depth`), row d has one set per task with depth(t) ≤ d, hence MACs =
  Σ_t suffix(depth(t)) with suffix(m) = Σ_{d ≥ m} MACs(block d).
- **Estimate** (TreeMTL): pair (t, s) shares the first b_ts blocks; Δ_t = mean over s ≠ t of the
  2-task table's Δ_t at b_ts. Score S = Σ_t w_t Δ_t.
- **Weights**, as TreeMTL's code computes them (`compute_weights`): for each task and each pair
  it is in, the normalised SVD entropy (order 3, delay 1) of its Δ sequence over branch points
  1..B; w_t = 1 − mean of those entropies, normalised to sum 1. (The paper's text writes a
  negative entropy; the code's version is the one its results come from.) Edge cases TreeMTL
  leaves undefined: a sequence of all zeros has entropy 0 (perfectly regular); with B < 3 the
  entropy of order 3 does not exist and the weights are uniform.
- **Budgets** (`mtlspec.cost.Budget`, the one budget check): `gmacs` (total MACs with
  heads), `params` (total parameters), `models` K: backbone MACs ≤ K × one backbone, as
  TreeMTL's "K models" tables (heads are the same for every layout and left out; a spec's
  `units` counts them). A cost equal to its limit passes.
- **Search**: spaces up to `max_enumerate` layouts (default 5,000,000; T=7, B=5 is 2.2M) are
  scored exhaustively in id order, streaming (exact top-k; ties → lower MACs, then lower
  id). Larger spaces use a beam search over TreeMTL's layout cuts (split one set from some
  block down): start from all-shared, expand every beam layout by every cut, drop those over
  budget (a cut never lowers cost, so nothing below them fits), keep the `beam_width` best by
  score; the top-k of everything seen is returned. It is a heuristic (not guaranteed optimal).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mtlspec.cost.budget import Budget
from mtlspec.errors import MtlspecError
from mtlspec.search.treemtl import layouts as lay
from mtlspec.search.treemtl.estimator import estimate, pair_scores, task_weights
from mtlspec.search.treemtl.pairs_table import PairsTable
from mtlspec.spec import ir

MAX_ENUMERATE = 5_000_000


@dataclass(frozen=True)
class CostModel:
    """Per-block and per-head costs of a base spec (what every layout is built from)."""

    tasks: tuple[str, ...]
    block_flops: tuple[int, ...]
    block_params: tuple[int, ...]
    head_flops: dict[str, int]
    head_params: dict[str, int]

    @property
    def blocks(self) -> int:
        return len(self.block_flops)

    @property
    def backbone_flops(self) -> int:
        return sum(self.block_flops)

    @property
    def independent_flops(self) -> int:
        """One single-task network (backbone + head) per task."""
        return len(self.tasks) * self.backbone_flops + sum(self.head_flops.values())

    @property
    def independent_params(self) -> int:
        return len(self.tasks) * sum(self.block_params) + sum(self.head_params.values())


def cost_model(spec: ir.TreeSpec, *, base_dir: str = ".", allow_import: bool = False
               ) -> CostModel:
    """Per-block FLOPs/params (the detector's) and per-head costs (`mtlspec.cost`) of a spec.

    Raises:
        MtlspecError: not a tree spec, or it cannot be compiled.

    Example:
        >>> from mtlspec.spec import load
        >>> cost_model(load("specs/conal_multidigits.mtl").spec).blocks
        5
    """
    from mtlspec import load_model

    ir.require_kind(spec, "model", "the recommender needs its backbone and heads from")
    return cost_model_of(load_model(spec, base_dir=base_dir, allow_import=allow_import))


def cost_model_of(model) -> CostModel:
    """The `CostModel` of an already compiled tree model (`mtlspec.load_model`)."""
    from mtlspec.cost import cost

    report = cost(model)
    return CostModel(
        tasks=tuple(model.task_names),
        block_flops=tuple(int(b.flops) for b in model.backbone_info),
        block_params=tuple(int(b.params) for b in model.backbone_info),
        head_flops={t: int(f) for t, (f, _) in report.heads.items()},
        head_params={t: int(p) for t, (_, p) in report.heads.items()},
    )


def layout_costs(values: np.ndarray, model: CostModel) -> tuple[np.ndarray, np.ndarray]:
    """(FLOPs, params) of every layout in a branch-point array (heads included), int64."""
    depth = lay.branch_depth(values, len(model.tasks))
    out = []
    for per_block, heads in ((model.block_flops, model.head_flops),
                             (model.block_params, model.head_params)):
        # suffix[m] = cost of blocks m..B-1; suffix[B] = 0 (a task sharing everything)
        suffix = np.append(np.cumsum(np.asarray(per_block[::-1], dtype=np.int64))[::-1], 0)
        out.append(suffix[depth].sum(axis=1) + sum(heads.values()))
    return out[0], out[1]


def layout_cost(layout: lay.Layout, model: CostModel) -> tuple[int, int]:
    """(FLOPs, params) of one layout: Σ_d sets(row d) × cost(block d) + heads."""
    flops = sum(len(row) * f for row, f in zip(layout, model.block_flops, strict=True))
    params = sum(len(row) * p for row, p in zip(layout, model.block_params, strict=True))
    return flops + sum(model.head_flops.values()), params + sum(model.head_params.values())


def layout_limits(budget: Budget, model: CostModel) -> tuple[float, float]:
    """(FLOPs limit, params limit) on a layout's totals (heads included); inf: no limit.

    Example:
        >>> model = CostModel(("a", "b"), (60, 40), (6, 4), {"a": 3, "b": 5}, {"a": 1, "b": 1})
        >>> layout_limits(Budget(models=1.5), model)
        (158.0, inf)
    """
    return (budget.flops_limit(backbone_flops=model.backbone_flops,
                               head_flops=model.head_flops.values()), budget.params_limit())


@dataclass(frozen=True)
class ScoredLayout:
    """One scored layout."""

    id: int
    layout: lay.Layout
    flops: int
    params: int
    deltas: tuple[float, ...]
    score: float


@dataclass
class Recommendation:
    """The top-k layouts and what the search saw.

    Attributes:
        candidates: best first.
        front: Pareto front of every feasible layout seen: (flops, score, id), by flops.
        method: "exhaustive" or "beam".
        searched: layouts scored; feasible: of them within budget.
        weights: task weights; space: size of the whole design space.
    """

    candidates: list[ScoredLayout]
    front: list[tuple[int, float, int]]
    method: str
    searched: int
    feasible: int
    weights: np.ndarray
    space: int
    seconds: float = 0.0
    budget: Budget = field(default_factory=Budget)


def _pareto(flops: np.ndarray, score: np.ndarray, ids: np.ndarray) -> list[tuple[int, float, int]]:
    """Points not dominated (lower-or-equal FLOPs and higher score): by FLOPs ascending."""
    order = np.lexsort((ids, -score, flops))
    ranked = score[order]
    # a point is on the front when it beats every point with lower-or-equal FLOPs before it
    before = np.concatenate(([-np.inf], np.maximum.accumulate(ranked)[:-1]))
    keep = order[ranked > before]
    return [(int(flops[k]), float(score[k]), int(ids[k])) for k in keep]


def _best(score: np.ndarray, flops: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best: score desc, then flops asc, then id asc."""
    if len(score) > 4 * k:  # preselect: every row scoring at least the k-th best (ties kept)
        cut = np.partition(score, len(score) - k)[len(score) - k]
        rows = np.flatnonzero(score >= cut)
        return rows[np.lexsort((ids[rows], flops[rows], -score[rows]))][:k]
    order = np.lexsort((ids, flops, -score))
    return order[:k]


def _check(table: PairsTable, model: CostModel) -> None:
    if table.tasks != model.tasks:
        raise MtlspecError(f"{table.source}: tasks {', '.join(table.tasks)} differ from the "
                           f"spec's {', '.join(model.tasks)}")
    if table.blocks != model.blocks:
        raise MtlspecError(f"{table.source}: branch points 0..{table.blocks} but the spec's "
                           f"backbone has {model.blocks} blocks",)


def recommend(model: CostModel, table: PairsTable, *, budget: Budget | None = None, top: int = 5,
              max_enumerate: int = MAX_ENUMERATE, beam_width: int = 64,
              progress: Callable[[int, int], None] | None = None) -> Recommendation:
    """Score the design space and return the top-k layouts within the budget.

    Args:
        model: per-block and head costs (`cost_model`).
        table: 2-task results with the model's tasks (same order) and B = model.blocks.
        budget: limits; top: how many layouts to return.
        max_enumerate: spaces larger than this are searched by beam search.
        beam_width: layouts kept per beam step.
        progress: called with (layouts done, total) after each chunk (exhaustive search).

    Raises:
        MtlspecError: table and model disagree on tasks or blocks.

    Example:
        >>> from mtlspec.search.treemtl.pairs import load_pairs
        >>> tasks = ("segment", "normal", "depth")  # 5 blocks of equal cost, free heads
        >>> model = CostModel(tasks, (1,) * 5, (1,) * 5, dict.fromkeys(tasks, 0),
        ...                   dict.fromkeys(tasks, 0))
        >>> rec = recommend(model, load_pairs("treemtl:nyuv2-resnet34"),
        ...                 budget=Budget(models=1.5), top=1)
        >>> rec.feasible, rec.space, lay.describe(rec.candidates[0].layout, tasks)
        (8, 51, '{segment, normal, depth} | ... | {segment, normal} {depth}')
    """
    _check(table, model)
    budget = budget if budget is not None else Budget()
    start = time.perf_counter()
    weights = task_weights(table)
    space = lay.count(len(model.tasks), model.blocks)
    limits = layout_limits(budget, model)
    if space <= max_enumerate:
        rec = _exhaustive(model, table, weights, limits, top, progress)
    else:
        rec = _beam(model, table, weights, limits, top, beam_width)
    rec.space, rec.budget = space, budget
    rec.seconds = time.perf_counter() - start
    return rec


def _score(values, model, table, weights, limits):
    """(flops, params, values, score, within budget); per-task Δ only later, for the kept."""
    flops, params = layout_costs(values, model)
    lookup = pair_scores(table, weights)
    offsets = np.arange(values.shape[1], dtype=np.intp) * (table.blocks + 1)
    score = lookup[values + offsets].sum(axis=1) if values.shape[1] else np.zeros(len(values))
    ok = (flops <= limits[0]) & (params <= limits[1])
    return flops, params, values, score, ok


def _exhaustive(model, table, weights, limits, top, progress) -> Recommendation:
    count, blocks = len(model.tasks), model.blocks
    total = lay.count(count, blocks)
    kept: list[tuple] = []  # (ids, flops, params, branch points, score) of the best so far
    fronts: list[tuple] = []
    done = feasible = 0
    for values in lay.chunks(count, blocks):
        ids = np.arange(done, done + len(values))
        done += len(values)
        flops, params, deltas, score, ok = _score(values, model, table, weights, limits)
        feasible += int(ok.sum())
        if ok.any():
            sel = [a[ok] for a in (ids, flops, params, deltas, score)]
            pick = _best(sel[4], sel[1], sel[0], top)
            kept.append(tuple(a[pick] for a in sel))
            front = _pareto(sel[1], sel[4], sel[0])
            fronts.append(tuple(np.array(c) for c in zip(*front, strict=True)))
            if len(kept) > 64:  # merge now and then: memory stays flat
                kept, fronts = [_merge(kept, top)], [_merge_front(fronts)]
        if progress is not None:
            progress(done, total)
    return _finish(kept, fronts, top, table, weights, "exhaustive", done, feasible)


def _merge(kept: list[tuple], top: int) -> tuple:
    ids, flops, params, deltas, score = (np.concatenate(c) for c in zip(*kept, strict=True))
    pick = _best(score, flops, ids, top)
    return ids[pick], flops[pick], params[pick], deltas[pick], score[pick]


def _merge_front(fronts: list[tuple]) -> tuple:
    flops, score, ids = (np.concatenate(c) for c in zip(*fronts, strict=True))
    front = _pareto(flops, score, ids)
    return tuple(np.array(c) for c in zip(*front, strict=True))


def _finish(kept, fronts, top, table, weights, method, searched, feasible):
    count, blocks = len(table.tasks), table.blocks
    candidates: list[ScoredLayout] = []
    front: list[tuple[int, float, int]] = []
    if kept:
        ids, flops, params, rows, score = _merge(kept, top)
        deltas = estimate(rows, table)
        candidates = [ScoredLayout(int(i), lay.unrank(count, blocks, int(i)), int(f), int(p),
                                tuple(float(x) for x in d), float(s))
                      for i, f, p, d, s in zip(ids, flops, params, deltas, score, strict=True)]
        f, s, i = _merge_front(fronts)
        front = [(int(a), float(b), int(c)) for a, b, c in zip(f, s, i, strict=True)]
    return Recommendation(candidates, front, method, searched, feasible, weights, 0)


def _cuts(row: np.ndarray, count: int, blocks: int) -> list[np.ndarray]:
    """Every layout one TreeMTL cut away: split one set of row d into two, rows d..B−1."""
    bp = np.zeros((count, count), dtype=np.int64)
    for col, (i, j) in enumerate(lay.pairs(count)):
        bp[i, j] = bp[j, i] = row[col]
    index = {p: k for k, p in enumerate(lay.pairs(count))}
    out = []
    for depth, groups in enumerate(lay.from_matrix(bp, blocks)):
        for group in groups:
            members = sorted(group)
            for size in range(1, len(members)):
                for part in itertools.combinations(members[1:], size - 1):
                    side = {members[0], *part}
                    new = row.copy()
                    for x in side:
                        for y in members:
                            if y not in side:
                                new[index[(min(x, y), max(x, y))]] = depth
                    out.append(new)
    return out


def _beam(model, table, weights, limits, top, width) -> Recommendation:
    count, blocks = len(model.tasks), model.blocks
    beam = np.full((1, len(lay.pairs(count))), blocks, dtype=np.uint8)
    seen: set[bytes] = {beam[0].tobytes()}
    kept, fronts, searched, feasible = [], [], 0, 0
    values = beam
    while len(values):
        flops, params, _, score, ok = _score(values, model, table, weights, limits)
        searched += len(values)
        feasible += int(ok.sum())
        values, flops, params, score = (a[ok] for a in (values, flops, params, score))
        if not len(values):
            break
        # ids (rank) only for the layouts kept: ranking costs ~0.5 ms each
        order = np.arange(len(values))
        pick = _best(score, flops, order, top)
        kept.append((_ids(values[pick], count, blocks), flops[pick], params[pick],
                     values[pick], score[pick]))
        front = np.array([k for _, _, k in _pareto(flops, score, order)])
        fronts.append((flops[front], score[front], _ids(values[front], count, blocks)))
        children = []
        for k in _best(score, flops, order, width):
            for child in _cuts(values[k], count, blocks):
                key = child.tobytes()
                if key not in seen:
                    seen.add(key)
                    children.append(child)
        values = np.array(children, dtype=np.uint8).reshape(-1, beam.shape[1])
    return _finish(kept, fronts, top, table, weights, "beam", searched, feasible)


def _ids(values: np.ndarray, count: int, blocks: int) -> np.ndarray:
    return np.array([lay.rank(lay.from_branch_points(count, blocks, v)) for v in values],
                    dtype=np.int64)
