"""A training plan's results → the tables the searches read (`pairs.csv`, candidate tables).

`run_plan` calls `assemble_tables` once every entry of a plan has a result; it can also be
called on its own (`mtlspec run PLAN --tables-only`) after results were copied from elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mtlspec.errors import CheckFailed, MtlspecError
from mtlspec.inputs import load_json, validate_json
from mtlspec.io import write_atomic
from mtlspec.plan.manifest import Manifest
from mtlspec.plan.pairs import pairs_from_results
from mtlspec.search.grouping.candidates import default_name
from mtlspec.search.treemtl.pairs_table import write_pairs

RESULTS_DIR = "results"
CANDIDATES = "candidates.csv"
CANDIDATES_TEST = "candidates_test.csv"
PAIRS = "pairs.csv"


def result_path(plan_dir: str | Path, entry_id: str) -> Path:
    """Where the result of one entry is written: `results/<id>.json`.

    Example:
        >>> result_path("plan", "left+right").as_posix()
        'plan/results/left+right.json'
    """
    return Path(plan_dir) / RESULTS_DIR / f"{entry_id}.json"


def load_results(plan_dir: str | Path, manifest: Manifest) -> dict[str, dict[str, Any]]:
    """Every entry's result record, by id.

    Raises:
        MtlspecError: a result is missing or unreadable (the message names how many).
    """
    results, missing = {}, []
    for entry in manifest.entries:
        path = result_path(plan_dir, entry.id)
        if not path.is_file():
            missing.append(entry.id)
            continue
        results[entry.id] = check_result(entry.id, load_json(path, "result", allow_nan=True),
                                         str(path))
    if missing:
        raise MtlspecError(f"{plan_dir}: {len(missing)} of {len(manifest.entries)} runs have "
                           f"no result yet (first: {missing[0]}); run `mtlspec run {plan_dir}`")
    return results


class _Result(BaseModel):
    """The fields of a result record the tables read (others are kept as they are)."""

    model_config = ConfigDict(extra="allow")
    val: dict[str, float]
    test: dict[str, float] = Field(default_factory=dict)
    directions: dict[str, Literal["max", "min"]]
    metric_names: dict[str, str] = Field(default_factory=dict)


def check_result(entry_id: str, record: Any, source: str) -> dict[str, Any]:
    """A result record with numeric metrics and known directions.

    Raises:
        MtlspecError: a field missing or of the wrong type (exit 2, naming the file).
        CheckFailed: a metric that is NaN or infinite (exit 1, naming the entry).

    Example:
        >>> check_result("a", {"val": {"a": float("nan")}, "directions": {"a": "max"}}, "r")
        Traceback (most recent call last):
        ...
        mtlspec.errors.CheckFailed: entry `a`: val metric of `a` is nan (training diverged?); ...
    """
    checked = validate_json(record, _Result, source)
    for split in ("val", "test"):
        for task, value in getattr(checked, split).items():
            if not math.isfinite(value):
                raise CheckFailed(f"entry `{entry_id}`: {split} metric of `{task}` is {value} "
                                  "(training diverged?); retrain it with `mtlspec run "
                                  "--force` or other settings")
    return {**record, **checked.model_dump(include={"val", "test", "directions",
                                                    "metric_names"})}


def directions(results: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Task → `max` or `min`, as the runs recorded it (a task's direction is one everywhere).

    Example:
        >>> directions({"a": {"directions": {"x": "max"}}, "b": {"directions": {"y": "min"}}})
        {'x': 'max', 'y': 'min'}
    """
    out: dict[str, str] = {}
    for record in results.values():
        for task, way in record["directions"].items():
            if out.setdefault(task, way) != way:
                raise MtlspecError(f"task `{task}` is scored both ways (max and min) in results")
    return out


def candidate_csv(manifest: Manifest, results: Mapping[str, Mapping[str, Any]],
                  split: str) -> str:
    """The grouping candidate table (`mtlspec.search.grouping.table`'s CSV) for one split.

    One row per trained network: its name (the tasks joined by `+`, `@width` when not 1),
    its cost in units of one full-width network (= its width, the `units` a grouping spec's
    budget counts), its width, and its metric for each task it trains.

    Args:
        manifest: a `grouping` plan; results: every entry's record; split: `val` or `test`.

    Returns:
        The CSV text (`direction: max` when every metric is higher-is-better, `min` when every
        one is lower-is-better). Tasks scored both ways (dense tasks: mIoU ↑ and depth error ↓)
        become one direction: each value is its relative change in % against the task's
        full-width single-task network, + when better (`direction: max`).

    Raises:
        MtlspecError: mixed directions without a single-task network, or one scoring 0.

    Example:
        >>> from mtlspec.plan.manifest import Entry
        >>> plan = Manifest(kind="grouping", base="b.mtl", tasks=["a", "b"], entries=[
        ...     Entry(id="a+b", spec="a+b.mtl", tasks=["a", "b"], gmacs=1, params=1),
        ...     Entry(id="a@0.5", spec="a@0.5.mtl", tasks=["a"], width=0.5, gmacs=1,
        ...           params=1)])
        >>> runs = {"a+b": {"val": {"a": 0.9, "b": 0.8}, "directions": {"a": "max", "b": "max"}},
        ...         "a@0.5": {"val": {"a": 0.85}, "directions": {"a": "max"}}}
        >>> print(candidate_csv(plan, runs, "val"), end="")
        # cost_unit: units
        # direction: max
        # values: val split
        network,cost,width,a,b
        a+b,1,1,0.9,0.8
        a@0.5,0.5,0.5,0.85,
    """
    ways = directions(results)
    kinds = sorted(set(ways.values()))
    value = _relative(manifest, results, split, ways) if len(kinds) > 1 else None
    note = "" if value is None else ("; % change vs each task's single-task network (tasks "
                                     "scored both ways)")
    lines = ["# cost_unit: units", f"# direction: {'max' if value else kinds[0]}",
             f"# values: {split} split{note}",
             ",".join(["network", "cost", "width", *manifest.tasks])]
    for entry in manifest.entries:
        record = results[entry.id]
        width = float(entry.width or 1.0)
        order = [t for t in manifest.tasks if t in record[split]]
        cells = ["" if t not in record[split] else
                 repr(float(record[split][t]) if value is None else value(t, record[split][t]))
                 for t in manifest.tasks]
        lines.append(",".join([default_name(order, width), f"{width:g}", f"{width:g}",
                               *cells]))
    return "\n".join(lines) + "\n"


