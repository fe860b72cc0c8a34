"""Search runs that write specs, one sub-package per method. Searches return IR (or plain
data that becomes IR); they never export models themselves.

- `grouping`: task grouping under an inference budget (Standley et al.); torch-free;
- `treemtl`: the TreeMTL layout design space and recommender; torch-free at import;
- `conal`: CoNAL branch search and CoNAL-Pro (torch);
- `dag`: DAG topology search with flow-based reduction (torch; `dag.flow` is numpy).

The grouping API is re-exported here; importing this package stays torch-free and fast.

    >>> from mtlspec.search import load_table, select, to_spec
    >>> table = load_table("standley:setting1")
    >>> to_spec(select(table, 2.5), table, budget=2.5).budget.units
    2.5
"""

from typing import Any

from mtlspec.search.grouping import (
    Candidate,
    CandidateTable,
    Choice,
    Selection,
    baselines,
    evaluate,
    frontier,
    higher_order_approximation,
    load_table,
    make_table,
    parse_sweep,
    reassign,
    select,
    sweep,
)

__all__ = [
    "Candidate", "CandidateTable", "Choice", "Selection", "baselines", "evaluate", "frontier",
    "higher_order_approximation", "load_table", "make_table", "parse_sweep", "reassign", "select",
    "sweep", "to_spec",
]


def __getattr__(name: str) -> Any:
    if name == "to_spec":  # builds IR (pydantic): loaded on first use
        from mtlspec.search.grouping.spec import to_spec

        return to_spec
    raise AttributeError(f"module 'mtlspec.search' has no attribute {name!r}")
