"""`mtlspec run` with the local executor: results, resume after a kill, tables, errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.errors import MtlspecError
from mtlspec.plan.executors import ExecutorOptions, check_options
from mtlspec.plan.runner import RunSettings, run_plan
from mtlspec.search.grouping.table import load_table
from tests.plan.fixtures import SETTINGS, tiny_plan

CLI_SETTINGS = ["--epochs", "1", "--batch-size", "32", "--data-option", "train_size=320",
                "--data-option", "val_size=64", "--data-option", "test_size=64"]


def _tables(plan: Path) -> tuple[str, str]:
    return ((plan / "candidates.csv").read_text(), (plan / "candidates_test.csv").read_text())


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The tiny plan run once without interruption, two workers."""
    plan = tiny_plan(tmp_path_factory.mktemp("ref") / "plan")
    report = run_plan(plan, SETTINGS, ExecutorOptions(workers=2), progress=False)
    assert not report.failed and len(report.trained) == 5 and not report.skipped
    return plan


def test_results_and_candidate_tables(reference):
    table = load_table(reference / "candidates.csv")
    test = load_table(reference / "candidates_test.csv")
    assert table.direction == "max" and table.tasks == ("left", "parity")
    names = {c.name: c for c in table.candidates}
    assert set(names) == {"left", "parity", "left+parity", "left@0.5", "parity@0.5"}
    assert names["left@0.5"].cost == 0.5 and names["left+parity"].trains == {"left", "parity"}
    for cand in table.candidates + test.candidates:
        assert all(0.0 <= v <= 1.0 for v in cand.loss.values())  # accuracies
    record = json.loads((reference / "results" / "left+parity.json").read_text())
    assert record["settings"] == SETTINGS.as_dict() and record["steps"] == 10  # 320 / 32
    assert set(record["val"]) == set(record["test"]) == {"left", "parity"}
    # the grouping selection reads the table: a budget of 1 network picks one full network
    result = CliRunner().invoke(main, ["group", "--table", str(reference / "candidates.csv"),
                                       "--budget", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["cost"] <= 1


def test_resume_after_interrupt_gives_the_same_tables(reference, tmp_path):
    plan = tiny_plan(tmp_path / "plan")

    def interrupt(line: str) -> None:  # Ctrl-C (or a kill) right after the first result
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_plan(plan, SETTINGS, ExecutorOptions(workers=2), progress=False, log=interrupt)
    done = {p.stem for p in (plan / "results").glob("*.json")}
    assert len(done) == 1 and not (plan / "candidates.csv").exists()
    report = run_plan(plan, SETTINGS, ExecutorOptions(workers=1), progress=False)
    assert report.skipped == sorted(done) and len(report.trained) == 4
    assert _tables(plan) == _tables(reference)


def test_finished_plan_is_skipped_and_other_settings_are_refused(reference):
    result = CliRunner().invoke(main, ["run", str(reference), *CLI_SETTINGS, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["trained"] == [] and len(report["skipped"]) == 5 and report["tables"]
    other = RunSettings(**{**SETTINGS.as_dict(), "epochs": 2})
    with pytest.raises(MtlspecError, match="epochs"):
        run_plan(reference, other, progress=False)


def test_a_failed_training_is_reported_and_writes_no_table(tmp_path):
    plan = tiny_plan(tmp_path / "plan")
    spec = plan / "left.mtl"
    spec.write_text(spec.read_text().replace("classes=10", "classes=0"))
    result = CliRunner().invoke(main, ["run", str(plan), "--workers", "2", *CLI_SETTINGS])
    assert result.exit_code == 1, result.output
    assert "left: failed" in result.output and "1 trainings failed" in result.output
    assert not (plan / "candidates.csv").exists()
    assert len(list((plan / "results").glob("*.json"))) == 4


def test_bad_input_is_a_clear_error(tmp_path, monkeypatch):
    result = CliRunner().invoke(main, ["run", str(tmp_path)])
    assert result.exit_code == 2 and "no manifest.json" in result.output
    plan = tiny_plan(tmp_path / "plan")
    result = CliRunner().invoke(main, ["run", str(plan), "--data", "nope"])
    assert result.exit_code == 2 and "unknown data set" in result.output
    result = CliRunner().invoke(main, ["run", str(plan), "--address", "auto"])
    assert result.exit_code == 2 and "--executor ray" in result.output
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(MtlspecError, match=r"pip install 'mtlspec\[ray\]'"):
        check_options(ExecutorOptions(kind="ray"))


def test_pairs_plan_gives_a_pairs_table_the_recommender_reads(reference, tmp_path):
    from mtlspec.search.treemtl.pairs import load_pairs
    from tests.plan.fixtures import BASE

    (tmp_path / "base.mtl").write_text(BASE)
    plan = tmp_path / "pairs"
    made = CliRunner().invoke(main, ["recommend", "plan", "--spec", str(tmp_path / "base.mtl"),
                                     "-o", str(plan)])
    assert made.exit_code == 0, made.output
    report = run_plan(plan, SETTINGS, ExecutorOptions(workers=2), progress=False)
    assert len(report.trained) == 2 + 2 and report.tables == [str(plan / "pairs.csv")]
    table = load_pairs(plan / "pairs.csv", tasks=["left", "parity"])
    singles = {t: json.loads((plan / "results" / f"{t}.json").read_text())["val"][t]
               for t in ("left", "parity")}
    assert table.single == {t: {"accuracy": v} for t, v in singles.items()}
    chosen = CliRunner().invoke(main, ["recommend", "--spec", str(tmp_path / "base.mtl"),
                                       "--pairs", str(plan / "pairs.csv"), "--top", "1",
                                       "--json"])
    assert chosen.exit_code == 0, chosen.output
