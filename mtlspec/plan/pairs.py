"""The recommender's training plan (TreeMTL): the specs whose results fill `pairs.csv`.

For every pair (a, b) and branch point b = 1..B, a 2-task spec whose tasks share the first b
blocks (`{a, b}` for rows 1..b, `{a} {b}` after); b = 0 (two separate networks) is the same
for every pair, so instead of C(T,2) such specs the plan holds T single-task specs (tasks=[t],
branch_point=0): their results are the single-task baselines *and* every pair's branch-0 row.
Total T + C(T,2)·B trainings instead of C(T,2)·(B+1). `pairs_from_results` turns the trained
metrics back into a `PairsTable` (write it with `mtlspec.search.treemtl.write_pairs`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from mtlspec.errors import MtlspecError
from mtlspec.plan.manifest import Entry, Manifest
from mtlspec.search.treemtl.pairs_table import PairsTable, make_table
from mtlspec.search.treemtl.recommender import CostModel, layout_cost
from mtlspec.spec import format as format_spec
from mtlspec.spec import ir, validate


def _two_task(base: ir.TreeSpec, tasks: Sequence[str], branch: int, blocks: int, name: str):
    heads = [t for t in base.tasks if t.name in tasks]
    shared = frozenset([frozenset(tasks)])
    apart = frozenset(frozenset([t]) for t in tasks)
    rows = tuple(shared if d < branch else apart for d in range(blocks))
    return base.model_copy(update={"name": name, "tasks": tuple(heads), "layout": rows,
                                   "budget": None, "weights": None})


def pairs_plan(base: ir.TreeSpec, model: CostModel, *, base_name: str = "base.mtl"
               ) -> tuple[Manifest, dict[str, str]]:
    """The recommender's training plan: T single-task + C(T,2)·B two-task specs.

    Args:
        base: the base tree spec (backbone, heads, input; its layout is ignored).
        model: its `mtlspec.search.treemtl.CostModel` (for B and the entries' costs).
        base_name: recorded in the manifest as `base`.

    Returns:
        (manifest, {file name: spec text}) for `write_plan`.
    """
    blocks, names = model.blocks, [t.name for t in base.tasks]
    jobs = [([t], 0) for t in names]
    jobs += [([a, b], br) for a, b in itertools.combinations(names, 2)
             for br in range(1, blocks + 1)]
    entries, texts = [], {}
    for tasks, branch in jobs:
        ident = "+".join(tasks) + (f"@{branch}" if len(tasks) > 1 else "")
        name = "_".join(tasks) + (f"_b{branch}" if len(tasks) > 1 else "_single")
        spec = validate(_two_task(base, tasks, branch, blocks, name))
        sub = type(model)(tuple(tasks), model.block_flops, model.block_params,
                          {t: model.head_flops[t] for t in tasks},
                          {t: model.head_params[t] for t in tasks})
        flops, params = layout_cost(
            tuple(tuple(sorted((frozenset(tasks.index(t) for t in g) for g in row), key=min))
                  for row in spec.layout), sub)
        texts[f"{name}.mtl"] = format_spec(spec)
        entries.append(Entry(id=ident, spec=f"{name}.mtl", tasks=list(tasks),
                             branch_point=branch, gmacs=flops / 1e9, params=params))
    return Manifest(kind="pairs", base=base_name, tasks=names, blocks=blocks,
                    entries=entries), texts


def pairs_from_results(manifest: Manifest, results: Mapping[str, Mapping[str, float]],
                       directions: Mapping[str, bool], *, metric: str = "metric") -> PairsTable:
    """Assemble the 2-task table from a trained pairs plan.

    Args:
        manifest: a `kind="pairs"` manifest (from `pairs_plan` / `load_manifest`).
        results: entry id → {task: measured metric} for every entry.
        directions: task → True when higher is better.
        metric: the metric's name in the table.

    Returns:
        A `PairsTable` (single-task baselines = the single-task entries; each pair's branch 0
        row = those same results); `pairs_table.write_pairs(path, table)` writes `pairs.csv`.

    Raises:
        MtlspecError: not a pairs manifest, or a missing entry, task result or direction.

    Example:
        >>> def entry(tasks, branch):
        ...     ident = "+".join(tasks) + (f"@{branch}" if len(tasks) > 1 else "")
        ...     return Entry(id=ident, spec=f"{ident}.mtl", tasks=tasks, branch_point=branch,
        ...                  gmacs=1.0, params=1)
        >>> plan = Manifest(kind="pairs", base="b.mtl", tasks=["a", "b"], blocks=1,
        ...                 entries=[entry(["a"], 0), entry(["b"], 0), entry(["a", "b"], 1)])
        >>> results = {"a": {"a": 0.8}, "b": {"b": 0.5}, "a+b@1": {"a": 0.88, "b": 0.45}}
        >>> table = pairs_from_results(plan, results, {"a": True, "b": True})
        >>> [round(float(d), 6) for d in table.sequence("a", "b")]  # Δ_a % at branch 0, 1
        [0.0, 10.0]
    """
    if manifest.kind != "pairs":
        raise MtlspecError(f"a {manifest.kind} manifest is not a 2-task plan")
    single: dict[str, dict[str, float]] = {}
    measured: dict[tuple[str, str, int], dict[str, dict[str, float]]] = {}
    for entry in manifest.entries:
        got = results.get(entry.id)
        if got is None:
            raise MtlspecError(f"no results for plan entry {entry.id}")
        values = {}
        for task in entry.tasks:
            if task not in got:
                raise MtlspecError(f"plan entry {entry.id}: no result for task {task}")
            values[task] = {metric: float(got[task])}
        if len(entry.tasks) == 1:
            single[entry.tasks[0]] = values[entry.tasks[0]]
        else:
            a, b = entry.tasks
            measured[(a, b, int(entry.branch_point or 0))] = values
    for a, b in itertools.combinations(manifest.tasks, 2):
        if a in single and b in single:
            measured.setdefault((a, b, 0), {a: single[a], b: single[b]})
    missing = [t for t in manifest.tasks if t not in directions]
    if missing:
        raise MtlspecError(f"no direction (higher is better?) for task {missing[0]}")
    higher = {t: {metric: bool(directions[t])} for t in manifest.tasks}
    return make_table(manifest.tasks, measured, single, higher, source="plan results")