def _relative(manifest: Manifest, results: Mapping[str, Mapping[str, Any]], split: str,
              ways: Mapping[str, str]):
    """value(task, metric) → ±(metric − single) / |single| · 100 against the task's full-width
    single-task network (+ when better)."""
    single: dict[str, float] = {}
    for entry in manifest.entries:
        if len(entry.tasks) == 1 and float(entry.width or 1.0) == 1.0:
            single[entry.tasks[0]] = float(results[entry.id][split][entry.tasks[0]])
    for task in manifest.tasks:
        if task not in single:
            raise MtlspecError(f"tasks scored both ways need each task's single-task network "
                               f"to compare against; the plan has none for {task}")
        if single[task] == 0:
            raise MtlspecError(f"task {task}: its single-task network scores 0 on the {split} "
                               "split; the relative change is undefined")

    def value(task: str, metric: float) -> float:
        sign = 1.0 if ways[task] == "max" else -1.0
        return sign * (float(metric) - single[task]) / abs(single[task]) * 100 + 0.0  # no -0

    return value


def check_directions(manifest: Manifest, higher_is_better: Mapping[str, bool]) -> None:
    """Before training: a grouping plan whose tasks are scored both ways must hold each task's
    full-width single-task network (its table compares every value against it).

    Raises:
        MtlspecError: mixed directions and a task without its single-task network.
    """
    if manifest.kind != "grouping" or len({higher_is_better[t] for t in manifest.tasks}) < 2:
        return
    alone = {e.tasks[0] for e in manifest.entries
             if len(e.tasks) == 1 and float(e.width or 1.0) == 1.0}
    missing = [t for t in manifest.tasks if t not in alone]
    if missing:
        raise MtlspecError(
            "a grouping plan with tasks scored both ways ("
            + ", ".join(f"{t} ({'max' if higher_is_better[t] else 'min'})"
                        for t in manifest.tasks)
            + f") needs each task's single-task network; none for {', '.join(missing)}")


def assemble_tables(plan_dir: str | Path, manifest: Manifest) -> list[Path]:
    """Write the plan's tables from its results.

    Returns:
        The files written: `pairs.csv` for a pairs plan; `candidates.csv` (validation) and
        `candidates_test.csv` (test) for a grouping plan.

    Raises:
        MtlspecError: a result is missing.

    Example:
        >>> import json, tempfile
        >>> from mtlspec.plan.manifest import Entry
        >>> plan = Manifest(kind="grouping", base="b.mtl", tasks=["a"], entries=[
        ...     Entry(id="a", spec="a.mtl", tasks=["a"], gmacs=1, params=1)])
        >>> record = {"val": {"a": 0.9}, "test": {"a": 0.8}, "directions": {"a": "max"}}
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     result_path(folder, "a").parent.mkdir()
        ...     _ = result_path(folder, "a").write_text(json.dumps(record))
        ...     [path.name for path in assemble_tables(folder, plan)]
        ['candidates.csv', 'candidates_test.csv']
    """
    plan_dir = Path(plan_dir)
    results = load_results(plan_dir, manifest)
    if manifest.kind == "grouping":
        out = [plan_dir / CANDIDATES, plan_dir / CANDIDATES_TEST]
        for path, split in zip(out, ("val", "test"), strict=True):
            write_atomic(path, candidate_csv(manifest, results, split))
        return out
    return [_write_pairs(plan_dir, manifest, results)]


def _write_pairs(plan_dir: Path, manifest: Manifest,
                 results: Mapping[str, Mapping[str, Any]]) -> Path:
    """`pairs.csv` from the validation metrics (the recommender chooses on validation data)."""
    names = {n for record in results.values() for n in record["metric_names"].values()}
    metric = names.pop() if len(names) == 1 else "metric"
    higher = {t: way == "max" for t, way in directions(results).items()}
    table = pairs_from_results(manifest, {k: r["val"] for k, r in results.items()},
                               higher, metric=metric)
    path = plan_dir / PAIRS
    write_pairs(path, table)
    return path
