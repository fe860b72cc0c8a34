"""Run a training plan: train and evaluate every spec of a manifest, then assemble its table.

A plan directory (written by `mtlspec recommend plan` or `mtlspec group plan`) holds spec files
and `manifest.json`. `run_plan` trains each entry's spec on a data set with
`mtlspec.train.settings.fit` on an executor (`mtlspec.plan.executors`) and writes
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
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtlspec.errors import MtlspecError
from mtlspec.io import write_atomic
from mtlspec.plan.executors import ExecutorOptions, check_options, execute
from mtlspec.plan.manifest import Manifest, load_manifest
from mtlspec.plan.results import RESULTS_DIR, assemble_tables, check_directions, result_path
from mtlspec.train.device import check_device
from mtlspec.train.progress import progress_bar
from mtlspec.train.settings import RunSettings

# What every training imports: loaded once by the local pool's forkserver, not per worker.
_PRELOAD = ("torch", "sklearn.datasets", "mtlspec.compile.tree", "mtlspec.compile.grouping",
            "mtlspec.compile.dag", "mtlspec.compile.load", "mtlspec.train.settings",
            "mtlspec.plan.runner")


@dataclass(frozen=True)
class Job:
    """One training of a plan, as a worker receives it.

    The job carries the spec text rather than a path, so a Ray worker on another machine
    needs no access to the plan directory.

    Attributes:
        id: the entry's id; spec: its file, relative to the plan; tasks: the entry's tasks.
        spec_text, spec_name: the spec and the name shown in its errors.
        spec_sha256: the text's hash (a result is reused only for the same text).
        settings: the data set and schedule; threads: torch threads (0: torch's default);
        device: where it trains (None: the CPU).
        allow_import: the user allowed importing a `pkg.module:callable` data set (the worker
            rebuilds the data set from `settings`' reference and options, never from a pickled
            object).
    """

    id: str
    spec_text: str
    spec_name: str
    settings: RunSettings
    spec: str = ""
    spec_sha256: str = ""
    tasks: tuple[str, ...] = ()
    threads: int = 1
    device: str | None = None
    allow_import: bool = False


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


def run_job(job: Job) -> dict[str, Any]:
    """Train and evaluate one spec (runs inside a worker process or Ray task).

    Args:
        job: the spec text and the settings.

    Returns:
        {"val": {task: main metric}, "test": {...}, "directions": {task: "max"|"min"},
         "metric_names": {task: "accuracy"|"miou"|...}, "all_val": {task: {metric: value}},
         "all_test": {...}, "seconds", "steps"}: the main metric of each task feeds the
        plan's table, every metric (e.g. a segmentation's miou and pixel_acc) is kept.

    Example:
        >>> from pathlib import Path
        >>> settings = RunSettings(epochs=1, data_options={"train_size": 64, "val_size": 32,
        ...                                                "test_size": 32})
        >>> text = Path("specs/conal_multidigits.mtl").read_text()
        >>> out = run_job(Job(id="a", spec_text=text, spec_name="a.mtl", settings=settings,
        ...                   threads=0))
        >>> out["steps"], out["directions"]
        (1, {'left': 'max', 'right': 'max', 'parity': 'max'})
    """
    import torch

    from mtlspec.compile.load import load_model
    from mtlspec.spec import parse_document
    from mtlspec.train.prepare import fit_to_data
    from mtlspec.train.settings import fit

    if job.threads:
        torch.set_num_threads(int(job.threads))
    settings = job.settings
    # the seed fixes the initial weights: a pool worker's RNG has history
    doc = parse_document(job.spec_text, job.spec_name)
    model = load_model(doc, seed=settings.seed, dtype=torch.float32)  # float32 master weights
    tasks = list(model.task_names)
    data = settings.load_data(tasks, allow_import=job.allow_import)
    fit_to_data(doc, model, data)
    result = fit(model, data, settings, device=job.device)

    def every(values: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        return {t: {m: float(v) for m, v in values.get(t, {}).items()} for t in tasks}

    return {"val": {t: float(result.val_metrics[t]) for t in tasks},
            "test": {t: float(result.metrics[t]) for t in tasks},
            "directions": {t: "max" if data.tasks[t].higher_is_better else "min"
                           for t in tasks},
            "metric_names": {t: data.tasks[t].metric for t in tasks},
            "all_val": every(result.all_val_metrics), "all_test": every(result.all_metrics),
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


def _jobs(plan_dir: Path, manifest: Manifest, settings: RunSettings, threads: int,
          force: bool, device: str | None = None,
          allow_import: bool = False) -> tuple[list[Job], list[str]]:
    jobs, skipped = [], []
    for entry in manifest.entries:
        spec_path = plan_dir / entry.spec
        try:
            text = spec_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise MtlspecError(f"cannot read {spec_path} (entry `{entry.id}` of the plan): "
                               f"{getattr(err, 'strerror', None) or err}") from None
        digest = _sha256(text)
        if not force and _finished(result_path(plan_dir, entry.id), digest,
                                   settings.as_dict()):
            skipped.append(entry.id)
            continue
        jobs.append(Job(id=entry.id, spec=entry.spec, spec_text=text, spec_name=str(spec_path),
                        spec_sha256=digest, tasks=tuple(entry.tasks), settings=settings,
                        threads=threads, device=device, allow_import=allow_import))
    return jobs, skipped


def _record(plan_dir: Path, job: Job, outcome: dict[str, Any]) -> None:
    record = {"id": job.id, "spec": job.spec, "spec_sha256": job.spec_sha256,
              "tasks": list(job.tasks), "settings": job.settings.as_dict(), **outcome}
    write_atomic(result_path(plan_dir, job.id), json.dumps(record, indent=2) + "\n")


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
    allow_import: bool = False,
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
        allow_import: allow a `pkg.module:callable` data set (each worker imports it).

    Returns:
        A `RunReport`; `tables` is empty when some run failed (rerun to retry those).

    Raises:
        MtlspecError: no readable plan, bad options, results made with other settings, or a
            data set that lacks the plan's tasks.

    Example:
        >>> import tempfile
        >>> from mtlspec.plan.grouping import write_group_plan
        >>> from mtlspec.spec import load
        >>> settings = RunSettings(epochs=1, data_options={"train_size": 64, "val_size": 32,
        ...                                                "test_size": 32})
        >>> base = load("specs/conal_multidigits.mtl").spec
        >>> with tempfile.TemporaryDirectory() as plan:
        ...     _ = write_group_plan(base.model_copy(update={"tasks": base.tasks[:1]}), plan)
        ...     report = run_plan(plan, settings, progress=False)
        >>> report.trained, [Path(p).name for p in report.tables]
        (['left'], ['candidates.csv', 'candidates_test.csv'])
    """
    start = time.perf_counter()
    plan_dir = Path(plan_dir)
    settings = settings or RunSettings()
    options = options or ExecutorOptions()
    check_options(options)
    if threads < 1:
        raise MtlspecError(f"--threads must be at least 1, got {threads}")
    manifest = load_manifest(plan_dir)
    device = job_device(device, options)  # before any job starts
    check_directions(manifest, _check_data(settings, manifest.tasks, allow_import))
    jobs, skipped = _jobs(plan_dir, manifest, settings, threads, force, device, allow_import)
    report = RunReport(plan=str(plan_dir), kind=manifest.kind, skipped=skipped)
    try:
        (plan_dir / RESULTS_DIR).mkdir(exist_ok=True)
    except OSError as err:
        raise MtlspecError(f"cannot create {plan_dir / RESULTS_DIR}: "
                           f"{err.strerror or err}") from None
    outcomes = execute(run_job, jobs, options, preload=_PRELOAD)
    total = len(manifest.entries)
    bar_context = progress_bar(progress, total=total, completed=len(skipped),
                               description="plan", transient=False, log=log)
    with bar_context as bar, closing(outcomes):
        done = len(skipped)
        for job, outcome in outcomes:
            if isinstance(outcome, BaseException):
                report.failed[job.id] = f"{type(outcome).__name__}: {outcome}"
                message = f"{job.id}: failed: {report.failed[job.id]}"
            else:
                _record(plan_dir, job, outcome)
                report.trained.append(job.id)
                message = f"{job.id}: {outcome['seconds']:.1f} s"
            done += 1
            bar.advance(1, f"plan (last: {job.id})")
            bar.print(f"[{done}/{total}] {message}")
    if not report.failed:
        report.tables = [str(p) for p in assemble_tables(plan_dir, manifest)]
    report.seconds = time.perf_counter() - start
    return report


