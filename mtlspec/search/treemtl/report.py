"""What `mtlspec recommend` writes: top-k spec files, the ranked table, JSON, a Pareto plot, and
the ranking evaluation against measured results.

Oracle file (`--evaluate oracle.csv`): a CSV with columns `layout,score`: `layout` is a layout
id or TreeMTL's text (`"[[{0, 1, 2}], [{0, 1}, {2}], ...]"`, task ids in spec order), `score`
the measured score of that layout (e.g. Σ_t w_t Δ_t of the trained model); `#` lines are
comments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mtlspec.errors import MtlspecError
from mtlspec.io import write_atomic
from mtlspec.search.treemtl import layouts as lay
from mtlspec.search.treemtl.estimator import estimate, task_weights
from mtlspec.search.treemtl.printed import parse_treemtl
from mtlspec.search.treemtl.recommender import CostModel, Recommendation, layout_limits
from mtlspec.spec import ir


def spec_budget(rec: Recommendation, model: CostModel) -> ir.Budget | None:
    """The written specs' `budget { }`: the recommender's limits, so `mtlspec check` agrees.

    GMACs limits are rounded up in the 6th significant digit (a spec holds short numbers).
    """
    macs, params = layout_limits(rec.budget, model)
    gmacs = None
    if math.isfinite(macs):
        scale = 10 ** (5 - math.floor(math.log10(macs / 1e9)))
        gmacs = math.ceil(macs / 1e9 * scale) / scale
    limit = None if not math.isfinite(params) else int(params)
    if gmacs is None and limit is None:
        return None
    return ir.Budget(gmacs=gmacs, params=limit)


def candidate_specs(rec: Recommendation, base: ir.TreeSpec, model: CostModel
                    ) -> dict[str, str]:
    """File name → canonical spec text of each recommended layout (`rank{k}_layout{id}.mtl`).

    Each spec is validated before it is returned.
    """
    from mtlspec.spec import format as format_spec
    from mtlspec.spec import validate

    budget = spec_budget(rec, model)
    out = {}
    for k, cand in enumerate(rec.candidates, 1):
        spec = lay.to_spec(base, cand.layout, name=f"{base.name}_layout{cand.id}",
                           budget=budget if budget is not None else base.budget)
        out[f"rank{k}_layout{cand.id}.mtl"] = format_spec(validate(spec))
    return out


def _pct(value: float, reference: float) -> float:
    return (value / reference - 1.0) * 100.0


def rows(rec: Recommendation, model: CostModel) -> list[dict]:
    """The ranked table: rank, id, MACs and params vs independent models (%), Δ, score."""
    out = []
    for k, cand in enumerate(rec.candidates, 1):
        row = {"rank": k, "layout": cand.id,
               "gmacs": cand.flops / 1e9,
               "macs_pct": _pct(cand.flops, model.independent_flops),
               "params": cand.params,
               "params_pct": _pct(cand.params, model.independent_params)}
        row.update({f"delta_{t}": d for t, d in zip(model.tasks, cand.deltas, strict=True)})
        row["score"] = cand.score
        row["text"] = lay.describe(cand.layout, model.tasks)
        out.append(row)
    return out


def to_json(rec: Recommendation, model: CostModel, files: dict[str, str]) -> dict:
    """The whole result as JSON-ready data."""
    names = list(files)
    table = rows(rec, model)
    for row, cand in zip(table, rec.candidates, strict=True):
        row["rows"] = [[sorted(g) for g in sorted(r, key=min)] for r in cand.layout]
    for row, name in zip(table, names, strict=False):
        row["spec"] = name
    return {"tasks": list(model.tasks), "blocks": model.blocks, "space": rec.space,
            "method": rec.method, "searched": rec.searched, "feasible": rec.feasible,
            "budget": rec.budget.describe(), "weights": [float(w) for w in rec.weights],
            "seconds": rec.seconds, "independent_gmacs": model.independent_flops / 1e9,
            "top": table,
            "pareto": [{"layout": i, "gmacs": f / 1e9, "score": s} for f, s, i in rec.front]}


def plot_pareto(rec: Recommendation, model: CostModel, path: str | Path) -> None:
    """PNG of the Pareto front (GMACs vs score), the recommended layouts marked; atomic."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    if rec.front:
        xs = [f / 1e9 for f, _, _ in rec.front]
        ys = [s for _, s, _ in rec.front]
        ax.step(xs, ys, where="post", color="0.6", zorder=1)
        ax.scatter(xs, ys, s=18, color="0.4", label="Pareto front", zorder=2)
    chosen = rec.candidates
    ax.scatter([c.flops / 1e9 for c in chosen], [c.score for c in chosen], s=60,
               facecolors="none", edgecolors="tab:red", linewidths=1.5,
               label="recommended", zorder=3)
    for k, c in enumerate(chosen, 1):
        ax.annotate(f"#{k} ({c.id})", (c.flops / 1e9, c.score), textcoords="offset points",
                    xytext=(4, 4), fontsize=7)
    ax.axvline(model.independent_flops / 1e9, color="0.8", linestyle="--",
               label="independent models")
    ax.set_xlabel("GMACs (fvcore: one multiply-add counts once)")
    ax.set_ylabel("estimated score (weighted Δ, %)")
    ax.set_title(f"{len(model.tasks)} tasks, {model.blocks} blocks; budget: "
                 f"{rec.budget.describe()}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_atomic(path, buf.getvalue())


def load_oracle(path: str | Path, tasks: int, blocks: int) -> tuple[list[lay.Layout], list[float]]:
    """Layouts and measured scores of an oracle CSV (see the module docstring).

    Raises:
        MtlspecError: bad header, layout or number (file:line).
    """
    from mtlspec.inputs import read_rows, read_text

    text = read_text(path, "scores")
    header = None
    found: list[lay.Layout] = []
    scores: list[float] = []
    for line, cells in read_rows(text, str(path)):
        where = f"{path}:{line}"
        if cells[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [c.strip().lower() for c in cells]
            if "layout" not in header or "score" not in header:
                raise MtlspecError(f"{where}: header must have columns layout,score")
            continue
        try:
            cell = cells[header.index("layout")].strip()
            score = float(cells[header.index("score")])
            if not math.isfinite(score):
                raise ValueError
        except (IndexError, ValueError):
            raise MtlspecError(f"{where}: expected a layout and a numeric score") from None
        try:
            layout = (lay.unrank(tasks, blocks, int(cell)) if (cell.isascii() and cell.isdigit())
                      else parse_treemtl(cell))
        except MtlspecError as err:
            raise MtlspecError(f"{where}: {err}") from None
        if len(layout) != blocks or len(set().union(*layout[0])) != tasks:
            raise MtlspecError(f"{where}: layout is not for {tasks} tasks and {blocks} blocks")
        found.append(layout)
        scores.append(score)
    return found, scores


def evaluate(path: str | Path, table, model: CostModel) -> dict:
    """Pearson/Spearman of estimated vs measured scores for the oracle's layouts."""
    found, measured = load_oracle(path, len(model.tasks), model.blocks)
    estimated = [float(s) for s in score_layouts(found, table)]
    result = correlation(estimated, measured)
    result["layouts"] = len(found)
    return result


def score_layouts(layouts: Sequence[lay.Layout], table) -> np.ndarray:
    """Estimated scores S = Σ w_t Δ_t of the given layouts (same weights as `recommend`)."""
    values = np.array([lay.branch_points(layout) for layout in layouts], dtype=np.uint8)
    values = values.reshape(len(layouts), len(lay.pairs(len(table.tasks))))
    return estimate(values, table) @ task_weights(table)


def correlation(estimated: Sequence[float], measured: Sequence[float]) -> dict[str, float]:
    """Pearson and Spearman correlation of estimated vs measured scores.

    Raises:
        MtlspecError: fewer than 3 layouts, or constant values.
    """
    from scipy import stats

    if len(estimated) < 3:
        raise MtlspecError(f"correlation needs at least 3 layouts, got {len(estimated)}")
    if np.ptp(estimated) == 0 or np.ptp(measured) == 0:
        raise MtlspecError("correlation is undefined: estimated or measured scores are all equal")
    return {"pearson": float(stats.pearsonr(estimated, measured)[0]),
            "spearman": float(stats.spearmanr(estimated, measured)[0])}
