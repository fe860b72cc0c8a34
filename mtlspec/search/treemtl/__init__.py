"""TreeMTL: the layout design space of a tree over B blocks and the layout recommender.

- `layouts`: every layout of T tasks over B blocks with a stable id (rank/unrank, exact
  count); `printed`: TreeMTL's printed form;
- `pairs`, `pairs_table`: the 2-task results table, read from `pairs.csv`, TreeMTL's own
  table or a shipped table, and written back;
- `estimator`: TreeMTL's estimate of a layout (Δ per task, task weights, scores);
- `recommender`: estimate every layout from the 2-task results, filter by budget, rank;
- `report`: what `mtlspec recommend` writes (top-k specs, JSON, Pareto plot, evaluation).

Importing this package loads numpy, never torch (`cost_model` compiles the base spec lazily).

    >>> from mtlspec.search.treemtl import load_pairs, unrank, describe
    >>> load_pairs("treemtl:nyuv2-resnet34").tasks
    ('segment', 'normal', 'depth')
    >>> describe(unrank(3, 2, 1), ["segment", "normal", "depth"])
    '{segment, normal, depth} | {segment, normal} {depth}'
"""

from mtlspec.search.treemtl.estimator import estimate, task_weights
from mtlspec.search.treemtl.layouts import (
    Layout,
    branch_points,
    check_size,
    describe,
    from_branch_points,
    from_spec,
    rank,
    unrank,
)
from mtlspec.search.treemtl.pairs import load_pairs, load_treemtl_table
from mtlspec.search.treemtl.pairs_table import PairsTable, write_pairs, write_single
from mtlspec.search.treemtl.printed import parse_treemtl
from mtlspec.search.treemtl.recommender import (
    CostModel,
    Recommendation,
    ScoredLayout,
    cost_model,
    cost_model_of,
    recommend,
)
from mtlspec.search.treemtl.report import candidate_specs, correlation, plot_pareto

__all__ = [
    "CostModel",
    "Layout",
    "PairsTable",
    "Recommendation",
    "ScoredLayout",
    "branch_points",
    "candidate_specs",
    "check_size",
    "correlation",
    "cost_model",
    "cost_model_of",
    "describe",
    "estimate",
    "from_branch_points",
    "from_spec",
    "load_pairs",
    "load_treemtl_table",
    "parse_treemtl",
    "plot_pareto",
    "rank",
    "recommend",
    "task_weights",
    "unrank",
    "write_pairs",
    "write_single",
]