def job_device(device: str | None, options: ExecutorOptions) -> str | None:
    """Where each job trains, checked before any starts.

    Locally (and on a Ray started here) the device must exist on this machine. On a Ray
    cluster (`address`) the GPUs are the workers': the name is checked there. With Ray, a
    CUDA device needs `gpus_per_task` > 0 (Ray hides the GPUs from tasks that ask for none),
    and `gpus_per_task` > 0 without `--device` means `cuda`.

    Raises:
        MtlspecError: an unknown device, CUDA missing here, or CUDA on Ray without GPUs.

    Example:
        >>> job_device(None, ExecutorOptions()), job_device("cpu", ExecutorOptions())
        (None, 'cpu')
    """
    if options.kind == "ray":
        if device is None and options.gpus_per_task > 0:
            device = "cuda"
        if device is not None and device.startswith("cuda") and options.gpus_per_task <= 0:
            raise MtlspecError(f"--device {device} on Ray needs --gpus-per-task > 0 (Ray "
                               "hides the GPUs from tasks that ask for none)")
        if options.address is not None:
            return device
    if device is not None:
        check_device(device)
    return device


def _check_data(settings: RunSettings, tasks: list[str],
                allow_import: bool = False) -> dict[str, bool]:
    """Fail before any training when the data set is unknown or lacks a task of the plan.

    Returns:
        task → whether its metric is higher-is-better.
    """
    try:
        data = settings.load_data(tasks, allow_import=allow_import)
    except TypeError as err:  # an option the data set does not take
        raise MtlspecError(f"data set `{settings.data}`: {err}") from None
    return {t: info.higher_is_better for t, info in data.tasks.items()}
