"""Training plans: the specs a user must train, and a `manifest.json` that lists them.

A plan folder holds one spec file per entry and `manifest.json` (version 1)::

    {"version": 1, "kind": "pairs" | "grouping", "base": "specs/base.mtl",
     "tasks": ["segment", "normal", "depth"], "blocks": 5,
     "entries": [{"id": "segment", "spec": "segment.mtl", "tasks": ["segment"],
                  "branch_point": 0, "width": 1.0, "gflops": 11.3, "params": 26000000}, ...]}

Paths in `spec` are relative to the folder. `write_plan` and `load_manifest` are generic (any
`kind`); `pairs_plan` makes the recommender's plan. **Pairs plan**: for every pair (a, b) and
branch point b = 1..B, a 2-task spec whose tasks share the first b blocks (`{a, b}` for rows
1..b, `{a} {b}` after); b = 0 (two separate networks) is the same for every pair, so instead of
C(T,2) such specs the plan holds T single-task specs (tasks=[t], branch_point=0): their results
are the single-task baselines *and* every pair's branch-0 row. Total T + C(T,2)·B trainings
instead of C(T,2)·(B+1). `pairs_from_results` turns the trained metrics back into a
`PairsTable` (write it with `pairs.write_pairs`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mtlspec.errors import MtlspecError
from mtlspec.io import write_atomic
from mtlspec.search.treemtl.pairs import PairsTable, make_table
from mtlspec.spec import ir

MANIFEST = "manifest.json"


class Entry(BaseModel):
    """One spec to train."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    spec: str = Field(min_length=1)
    tasks: list[str] = Field(min_length=1)
    branch_point: int | None = None
    width: float = 1.0
    gflops: float
    params: int


class Manifest(BaseModel):
    """A plan's manifest (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    kind: Literal["pairs", "grouping"]
    base: str
    tasks: list[str] = Field(min_length=1)
    blocks: int | None = None
    entries: list[Entry]


def write_plan(directory: str | Path, manifest: Manifest, specs: Mapping[str, str]) -> Path:
    """Write each spec file and then `manifest.json` into `directory` (created), atomically.

    Args:
        directory: the plan folder.
        manifest: the manifest; every entry's `spec` must be a key of `specs`.
        specs: relative file name → spec text.

    Returns:
        The manifest's path.

    Raises:
        MtlspecError: an entry without spec text, a file name leaving the folder, or the
            folder cannot be written.

    Example:
        >>> write_plan("plan", *pairs_plan(spec, cost_model(spec)))  # doctest: +SKIP
    """
    root = Path(directory)
    for entry in manifest.entries:
        if entry.spec not in specs:
            raise MtlspecError(f"plan entry {entry.id}: no spec text for {entry.spec}")
    for name in specs:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise MtlspecError(f"plan file name {name!r} must stay inside the plan folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MtlspecError(f"cannot create {root}: {err.strerror or err}") from None
    for name, text in specs.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(root / name, text)
    path = root / MANIFEST
    write_atomic(path, manifest.model_dump_json(indent=2) + "\n")
    return path


def load_manifest(directory: str | Path) -> Manifest:
    """Read and check `manifest.json` of a plan folder (or the file itself).

    Raises:
        MtlspecError: missing or invalid JSON, a field of the wrong type (named), duplicate
            ids, an entry's task outside the plan's tasks, or a spec file that is missing.
    """
    path = Path(directory)
    path = path / MANIFEST if path.is_dir() else path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise MtlspecError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        manifest = Manifest.model_validate_json(text)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'manifest'}: {e['msg']}"
            for e in err.errors()[:5])
        raise MtlspecError(f"{path}: invalid manifest: {problems}") from None
    seen: set[str] = set()
    for entry in manifest.entries:
        if entry.id in seen:
            raise MtlspecError(f"{path}: entry id {entry.id!r} is used twice")
        seen.add(entry.id)
        unknown = sorted(set(entry.tasks) - set(manifest.tasks))
        if unknown:
            raise MtlspecError(f"{path}: entry {entry.id}: unknown task {unknown[0]}")
        if not (path.parent / entry.spec).is_file():
            raise MtlspecError(f"{path}: entry {entry.id}: spec file {entry.spec} is missing")
    return manifest


def _two_task(base: ir.TreeSpec, tasks: Sequence[str], branch: int, blocks: int, name: str):
    heads = [t for t in base.tasks if t.name in tasks]
    shared = frozenset([frozenset(tasks)])
    apart = frozenset(frozenset([t]) for t in tasks)
    rows = tuple(shared if d < branch else apart for d in range(blocks))
    return base.model_copy(update={"name": name, "tasks": tuple(heads), "layout": rows,
                                   "budget": None, "weights": None})


def pairs_plan(base: ir.TreeSpec, model, *, base_name: str = "base.mtl"
               ) -> tuple[Manifest, dict[str, str]]:
    """The recommender's training plan: T single-task + C(T,2)·B two-task specs.

    Args:
        base: the base tree spec (backbone, heads, input; its layout is ignored).
        model: its `recommend.CostModel` (for B and the entries' costs).
        base_name: recorded in the manifest as `base`.

    Returns:
        (manifest, {file name: spec text}) for `write_plan`.
    """
    from mtlspec.search.treemtl.recommender import layout_cost
    from mtlspec.spec import format as format_spec
    from mtlspec.spec import validate

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
                             branch_point=branch, gflops=flops / 1e9, params=params))
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
        row = those same results); `pairs.write_pairs(path, table)` writes `pairs.csv`.

    Raises:
        MtlspecError: not a pairs manifest, or a missing entry, task result or direction.

    Example:
        >>> plan = load_manifest("plan")  # doctest: +SKIP
        >>> table = pairs_from_results(plan, results, {"left": True})  # doctest: +SKIP
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
