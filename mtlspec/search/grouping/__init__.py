"""Task grouping (Standley et al.): choose networks that serve every task within a budget.

- `candidates`: the candidate table (networks, costs, values); `table`: reading it (CSV,
  JSON, the authors' TSV layout, shipped tables by name);
- `selection`: exact selection under a budget (dynamic programming over task subsets),
  Pareto fronts, re-serving tasks after an approximate selection;
- `report`: selection methods (optimal, HOA, ESA), budget sweeps, baselines, the plot;
- `spec`: a selection → a grouping spec.

Torch-free: `mtlspec group` selects without loading torch.

    >>> from mtlspec.search.grouping import load_table, select, to_spec
    >>> table = load_table("standley:setting1")
    >>> chosen = select(table, 2.5)
    >>> chosen.cost, round(chosen.total, 5)
    (2.5, 0.45076)
    >>> to_spec(chosen, table, budget=2.5).networks[0].name
    'A'
"""

from typing import Any

from mtlspec.search.grouping.report import (
    baselines,
    higher_order_approximation,
    parse_sweep,
    plot_tradeoff,
    selection_table,
    sweep,
)
from mtlspec.search.grouping.selection import (
    Choice,
    Selection,
    evaluate,
    frontier,
    reassign,
    select,
)
from mtlspec.search.grouping.table import (
    Candidate,
    CandidateTable,
    default_name,
    load_table,
    make_table,
)

__all__ = [
    "Candidate", "CandidateTable", "Choice", "Selection", "base_backbone", "baselines",
    "default_name", "evaluate", "frontier", "higher_order_approximation", "load_table",
    "make_table", "parse_sweep", "plot_tradeoff", "reassign", "select", "selection_table",
    "sweep", "to_spec",
]


def __getattr__(name: str) -> Any:
    # `spec` builds IR (pydantic): loaded on first use, so `mtlspec group --sweep` never loads it
    if name in ("base_backbone", "to_spec"):
        from mtlspec.search.grouping import spec

        return getattr(spec, name)
    raise AttributeError(f"module 'mtlspec.search.grouping' has no attribute {name!r}")
