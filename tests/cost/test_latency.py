"""Latency budgets: measured with onnxruntime on the exported model, reported with the
machine, skipped with --skip-latency. A tiny model against a generous limit and an impossible
one (0.0001 ms), so the outcome does not depend on how loaded the machine is."""

from __future__ import annotations

import json
from pathlib import Path

import onnxruntime as ort
import pytest
from click.testing import CliRunner

from mtlspec.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONAL = (ROOT / "specs" / "conal_multidigits.mtl").read_text()
BUDGET = "budget { gmacs <= 1; params <= 1M }"


def spec_with(tmp_path: Path, latency: str, dtype: str = "float") -> Path:
    assert BUDGET in CONAL
    path = tmp_path / "lat.mtl"
    text = CONAL.replace(BUDGET, f"budget {{ params <= 1M; {latency} }}")
    path.write_text(text.replace("input image: float[", f"input image: {dtype}["))
    return path


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def test_a_generous_limit_passes_and_names_the_machine(tmp_path: Path):
    path = spec_with(tmp_path, "latency_ms <= 1000 @ ort-cpu batch 2 threads 1")
    result = run("check", path, "--json", "--latency-runs", 7)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    check = next(c for c in data["checks"] if c["what"] == "latency_ms")
    assert check["source"] == "spec @ ort-cpu batch 2 threads 1" and not check["over"]
    (latency,) = data["latency"]
    assert latency["runs"] == 7 and latency["batch"] == 2 and latency["threads"] == 1
    assert latency["min_ms"] <= latency["median_ms"] == check["actual"] <= latency["max_ms"]
    machine = latency["machine"]
    assert machine["onnxruntime"] == ort.__version__ and machine["logical_cores"] >= 1
    assert machine["cpu"] and machine["threads"] == "1" and latency["machine_dependent"]


def test_an_impossible_limit_fails(tmp_path: Path):
    path = spec_with(tmp_path, "latency_ms <= 0.0001 @ ort-cpu batch 1")
    result = run("check", path, "--latency-runs", 3)
    assert result.exit_code == 1, result.output
    assert "latency_ms (spec @ ort-cpu batch 1)" in result.stdout and "OVER" in result.stdout
    assert "median of 3 runs after 5 warm-up" in result.stdout
    assert "machine-dependent" in result.stdout and "onnxruntime's default" in result.stdout
    assert "1 budget exceeded" in result.output


def test_skip_latency_leaves_it_out(tmp_path: Path):
    path = spec_with(tmp_path, "latency_ms <= 0.0001")
    result = run("check", path, "--skip-latency")
    assert result.exit_code == 0, result.output
    assert "latency_ms budget not measured (--skip-latency)" in result.stdout
    assert "latency_ms (spec" not in result.stdout


def test_a_bfloat16_model_cannot_be_timed_on_the_cpu(tmp_path: Path):
    path = spec_with(tmp_path, "latency_ms <= 1000", dtype="bfloat16")
    result = run("check", path)
    assert result.exit_code == 2 and "bfloat16" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("budget", "message"), [
    ("latency_ms <= 5 @ ort-cuda batch 1", "unknown runtime `ort-cuda`"),
    ("latency_ms <= 5 @ ort-cpu batch 0", "`batch` of `latency_ms` must be at least 1"),
    ("latency_ms <= 5 @ ort-cpu batch", "a latency budget reads"),
    ("gmacs <= 5 @ ort-cpu", "`gmacs` is counted, not measured"),
])
def test_a_malformed_latency_budget_exits_2(tmp_path: Path, budget: str, message: str):
    result = run("check", spec_with(tmp_path, budget))
    assert result.exit_code == 2 and message in result.output, result.output
