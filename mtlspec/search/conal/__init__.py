"""CoNAL branch search (and CoNAL-Pro): where each task leaves the shared trunk (torch).

- `supernet`: the base backbone's blocks, all-shared and per task, mixed by α per branch point;
- `stage`: one bi-level training of a supernet with conflict noticing (Eq. 5);
- `pro`: CoNAL-Pro's progressive stages, one per block from the last;
- `search`: `search_conal`, base spec + data → the searched tree spec;
- `spec`: branch points → tree layouts; `import_conal` reads the authors' result files;
- `checkpoint`: the search's resumable state; `conflicts`: gradient-conflict diagnostics.

    >>> from mtlspec.search.conal import layout_from_branch_points
    >>> rows = layout_from_branch_points(["a", "b"], {"a": 1, "b": 1}, 2)
    >>> [sorted(map(sorted, row)) for row in rows]
    [[['a', 'b']], [['a'], ['b']]]
"""

from mtlspec.search.conal.conflicts import dataset_batches, gradient_conflicts, shared_modules
from mtlspec.search.conal.pro import merge_row, search_pro
from mtlspec.search.conal.search import ConalResult, search_conal
from mtlspec.search.conal.spec import import_conal, layout_from_branch_points, tree_spec
from mtlspec.search.conal.stage import SearchConfig, StageResult, conflict_mask, run_stage
from mtlspec.search.conal.supernet import ConalSupernet, build_supernet

__all__ = [
    "ConalResult", "ConalSupernet", "SearchConfig", "StageResult", "build_supernet",
    "conflict_mask", "dataset_batches", "gradient_conflicts", "import_conal",
    "layout_from_branch_points", "merge_row", "run_stage", "search_conal", "search_pro",
    "shared_modules", "tree_spec",
]
