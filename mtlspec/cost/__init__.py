"""What a compiled model costs (`analytic`: MACs and parameters per node, per task, total)
and whether it fits a budget (`budget`: one `Budget` check for `mtlspec check`, the pytest
plugin and the recommender, and the JSON of reports and checks).

`budget` is torch-free and loads with this package; the analytic reports (torch) load on
first use, so the torch-free recommender can import `Budget` from here.

    >>> from mtlspec import load_model
    >>> from mtlspec.cost import Budget, budget_limits, cost
    >>> model = load_model("specs/nyuv2_dag.mtl")
    >>> [lim.over for lim in budget_limits("dag.mtl", model.spec, cost(model), max_gmacs=1)]
    [False, False]
"""

from typing import Any

from mtlspec.cost.budget import (
    Budget,
    Limit,
    budget_limits,
    check_budget,
    cost_json,
    percent,
)

_ANALYTIC = ("CostReport", "NodeCost", "cost", "dag_cost", "fvcore_total", "grouping_cost",
             "tree_cost")

__all__ = ["Budget", "Limit", "budget_limits", "check_budget", "cost_json", "percent",
           *_ANALYTIC]


def __getattr__(name: str) -> Any:
    if name in _ANALYTIC:  # torch loads here, not when `Budget` is imported
        from mtlspec.cost import analytic

        return getattr(analytic, name)
    raise AttributeError(f"module 'mtlspec.cost' has no attribute {name!r}")
