"""`mtlspec search conal` and `mtlspec import conal` from the command line."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.spec import format, load, validate

BASE = "specs/conal_multidigits.mtl"


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_search_writes_spec_and_json_report(tmp_path):
    out = tmp_path / "conal.mtl"
    weights = tmp_path / "w.pt"
    result = _run("search", "conal", "--spec", BASE, "--epochs", "1", "--train-size", "64",
                  "--val-size", "32", "--test-size", "32", "--batch-size", "32", "--retrain", "rlw",
                  "--retrain-epochs", "1", "--weights-out", str(weights), "-o", str(out),
                  "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    spec = validate(load(str(out)))
    assert out.read_text() == format(spec)  # canonical
    assert set(report["branch_points"]) == {"left", "right", "parity"}
    assert report["conflict_noticing"] is True
    assert len(report["stages"][0]["conflicts"]) == 5
    assert set(report["retrain"]["test"]) == {"left", "right", "parity"}
    from mtlspec.compile import compile

    model = compile(spec)
    model.load_state_dict(torch.load(weights, weights_only=True))


def test_search_pro_ablated_prints_spec_without_output(tmp_path):
    result = _run("search", "conal", "--spec", BASE, "--pro", "--no-conflict-noticing",
                  "--epochs", "1", "--train-size", "32", "--val-size", "32",
                  "--batch-size", "32", "--retrain", "none", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["pro"] is True and report["conflict_noticing"] is False
    assert all(c["frozen_steps"] == 0 for s in report["stages"] for c in s["conflicts"])
    assert validate(load_text(report["spec"])).name == "conal_multidigits_conal_pro"


def load_text(text: str):
    from mtlspec.spec import parse

    return parse(text)


@pytest.mark.parametrize(("args", "message"), [
    (["--resume"], "--resume needs --checkpoint"),
    (["--retrain", "none", "--weights-out", "w.pt"], "drop --retrain none"),
    (["--data", "nope"], "unknown data set"),
])
def test_search_usage_errors_exit_2(args, message):
    result = _run("search", "conal", "--spec", BASE, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_search_rejects_a_dag_base():
    result = _run("search", "conal", "--spec", "specs/nyuv2_dag.mtl", "--retrain", "none")
    assert result.exit_code == 2
    assert "tree" in result.output


def test_import_writes_a_canonical_tree(tmp_path):
    arch = tmp_path / "arch.json"
    arch.write_text('{"0": 5, "1": 5, "2": 3}')
    out = tmp_path / "out.mtl"
    result = _run("import", "conal", str(arch), "--tasks", "left,right,parity", "--base", BASE,
                  "-o", str(out))
    assert result.exit_code == 0, result.output
    spec = validate(load(str(out)))
    assert out.read_text() == format(spec)
    assert spec.layout[4] == frozenset({frozenset({"left", "right"}), frozenset({"parity"})})
    shown = _run("import", "conal", str(arch), "--base", BASE, "--json")
    assert json.loads(shown.output)["layout"][3] == [["left", "right"], ["parity"]]


@pytest.mark.parametrize(("text", "extra", "message"), [
    ('{"0": 5, "1": 5', [], "invalid JSON"),
    ('{"0": 5, "1": 5}', [], "no entry for task index 2"),
    ('{"0": 5, "1": 5, "2": 9}', [], "shares 9 stages"),
    ('{"0": 5, "1": 5, "2": 1}', ["--tasks", "left,rigth,parity"], "unknown task `rigth`"),
])
def test_import_errors_exit_2(tmp_path, text, extra, message):
    arch = tmp_path / "arch.json"
    arch.write_text(text)
    result = _run("import", "conal", str(arch), "--base", BASE, *extra)
    assert result.exit_code == 2
    assert message in result.output
