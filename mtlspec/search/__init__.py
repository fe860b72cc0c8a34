"""Search runs that write specs: task grouping under an inference budget (Standley et al.).

Searches return IR (or plain data that becomes IR); they never build models themselves.

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
