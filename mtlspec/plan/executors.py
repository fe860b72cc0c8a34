"""Where a training plan's runs execute: a local process pool, or Ray (one task per spec).

An executor takes independent jobs and a top-level function, and yields `(job, outcome)` pairs
in the order the jobs finish, so the caller can record each result the moment it exists. An
outcome is the function's return value, or the exception it raised (one failed run does not
stop the others).

- `local`: `concurrent.futures.ProcessPoolExecutor` on a `forkserver` (else `spawn`) context,
  never `fork`: a forked child inherits torch's thread pools and locks mid-state, which can hang.
- `ray`: one `ray.remote` task per job with `num_cpus`/`num_gpus` per task; connects to a
  running cluster (`address`), reuses a Ray already initialised in this process (tests), or
  starts a local one and shuts it down afterwards. Ray is the optional extra `mtlspec[ray]`.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from mtlspec.errors import MtlspecError

EXECUTORS = ("local", "ray")
RAY_HINT = "pip install 'mtlspec[ray]'"


@dataclass(frozen=True)
class ExecutorOptions:
    """How to run jobs.

    Attributes:
        kind: `local` or `ray`.
        workers: local: pool size (None: one per CPU); ray: at most this many tasks in
            flight (None: as many as the cluster schedules; a local Ray started here gets
            `workers` CPUs, else all).
        address: ray: the cluster to connect to (`auto`, `ray://host:10001`, `host:6379`);
            None starts a local Ray.
        cpus_per_task, gpus_per_task: ray: resources one task asks for.
    """

    kind: str = "local"
    workers: int | None = 1
    address: str | None = None
    cpus_per_task: float = 1.0
    gpus_per_task: float = 0.0


def check_options(options: ExecutorOptions) -> None:
    """Reject impossible settings before any work starts.

    Raises:
        MtlspecError: unknown executor, non-positive workers, negative resources, an
            address for the local executor, or `ray` without Ray installed.

    Example:
        >>> check_options(ExecutorOptions(kind="local", workers=2))
    """
    if options.kind not in EXECUTORS:
        raise MtlspecError(f"unknown executor `{options.kind}` (use {' or '.join(EXECUTORS)})")
    if options.workers is not None and options.workers < 1:
        raise MtlspecError(f"--workers must be at least 1, got {options.workers}")
    if options.cpus_per_task < 0 or options.gpus_per_task < 0:
        raise MtlspecError("--cpus-per-task and --gpus-per-task must be ≥ 0")
    if options.kind == "local":
        if options.address is not None:
            raise MtlspecError("--address names a Ray cluster; use it with --executor ray")
        return
    _import_ray()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MtlspecError(f"--executor ray needs Ray, an optional extra: {RAY_HINT}") from None
    return ray


def execute(fn: Callable[[Any], Any], jobs: Iterable[Any], options: ExecutorOptions, *,
            preload: Sequence[str] = ()) -> Iterator[tuple[Any, Any]]:
    """Run `fn(job)` for every job; yield `(job, result or exception)` as each finishes.

    Args:
        fn: a module-level function (it is pickled by reference into the workers).
        jobs: picklable job descriptions.
        options: where and how to run.
        preload: local: modules the forkserver imports once, so each worker forks with them
            loaded instead of importing torch itself (seconds per worker).

    Returns:
        A generator of `(job, outcome)`; closing it early (an interrupt) cancels the queued
        jobs and stops the running ones.

    Raises:
        MtlspecError: bad options, Ray missing, or Ray cannot connect.

    Example:
        >>> list(execute(abs, [-1], ExecutorOptions()))
        [(-1, 1)]
    """
    check_options(options)
    jobs = list(jobs)
    if not jobs:
        return _nothing()
    if options.kind == "ray":
        return _ray(fn, jobs, options)
    return _local(fn, jobs, options, preload)


def _nothing() -> Iterator[tuple[Any, Any]]:
    yield from ()


def _context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")  # Windows
    context = multiprocessing.get_context("forkserver")
    if preload:
        # Only the first pool of a process starts the forkserver; later calls change nothing.
        context.set_forkserver_preload(list(preload))
    return context


def _local(fn: Callable[[Any], Any], jobs: list[Any], options: ExecutorOptions,
           preload: Sequence[str]) -> Iterator[tuple[Any, Any]]:
    from mtlspec.plan.lifeline import terminate_on_sigterm, watch_parent

    workers = min(options.workers or os.cpu_count() or 1, len(jobs))
    # Workers exit when this process dies, even by SIGKILL; SIGTERM unwinds through `finally`.
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context(preload),
                               initializer=watch_parent, initargs=(os.getpid(),))
    pending: set[Future] = set()
    stack = ExitStack()
    stack.enter_context(terminate_on_sigterm())
    try:
        futures: dict[Future, Any] = {pool.submit(fn, job): job for job in jobs}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                error = future.exception()
                yield futures[future], error if error is not None else future.result()
    finally:
        # Normal end: nothing is left. Interrupt: drop queued jobs and stop the ones in
        # flight (their results would be lost anyway; the next run redoes them) instead of
        # waiting minutes for trainings nobody will record.
        if pending:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
        pool.shutdown(wait=not pending, cancel_futures=True)
        stack.close()


def _ray_init(ray: Any, options: ExecutorOptions) -> bool:
    """Connect or start Ray; True when this call started it (and must shut it down)."""
    if ray.is_initialized():
        return False
    try:
        if options.address is not None:
            ray.init(address=options.address, log_to_driver=False)
        else:
            cpus = max(options.workers or os.cpu_count() or 1, options.cpus_per_task)
            ray.init(num_cpus=round(cpus), include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = options.address or "a local Ray"
        raise MtlspecError(f"cannot start or reach {where}: {err}") from None
    return True


def _ray(fn: Callable[[Any], Any], jobs: list[Any],
         options: ExecutorOptions) -> Iterator[tuple[Any, Any]]:
    ray = _import_ray()
    started = _ray_init(ray, options)
    remote = ray.remote(num_cpus=options.cpus_per_task, num_gpus=options.gpus_per_task,
                        max_retries=0)(fn)
    limit = options.workers or len(jobs)
    queue = list(reversed(jobs))
    running: dict[Any, Any] = {}
    try:
        while queue or running:
            while queue and len(running) < limit:
                job = queue.pop()
                running[remote.remote(job)] = job
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                job = running.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayTaskError as err:
                    outcome = err.as_instanceof_cause()
                except ray.exceptions.RayError as err:  # worker died, cancelled, ...
                    outcome = err
                yield job, outcome
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()
