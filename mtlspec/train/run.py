"""Run a training plan: train and evaluate every spec of a manifest, then assemble its table.

A plan directory (written by `mtlspec recommend plan` or `mtlspec group plan`) holds spec files
and `manifest.json`. `run_plan` trains each entry's spec on a data set with
`mtlspec.train.loop.train` on an executor (`mtlspec.train.executors`) and writes
`results/<id>.json` atomically the moment that run finishes. A result file records the run's
settings and the spec's hash; on a restart, entries whose result matches are skipped, so a
killed run loses at most the runs that were in flight. When every entry has a result, the
plan's table is written next to the manifest:

- kind `pairs`: `pairs.csv`, the recommender's two-task format (`mtlspec recommend --pairs`);
- kind `grouping`: `candidates.csv` (validation split; what `mtlspec group --table` selects
  on) and `candidates_test.csv` (test split; `mtlspec group --eval`).

Result file (`results/<id>.json`)::

    {"id": "left+right", "spec": "left+right.mtl", "spec_sha256": "…", "tasks": [...],
     "settings": {"data": "multidigits", "epochs": 3, ...},
     "val": {"left": 0.91, ...}, "test": {...},
     "directions": {"left": "max", ...}, "metric_names": {"left": "accuracy", ...},
     "seconds": 12.3, "steps": 90}
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mtlspec.errors import MtlspecError
from mtlspec.io import write_atomic
from mtlspec.train.executors import ExecutorOptions, check_options, execute
from mtlspec.train.progress import progress_bar
from mtlspec.train.tables import RESULTS_DIR, assemble_tables, check_directions, load_plan

# What every training imports: loaded once by the local pool's forkserver, not per worker.
_PRELOAD = ("torch", "sklearn.datasets", "mtlspec.compile.tree", "mtlspec.compile.grouping",
            "mtlspec.compile.dag", "mtlspec.train.data", "mtlspec.train.loop",
            "mtlspec.train.run")


@dataclass(frozen=True)
class RunSettings:
    """What every run of a plan shares; a result made with other settings is not reused.

    Attributes:
        data: the data set name (`mtlspec.train.data.list_datasets()`).
        data_options: extra `load_data` arguments (e.g. {"train_size": 300}).
        epochs, batch_size, lr, seed, weighting: passed to `train`.
    """

    data: str = "multidigits"
    data_options: Mapping[str, Any] = field(default_factory=dict)
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    weighting: str = "uniform"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["data_options"] = dict(sorted(self.data_options.items()))
        return out


@dataclass
class RunReport:
    """What `run_plan` did.

    Attributes:
        plan: the plan directory; kind: `pairs` or `grouping`.
        trained: ids trained now; skipped: ids whose results were already there;
        failed: id → error message; tables: files written (empty while runs are missing).
        seconds: wall-clock time of this call.
    """

    plan: str
    kind: str
    trained: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train and evaluate one spec (runs inside a worker process or Ray task).

    The job carries the spec text rather than a path, so a Ray worker on another machine
    needs no access to the plan directory.

    Args:
        job: {"id", "spec_text", "spec_name", "settings": RunSettings.as_dict(), "threads"}.

    Returns:
        {"val": {task: metric}, "test": {...}, "directions": {task: "max"|"min"},
         "metric_names": {task: "accuracy"|...}, "seconds", "steps"}.

    Example:
        >>> run_job({"id": "a", "spec_text": text, "spec_name": "a.mtl",
        ...          "settings": RunSettings(epochs=1).as_dict(), "threads": 1})  # doctest: +SKIP
    """
    import torch

    from mtlspec.compile import compile as compile_spec
    from mtlspec.spec import parse_document, validate
    from mtlspec.train.data import load_data
    from mtlspec.train.loop import train

    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    settings = job["settings"]
    spec = validate(parse_document(job["spec_text"], job["spec_name"]))
    tasks = [t.name for t in spec.tasks]
    data = load_data(settings["data"], tasks=tasks, seed=settings["seed"],
                     **settings["data_options"])
    torch.manual_seed(settings["seed"])  # the initial weights: a pool worker's RNG has history
    model = compile_spec(spec, dtype=torch.float32)  # float32 master weights
    result = train(model, data, weighting=settings["weighting"], epochs=settings["epochs"],
                   batch_size=settings["batch_size"], lr=settings["lr"], seed=settings["seed"],
                   device=job.get("device"))
    return {"val": {t: float(result.val_metrics[t]) for t in tasks},
            "test": {t: float(result.metrics[t]) for t in tasks},
            "directions": {t: "max" if data.tasks[t].higher_is_better else "min"
                           for t in tasks},
            "metric_names": {t: data.tasks[t].metric for t in tasks},
            "seconds": float(result.seconds), "steps": int(result.steps)}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _finished(path: Path, spec_hash: str, settings: dict[str, Any]) -> bool:
    """Whether `path` holds this spec's result under these settings."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False  # unreadable: train again (writes are atomic, so this is rare)
    if record.get("spec_sha256") != spec_hash:
        return False
    if record.get("settings") != settings:
        changed = sorted(k for k in settings if record.get("settings", {}).get(k) != settings[k])
        raise MtlspecError(
            f"{path} was made with other settings ({', '.join(changed) or 'unknown'} differ); "
            "rerun with the same settings to resume, or pass --force to train everything again")
    return True


def _jobs(plan_dir: Path, entries: list[dict[str, Any]], settings: dict[str, Any],
          threads: int, force: bool,
          device: str | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    jobs, skipped = [], []
    for entry in entries:
        spec_path = plan_dir / entry["spec"]
        try:
            text = spec_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise MtlspecError(f"cannot read {spec_path} (entry `{entry['id']}` of the plan): "
                               f"{getattr(err, 'strerror', None) or err}") from None
        digest = _sha256(text)
        if not force and _finished(plan_dir / RESULTS_DIR / f"{entry['id']}.json", digest,
                                   settings):
            skipped.append(entry["id"])
            continue
        jobs.append({"id": entry["id"], "spec": entry["spec"], "spec_text": text,
                     "spec_name": str(spec_path), "spec_sha256": digest,
                     "tasks": list(entry["tasks"]), "settings": settings, "threads": threads,
                     "device": device})
    return jobs, skipped


def _record(plan_dir: Path, job: dict[str, Any], outcome: dict[str, Any]) -> None:
    record = {"id": job["id"], "spec": job["spec"], "spec_sha256": job["spec_sha256"],
              "tasks": job["tasks"], "settings": job["settings"], **outcome}
    write_atomic(plan_dir / RESULTS_DIR / f"{job['id']}.json",
                 json.dumps(record, indent=2) + "\n")


def run_plan(
    plan_dir: str | Path,
    settings: RunSettings | None = None,
    options: ExecutorOptions | None = None,
    *,
    threads: int = 1,
    device: str | None = None,
    force: bool = False,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> RunReport:
    """Train every entry of a plan that has no result yet, then write the plan's table.

    Args:
        plan_dir: a directory with `manifest.json` and its spec files.
        settings: data set and training settings shared by every run.
        options: the executor (default: a local pool of one worker).
        threads: torch threads per run (1 keeps parallel workers from oversubscribing cores).
        device: where each run trains ("cpu", "cuda", ...; None: the CPU). Not part of the
            settings a result is matched on.
        force: train every entry again, ignoring existing results.
        progress: show a progress bar; None: only when standard error is a terminal.
        log: called with one line per finished or failed run (e.g. `click.echo`).

    Returns:
        A `RunReport`; `tables` is empty when some run failed (rerun to retry those).

    Raises:
        MtlspecError: no readable plan, bad options, results made with other settings, or a
            data set that lacks the plan's tasks.

    Example:
        >>> run_plan("plan/", RunSettings(epochs=2), ExecutorOptions(workers=2))  # doctest: +SKIP
    """
    start = time.perf_counter()
    plan_dir = Path(plan_dir)
    settings = settings or RunSettings()
    options = options or ExecutorOptions()
    check_options(options)
    if threads < 1:
        raise MtlspecError(f"--threads must be at least 1, got {threads}")
    plan = load_plan(plan_dir)
    check_directions(plan, _check_data(settings, plan.tasks))
    jobs, skipped = _jobs(plan_dir, plan.entries, settings.as_dict(), threads, force, device)
    report = RunReport(plan=str(plan_dir), kind=plan.kind, skipped=skipped)
    try:
        (plan_dir / RESULTS_DIR).mkdir(exist_ok=True)
    except OSError as err:
        raise MtlspecError(f"cannot create {plan_dir / RESULTS_DIR}: "
                           f"{err.strerror or err}") from None
    outcomes = execute(run_job, jobs, options, preload=_PRELOAD)
    bar_context = progress_bar(progress, total=len(plan.entries), completed=len(skipped),
                               description="plan", transient=False, log=log)
    with bar_context as bar, closing(outcomes):
        done = len(skipped)
        for job, outcome in outcomes:
            if isinstance(outcome, BaseException):
                report.failed[job["id"]] = f"{type(outcome).__name__}: {outcome}"
                message = f"{job['id']}: failed: {report.failed[job['id']]}"
            else:
                _record(plan_dir, job, outcome)
                report.trained.append(job["id"])
                message = f"{job['id']}: {outcome['seconds']:.1f} s"
            done += 1
            bar.advance(1, f"plan (last: {job['id']})")
            bar.print(f"[{done}/{len(plan.entries)}] {message}")
    if not report.failed:
        report.tables = [str(p) for p in assemble_tables(plan_dir, plan)]
    report.seconds = time.perf_counter() - start
    return report


def _check_data(settings: RunSettings, tasks: list[str]) -> dict[str, bool]:
    """Fail before any training when the data set is unknown or lacks a task of the plan.

    Returns:
        task → whether its metric is higher-is-better.
    """
    from mtlspec.train.data import list_datasets, load_data

    if settings.data not in list_datasets():
        raise MtlspecError(f"unknown data set `{settings.data}` "
                           f"(available: {', '.join(list_datasets())})")
    try:
        data = load_data(settings.data, tasks=tasks, seed=settings.seed,
                         **settings.data_options)
    except TypeError as err:  # an option the data set does not take
        raise MtlspecError(f"data set `{settings.data}`: {err}") from None
    return {t: info.higher_is_better for t, info in data.tasks.items()}
