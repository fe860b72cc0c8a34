"""`mtlspec train`: weights that `mtlspec build` loads, exact --resume, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from mtlspec.cli import main
from tests.train.tiny import one_thread, tiny_spec

FAST = ["--train-size", "64", "--epochs", "1", "--batch-size", "16"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    yield from one_thread()


def run(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def spec_file(tmp_path: Path, layout: str = "trunk1", **replace: str) -> Path:
    path = tmp_path / f"{layout}.mtl"
    path.write_text(tiny_spec(layout, **replace))
    return path


def test_trained_weights_load_into_build(tmp_path):
    spec = spec_file(tmp_path)
    weights = tmp_path / "out" / "w.pt"
    result = run("train", spec, *FAST, "--weighting", "mgda-ub", "--normalization", "loss+",
                 "-o", weights, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["weighting"] == "mgda-ub" and report["steps"] == 4
    assert set(report["tasks"]) == {"left", "right", "sum"}
    assert report["tasks"]["sum"]["metric"] == "mae"
    state = torch.load(weights, weights_only=True)
    assert any(k.startswith("heads.left.") for k in state)
    built = run("build", spec, "--weights", weights, "-o", tmp_path / "m.onnx", "--json")
    assert built.exit_code == 0, built.output
    assert (tmp_path / "m.onnx").stat().st_size > 0


def test_table_and_delta_against_a_baseline(tmp_path):
    baseline = tmp_path / "single.json"
    baseline.write_text(json.dumps({"left": 0.5, "right": 0.5, "sum": 3.0}))
    result = run("train", spec_file(tmp_path), *FAST, "--weighting", "fixed",
                 "--weights", "left=1,sum=0.1", "--baseline", baseline,
                 "--data-option", "overlap=2", "--data-option", "val_size=50")
    assert result.exit_code == 0, result.output
    for text in ("left", "accuracy ↑", "mae ↓", "single-task", "Δ vs single-task:"):
        assert text in result.output


def test_resume_continues_to_the_same_weights(tmp_path):
    spec = spec_file(tmp_path)
    common = [*FAST, "--epochs", "2", "--weighting", "rlw", "--seed", "3"]
    assert run("train", spec, *common, "-o", tmp_path / "full.pt").exit_code == 0
    ckpt = tmp_path / "ckpt"
    first = run("train", spec, *common, "--checkpoint", ckpt, "--checkpoint-every", "2",
                "--max-steps", "5", "--json")
    assert first.exit_code == 0 and json.loads(first.stdout)["finished"] is False
    second = run("train", spec, *common, "--checkpoint", ckpt, "--resume", "--json",
                 "-o", tmp_path / "resumed.pt")
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["resumed_from"] == 5
    full = torch.load(tmp_path / "full.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert all(torch.equal(full[k], resumed[k]) for k in full)


@pytest.mark.parametrize(("layout", "replace", "args", "message"), [
    ("trunk1", {"sum": "colour"}, [], ".mtl:7:5: error: task colour is not in data set "
                                      "multidigits"),
    ("trunk1", {"linear(classes=10)\n    right": "linear(classes=7)\n    right"}, [],
     "task left: the head outputs 7 but data set task left (classification) has 10 classes"),
    ("split", {}, ["--weighting", "mgda-ub"], "mgda-ub needs an all-shared trunk"),
    ("separate", {}, ["--weighting", "mgda"], "parameters shared by two or more tasks"),
    ("trunk1", {}, ["--resume"], "--resume needs --checkpoint"),
    ("trunk1", {}, ["--weighting", "fixed", "--weights", "left:1"], "is not task=number"),
    ("trunk1", {}, ["--weighting", "fixed"], "needs per-task weights"),
    ("trunk1", {}, ["--weighting", "fixed", "--weights", "depth=1"], "unknown task(s) depth"),
    ("trunk1", {}, ["--data", "cifar"], "unknown data set 'cifar'"),
    ("trunk1", {}, ["--data-option", "noise=0.1"], "has no option noise; its options:"),
    ("trunk1", {}, ["--data-option", "overlap=9"], "overlap must be 0-7"),
])
def test_bad_input_is_a_clear_error(tmp_path, layout, replace, args, message):
    result = run("train", spec_file(tmp_path, layout, **replace), *FAST, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
