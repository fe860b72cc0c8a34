"""TreeMTL: the layout design space of a tree over B blocks and the layout recommender.

- `layouts`: every layout of T tasks over B blocks with a stable id (rank/unrank, exact
  count, TreeMTL's printed form);
- `pairs`: the 2-task results table (`pairs.csv`, TreeMTL's own table, shipped tables);
- `recommender`: estimate every layout from the 2-task results, filter by budget, rank;
- `report`: what `mtlspec recommend` writes (top-k specs, JSON, Pareto plot, evaluation).

Importing this package loads numpy, never torch (`cost_model` compiles the base spec lazily).

    >>> from mtlspec.search.treemtl import load_pairs, unrank, describe
    >>> load_pairs("treemtl:nyuv2-resnet34").tasks
    ('segment', 'normal', 'depth')
    >>> describe(unrank(3, 2, 1), ["segment", "normal", "depth"])
    '{segment, normal, depth} | {segment, normal} {depth}'
"""

from mtlspec.search.treemtl.layouts import (
    Layout,
    branch_points,
    check_size,
    describe,
    from_branch_points,
    from_spec,
    parse_treemtl,
    rank,
    unrank,
)
from mtlspec.search.treemtl.pairs import (
    PairsTable,
    load_pairs,
    load_treemtl_table,
    write_pairs,
    write_single,
)
from mtlspec.search.treemtl.recommender import (
    CostModel,
    Recommendation,
    ScoredLayout,
    cost_model,
    cost_model_of,
    recommend,
    task_weights,
)
from mtlspec.search.treemtl.report import candidate_specs, correlation, plot_pareto

__all__ = [
    "CostModel", "Layout", "PairsTable", "Recommendation", "ScoredLayout", "branch_points",
    "candidate_specs", "check_size", "correlation", "cost_model", "cost_model_of", "describe",
    "from_branch_points", "from_spec", "load_pairs", "load_treemtl_table", "parse_treemtl",
    "plot_pareto", "rank", "recommend", "task_weights", "unrank", "write_pairs", "write_single",
]
