"""`mtlspec search dag`: a tiny end-to-end run into `mtlspec build`, and its usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.spec import format, load, validate
from tests.search.dag.test_dag_search import BASE  # the tiny base DAG spec

torch.set_num_threads(1)

TINY = ["--train-size", "64", "--test-size", "32", "--max-steps", "1", "--epochs-warmup", "1",
        "--epochs-search", "1", "--epochs-finetune", "1", "--no-progress"]


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    path = tmp_path / "base.mtl"
    path.write_text(BASE)
    return path


def test_search_writes_a_spec_that_builds(base: Path, tmp_path: Path):
    out, weights, ck = tmp_path / "dag.mtl", tmp_path / "dag.pt", tmp_path / "ck"
    run = CliRunner().invoke(main, ["search", "dag", "--spec", str(base), *TINY, "--json",
                                    "--checkpoint", str(ck), "-o", str(out),
                                    "--weights-out", str(weights), "--name", "found"])
    assert run.exit_code == 0, run.output
    report = json.loads(run.stdout)
    assert report["output"] == str(out) and report["spec"] is None
    assert {t["task"] for t in report["topologies"]} == {"left", "parity"}
    assert report["params_reduced"] < report["params_full"]
    assert set(report["metrics"]) == {"left", "parity"}
    spec = validate(load(out))
    assert spec.name == "found" and format(spec) == out.read_text()
    assert (ck / "search.pt").exists() and (ck / "finetune").is_dir()
    build = CliRunner().invoke(main, ["build", str(out), "-o", str(tmp_path / "m.onnx"),
                                      "--weights", str(weights)])
    assert build.exit_code == 0, build.output
    assert (tmp_path / "m.onnx").stat().st_size > 0
    again = CliRunner().invoke(main, ["search", "dag", "--spec", str(base), *TINY,
                                      "--checkpoint", str(ck), "--resume", "--name", "found"])
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("dag found {")  # no -o: the spec goes to stdout


@pytest.mark.parametrize("args, message", [
    (["--resume"], "--checkpoint"),
    (["--flow", "9"], "flow"),
    (["--batch-size", "0"], "--batch-size"),
    (["--data", "nope"], "unknown data set"),
])
def test_usage_errors_exit_2(base: Path, args: list[str], message: str):
    run = CliRunner().invoke(main, ["search", "dag", "--spec", str(base), *args])
    assert run.exit_code == 2, run.output
    assert message in run.output and "Traceback" not in run.output


def test_a_tree_spec_is_rejected(tmp_path: Path):
    spec = Path(__file__).resolve().parents[3] / "specs" / "conal_multidigits.mtl"
    run = CliRunner().invoke(main, ["search", "dag", "--spec", str(spec)])
    assert run.exit_code == 2 and "needs a dag spec" in run.output
