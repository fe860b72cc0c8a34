"""DAG topology search: per-task topologies over a shared central network (torch).

- `supernet`: every state, edge and read-in/read-out weighted, one set per task;
- `stages`: warm-up, search (with the squeeze loss), reduction, fine-tune; resumable;
- `flow`: flow-based reduction of a task's weights to a topology (numpy), and baselines;
- `report`: reductions → a DAG spec, topology statistics.

    >>> from mtlspec.search.dag import central_edges
    >>> central_edges(3, 2)
    [(1, 2), (1, 3), (2, 3)]
"""

from mtlspec.search.dag.flow import (
    Reduction,
    TaskArch,
    central_edges,
    flow_reduce,
    random_reduce,
    reduce_all,
    threshold_reduce,
)
from mtlspec.search.dag.report import full_spec, spec_stats, to_dag_spec, topology_stats
from mtlspec.search.dag.stages import (
    DagSearchResult,
    SearchConfig,
    finetune,
    run_dag_search,
    search,
)
from mtlspec.search.dag.supernet import DagSupernet, transfer_weights

__all__ = [
    "DagSearchResult", "DagSupernet", "Reduction", "SearchConfig", "TaskArch", "central_edges",
    "finetune", "flow_reduce", "full_spec", "random_reduce", "reduce_all", "run_dag_search",
    "search", "spec_stats", "threshold_reduce", "to_dag_spec", "topology_stats",
    "transfer_weights",
]
