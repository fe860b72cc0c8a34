"""A training plan's results → the tables the searches read (`pairs.csv`, candidate tables).

`run_plan` calls `assemble_tables` once every entry of a plan has a result; it can also be
called on its own (`mtlspec run PLAN --tables-only`) after results were copied from elsewhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtlspec.errors import MtlspecError
from mtlspec.io import write_atomic

RESULTS_DIR = "results"
CANDIDATES = "candidates.csv"
CANDIDATES_TEST = "candidates_test.csv"
PAIRS = "pairs.csv"
_SAFE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+@=-]*\Z")


@dataclass(frozen=True)
class Plan:
    """A plan directory's manifest, checked.

    Attributes:
        kind: `pairs` or `grouping`.
        tasks: the plan's tasks in order.
        entries: manifest entries (dicts with at least `id`, `spec`, `tasks`, `width`).
        manifest: what `mtlspec.search.plan.load_manifest` returned (passed back to the
            recommender when `pairs.csv` is assembled).
    """

    kind: str
    tasks: list[str]
    entries: list[dict[str, Any]]
    manifest: Any


def _as_dict(entry: Any) -> dict[str, Any]:
    if isinstance(entry, Mapping):
        return dict(entry)
    if hasattr(entry, "model_dump"):
        return entry.model_dump()
    return dict(vars(entry))


def _field(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, Mapping) else getattr(obj, name)


def load_plan(plan_dir: str | Path) -> Plan:
    """Read and check a plan directory's `manifest.json`.

    Args:
        plan_dir: the directory `mtlspec recommend plan` or `mtlspec group plan` wrote.

    Returns:
        The plan.

    Raises:
        MtlspecError: no manifest, an unknown kind, an id that is not a safe file name or
            appears twice, or a spec path outside the directory.

    Example:
        >>> load_plan("plan/").kind  # doctest: +SKIP
        'grouping'
    """
    from mtlspec.search.plan import load_manifest

    plan_dir = Path(plan_dir)
    if not (plan_dir / "manifest.json").is_file():
        raise MtlspecError(f"{plan_dir} holds no manifest.json; write a plan first with "
                           "`mtlspec recommend plan` or `mtlspec group plan`")
    manifest = load_manifest(plan_dir)
    kind = _field(manifest, "kind")
    if kind not in ("pairs", "grouping"):
        raise MtlspecError(f"{plan_dir}/manifest.json: unknown plan kind `{kind}`")
    entries = [_as_dict(e) for e in _field(manifest, "entries")]
    seen: set[str] = set()
    for entry in entries:
        ident = str(entry["id"])
        if not _SAFE_ID.match(ident) or ident in seen:
            problem = "appears twice" if ident in seen else "is not a safe file name"
            raise MtlspecError(f"{plan_dir}/manifest.json: entry id `{ident}` {problem}")
        seen.add(ident)
        spec = (plan_dir / entry["spec"]).resolve()
        if plan_dir.resolve() not in spec.parents:
            raise MtlspecError(f"{plan_dir}/manifest.json: entry `{ident}`: spec "
                               f"`{entry['spec']}` lies outside the plan directory")
    tasks = list(_field(manifest, "tasks"))
    return Plan(kind, tasks, entries, manifest)


def load_results(plan_dir: str | Path, plan: Plan) -> dict[str, dict[str, Any]]:
    """Every entry's result record, by id.

    Raises:
        MtlspecError: a result is missing or unreadable (the message names how many).
    """
    plan_dir = Path(plan_dir)
    results, missing = {}, []
    for entry in plan.entries:
        path = plan_dir / RESULTS_DIR / f"{entry['id']}.json"
        try:
            results[entry["id"]] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            missing.append(entry["id"])
    if missing:
        raise MtlspecError(f"{plan_dir}: {len(missing)} of {len(plan.entries)} runs have no "
                           f"result yet (first: {missing[0]}); run `mtlspec run {plan_dir}`")
    return results


def directions(results: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Task → `max` or `min`, as the runs recorded it (a task's direction is one everywhere)."""
    out: dict[str, str] = {}
    for record in results.values():
        for task, way in record["directions"].items():
            if out.setdefault(task, way) != way:
                raise MtlspecError(f"task `{task}` is scored both ways (max and min) in results")
    return out


