"""Latency budgets (`budget { latency_ms <= 12 @ ort-cpu batch 1 }`): the compiled model is
exported to ONNX and timed with onnxruntime on the CPU.

Measured, not counted, so machine-dependent: the same spec is faster on a laptop than on a
shared CI runner, and slower while other jobs run. The result therefore names the machine
(CPU model, logical cores, the threads onnxruntime used, onnxruntime's version), and
`mtlspec check --skip-latency` leaves these budgets out on runners too noisy to time. The
figure is the median of `runs` timed forward passes after `warmup` untimed ones, on one
batch of random inputs of the spec's shape (batch size from the budget's setup), with the
spec's input dtype.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtlspec.errors import MtlspecError
from mtlspec.spec import ir

RUNS = 30
WARMUP = 5


@dataclass(frozen=True)
class Machine:
    """Where a latency was measured."""

    cpu: str
    logical_cores: int
    threads: str  # the intra-op threads onnxruntime was given, or "onnxruntime's default"
    onnxruntime: str

    def describe(self) -> str:
        """`Intel(R) Xeon(R) ..., 2 logical cores, threads: ..., onnxruntime 1.20.1`."""
        return (f"{self.cpu}, {self.logical_cores} logical cores, threads: {self.threads}, "
                f"onnxruntime {self.onnxruntime}")

    def to_json(self) -> dict[str, Any]:
        return {"cpu": self.cpu, "logical_cores": self.logical_cores, "threads": self.threads,
                "onnxruntime": self.onnxruntime}


@dataclass(frozen=True)
class LatencyResult:
    """A measured latency: the median and every timed run (ms), and how it was measured."""

    median_ms: float
    times_ms: tuple[float, ...]
    setup: ir.Latency
    warmup: int
    machine: Machine

    def to_json(self) -> dict[str, Any]:
        return {"median_ms": self.median_ms, "runs": len(self.times_ms),
                "warmup": self.warmup, "min_ms": min(self.times_ms),
                "max_ms": max(self.times_ms), "runtime": self.setup.runtime,
                "batch": self.setup.batch, "threads": self.setup.threads,
                "machine": self.machine.to_json(), "machine_dependent": True}


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo; elsewhere what `platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _session(blob: bytes, threads: int | None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])


def measure(model: Any, setup: ir.Latency, *, runs: int = RUNS, warmup: int = WARMUP
            ) -> LatencyResult:
    """Export a compiled model and time it with onnxruntime.

    Args:
        model: a compiled model (`mtlspec.load_model`).
        setup: the budget's setup (runtime, batch, threads); the limit itself is not used.
        runs: timed forward passes (the median is reported).
        warmup: untimed passes before (allocation, caches, lazy kernel choice).

    Returns:
        The `LatencyResult`.

    Raises:
        MtlspecError: an unknown runtime, or a model that cannot be exported or run (a
            bfloat16 spec: onnxruntime's CPU provider cannot run it).

    Example:
        >>> from mtlspec import load_model
        >>> result = measure(load_model("specs/conal_multidigits.mtl"), ir.Latency(ms=1),
        ...                  runs=3, warmup=1)
        >>> len(result.times_ms), result.median_ms > 0, result.machine.logical_cores >= 1
        (3, True, True)
    """
    import numpy as np
    import onnxruntime as ort

    from mtlspec.exporters.onnx import export
    from mtlspec.spec.rules import LATENCY_RUNTIMES

    if setup.runtime not in LATENCY_RUNTIMES:
        raise MtlspecError(f"cannot measure latency on `{setup.runtime}` (known: "
                           f"{', '.join(LATENCY_RUNTIMES)})")
    with tempfile.TemporaryDirectory(prefix="mtlspec-latency-") as folder:
        path = Path(folder) / "model.onnx"
        report = export(model, path, verify=False)
        blob = path.read_bytes()
    session = _session(blob, setup.threads)
    spec = model.spec
    dtype = np.float16 if report.input_dtype == "float16" else np.float32
    feed = {report.input_name: np.random.default_rng(0).standard_normal(
        (setup.batch, *spec.input.shape[1:])).astype(dtype)}
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1e3)
    threads = (str(setup.threads) if setup.threads is not None
               else "onnxruntime's default (one per physical core)")
    machine = Machine(cpu_name(), _cores(), threads, ort.__version__)
    return LatencyResult(statistics.median(times), tuple(times), setup, warmup, machine)
