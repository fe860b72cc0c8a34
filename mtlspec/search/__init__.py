"""Search runs that write specs. Searches return IR (or plain data that becomes IR); they
never export models themselves.

- task grouping under an inference budget (Standley et al.): `grouping*`, re-exported here;
- the TreeMTL layout space and recommender: `layouts`, `pairs`, `recommend`, `plan`;
- CoNAL branch search: `conal`, `conal_pro`, `conal_spec`, `conflicts` (torch);
- DAG topology search: `dag`, `dag_stages`, `flow`, `dag_report` (torch, except `flow`).

Only the grouping API is re-exported: importing this package must stay torch-free and fast.

    >>> from mtlspec.search import load_table, select, to_spec  # doctest: +SKIP
    >>> table = load_table("results.txt")                       # doctest: +SKIP
    >>> spec = to_spec(select(table, 2.5), table, budget=2.5)   # doctest: +SKIP
"""

from mtlspec.search.grouping import (
    Choice,
    Selection,
    evaluate,
    frontier,
    reassign,
    select,
)
from mtlspec.search.grouping_report import (
    baselines,
    higher_order_approximation,
    parse_sweep,
    sweep,
)
from mtlspec.search.grouping_spec import to_spec
from mtlspec.search.grouping_table import Candidate, CandidateTable, load_table, make_table

__all__ = [
    "Candidate", "CandidateTable", "Choice", "Selection", "baselines", "evaluate", "frontier",
    "higher_order_approximation", "load_table", "make_table", "parse_sweep", "reassign", "select",
    "sweep", "to_spec",
]