def candidate_csv(plan: Plan, results: Mapping[str, Mapping[str, Any]], split: str) -> str:
    """The grouping candidate table (`mtlspec.search.grouping.table`'s CSV) for one split.

    One row per trained network: its name (the tasks joined by `+`, `@width` when not 1),
    its cost in units of one full-width network (= its width, the `units` a grouping spec's
    budget counts), its width, and its metric for each task it trains.

    Args:
        plan: a `grouping` plan; results: every entry's record; split: `val` or `test`.

    Returns:
        The CSV text (`direction: max` when every metric is higher-is-better, else `min`).

    Raises:
        MtlspecError: tasks scored in both directions (one table holds one direction).

    Example:
        >>> candidate_csv(plan, load_results("plan/", plan), "val")  # doctest: +SKIP
    """
    from mtlspec.search.grouping.table import default_name

    ways = directions(results)
    kinds = sorted(set(ways.values()))
    if len(kinds) != 1:
        mixed = ", ".join(f"{t} ({w})" for t, w in ways.items())
        raise MtlspecError(f"a candidate table holds one direction, but the tasks are scored "
                           f"both ways: {mixed}", )
    lines = ["# cost_unit: units", f"# direction: {kinds[0]}",
             f"# values: {split} split",
             ",".join(["network", "cost", "width", *plan.tasks])]
    for entry in plan.entries:
        record = results[entry["id"]]
        width = float(entry.get("width") or 1.0)
        order = [t for t in plan.tasks if t in record[split]]
        cells = ["" if t not in record[split] else repr(float(record[split][t]))
                 for t in plan.tasks]
        lines.append(",".join([default_name(order, width), f"{width:g}", f"{width:g}",
                               *cells]))
    return "\n".join(lines) + "\n"


def check_directions(plan: Plan, higher_is_better: Mapping[str, bool]) -> None:
    """Before training: a grouping plan's tasks must all be scored one way.

    Raises:
        MtlspecError: some tasks are higher-is-better and others lower-is-better.
    """
    if plan.kind != "grouping":
        return
    ways = {higher_is_better[t] for t in plan.tasks}
    if len(ways) > 1:
        raise MtlspecError(
            "a grouping plan needs tasks scored one way (all accuracies, or all errors): "
            + ", ".join(f"{t} ({'max' if higher_is_better[t] else 'min'})" for t in plan.tasks))


def assemble_tables(plan_dir: str | Path, plan: Plan) -> list[Path]:
    """Write the plan's tables from its results.

    Returns:
        The files written: `pairs.csv` for a pairs plan; `candidates.csv` (validation) and
        `candidates_test.csv` (test) for a grouping plan.

    Raises:
        MtlspecError: a result is missing.

    Example:
        >>> assemble_tables("plan/", load_plan("plan/"))  # doctest: +SKIP
        [PosixPath('plan/candidates.csv'), PosixPath('plan/candidates_test.csv')]
    """
    plan_dir = Path(plan_dir)
    results = load_results(plan_dir, plan)
    if plan.kind == "grouping":
        out = [plan_dir / CANDIDATES, plan_dir / CANDIDATES_TEST]
        for path, split in zip(out, ("val", "test"), strict=True):
            write_atomic(path, candidate_csv(plan, results, split))
        return out
    return [_write_pairs(plan_dir, plan, results)]


def _write_pairs(plan_dir: Path, plan: Plan, results: Mapping[str, Mapping[str, Any]]) -> Path:
    """`pairs.csv` from the validation metrics (the recommender chooses on validation data)."""
    from mtlspec.search.plan import pairs_from_results
    from mtlspec.search.treemtl.pairs import write_pairs

    names = {n for record in results.values() for n in record["metric_names"].values()}
    metric = names.pop() if len(names) == 1 else "metric"
    higher = {t: way == "max" for t, way in directions(results).items()}
    table = pairs_from_results(plan.manifest, {k: r["val"] for k, r in results.items()},
                               higher, metric=metric)
    path = plan_dir / PAIRS
    write_pairs(path, table)
    return path
