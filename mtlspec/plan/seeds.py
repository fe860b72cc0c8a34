"""Several seeds of one training, in parallel through the plan executors, summarised as
mean ± std (`mtlspec train --seeds 0,1,2`).

`run_seeds` runs a module-level function once per job (one job per seed) on the local pool
and returns the outcomes in seed order; `summarize` turns the runs' JSON reports into
mean and standard deviation (sample std, n − 1; 0 for one seed) of every metric and of Δm.
No torch here: the workers import it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from typing import Any

from mtlspec.errors import MtlspecError
from mtlspec.plan.executors import ExecutorOptions, execute


def run_seeds(fn: Callable[[dict[str, Any]], dict[str, Any]], jobs: Sequence[dict[str, Any]],
              parallel: int | None = None, *,
              preload: Sequence[str] = ("torch",)) -> list[dict[str, Any]]:
    """`fn(job)` for every job, `parallel` at a time (one: in this process, one after the
    other); the results in the jobs' order. `preload`: modules the local pool's forkserver
    imports once for all workers.

    Raises:
        MtlspecError: the first failed job's error (a bad input fails every seed alike).

    Example:
        >>> run_seeds(dict, [{"seed": 0}, {"seed": 1}], parallel=1)
        [{'seed': 0}, {'seed': 1}]
    """
    workers = min(parallel or os.cpu_count() or 1, len(jobs))
    if workers == 1:
        return [fn(dict(job)) for job in jobs]
    results: dict[int, dict[str, Any]] = {}
    indexed = [dict(job, _index=i) for i, job in enumerate(jobs)]
    with closing(execute(_Call(fn), indexed, ExecutorOptions(workers=workers),
                         preload=preload)) as outcomes:
        for job, outcome in outcomes:
            if isinstance(outcome, MtlspecError):
                raise outcome
            if isinstance(outcome, BaseException):
                raise MtlspecError(f"seed {job.get('seed')}: {type(outcome).__name__}: "
                                   f"{outcome}") from outcome
            results[job["_index"]] = outcome
    return [results[i] for i in range(len(jobs))]


class _Call:
    """`fn` without the job's index (picklable: `fn` is module-level)."""

    def __init__(self, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.fn = fn

    def __call__(self, job: dict[str, Any]) -> dict[str, Any]:
        return self.fn({k: v for k, v in job.items() if k != "_index"})


def mean_std(values: Sequence[float]) -> dict[str, float]:
    """Mean and sample standard deviation.

    Example:
        >>> mean_std([1.0, 2.0, 3.0])
        {'mean': 2.0, 'std': 1.0}
    """
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return {"mean": mean, "std": math.sqrt(var)}


def summarize(reports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean ± std over seeds of every metric (val and test, last weights and best epoch's)
    and of Δm when the reports have it.

    Returns:
        {"seeds": [...], "metrics": {task: {metric: {"val": {mean, std}, "test": {...}}}},
         "best": {same, of the best epochs' weights}, "delta": {mean, std} (with baselines),
         "best_delta": {...}}

    Example:
        >>> r = [{"seed": s, "all_val_metrics": {"a": {"acc": v}},
        ...       "all_metrics": {"a": {"acc": v}}} for s, v in [(0, 0.5), (1, 0.7)]]
        >>> round(summarize(r)["metrics"]["a"]["acc"]["test"]["mean"], 3)
        0.6
    """
    first = reports[0]
    out: dict[str, Any] = {"seeds": [r.get("seed") for r in reports], "metrics": {}}
    for task, metrics in first["all_metrics"].items():
        out["metrics"][task] = {
            name: {split: mean_std([r[key][task][name] for r in reports])
                   for split, key in (("val", "all_val_metrics"), ("test", "all_metrics"))}
            for name in metrics}
    if all(r.get("best", {}).get("test_metrics") for r in reports):
        out["best"] = {
            task: {name: {split: mean_std([r["best"][key][task][name] for r in reports])
                          for split, key in (("val", "val_metrics"), ("test", "test_metrics"))}
                   for name in metrics}
            for task, metrics in first["best"]["test_metrics"].items()}
        out["best_epochs"] = [r["best"]["epoch"] for r in reports]
    if all("delta" in r for r in reports):
        out["delta"] = mean_std([r["delta"] for r in reports])
    if all("delta" in r.get("best", {}) for r in reports):
        out["best_delta"] = mean_std([r["best"]["delta"] for r in reports])
    return out
