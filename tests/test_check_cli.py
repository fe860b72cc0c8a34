"""`mtlspec check` and `mtlspec cost` on the small CoNAL convnet spec (fast): budgets from the
spec and from flags, exit codes, the boundary (a limit equal to the cost passes), JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.compile import compile
from mtlspec.cost import cost
from mtlspec.spec import load
from mtlspec.spec.numbers import parse_count

ROOT = Path(__file__).resolve().parents[1]
CONAL = ROOT / "specs" / "conal_multidigits.mtl"
BUDGET = "budget { gmacs <= 1; params <= 1M }"


@pytest.fixture(scope="module")
def truth():
    """The cost report of the spec, computed through the Python API."""
    return cost(compile(load(str(CONAL)).spec))


def with_budget(tmp_path: Path, budget: str, name: str = "spec.mtl") -> Path:
    text = CONAL.read_text()
    assert BUDGET in text
    path = tmp_path / name
    path.write_text(text.replace(BUDGET, budget))
    return path


def run(*args: str):
    return CliRunner().invoke(main, [*map(str, args)])


def test_within_the_specs_own_budget_exits_0():
    result = run("check", CONAL)
    assert result.exit_code == 0, result.output
    assert "gmacs (spec)" in result.output and "params (spec)" in result.output
    assert "OVER" not in result.output


def test_over_the_specs_own_budget_exits_1_with_a_table(tmp_path: Path, truth):
    path = with_budget(tmp_path, "budget { gflops <= 0.0005; params <= 1M; units <= 1.5 }")
    result = run("check", path)
    assert result.exit_code == 1, result.output
    rows = {line.split("│")[2].strip(): line for line in result.stdout.splitlines()
            if "│" in line and "conal_multidigits" in line}
    assert set(rows) == {"gmacs (spec)", "params (spec)", "units (spec)"}
    assert "OVER" in rows["gmacs (spec)"] and "OVER" in rows["units (spec)"]
    assert "ok" in rows["params (spec)"]
    gmacs = truth.flops / 1e9
    assert f"+{gmacs - 0.0005:.4g} (+{(gmacs / 0.0005 - 1) * 100:.2f}%)" in rows["gmacs (spec)"]
    assert "2 budgets exceeded (conal_multidigits)" in result.output
    assert "Traceback" not in result.output


def test_flags_apply_to_every_spec_and_accept_suffixes(tmp_path: Path, truth):
    other = with_budget(tmp_path, "", name="no_budget.mtl")
    over = run("check", CONAL, other, "--max-params", "50K")
    assert over.exit_code == 1 and over.stdout.count("params (--max-params)") == 2
    within = run("check", CONAL, other, "--max-params", "1.5M", "--max-gmacs", "0.01")
    assert within.exit_code == 0, within.output
    # --max-gflops is a synonym of --max-gmacs (both limit MACs)
    synonym = run("check", CONAL, other, "--max-gflops", "0.0001")
    assert synonym.exit_code == 1 and synonym.stdout.count("gmacs (--max-gmacs)") == 2
    assert truth.params > 50_000 and truth.flops < 0.01e9 and truth.params < 1_500_000


def test_a_limit_equal_to_the_cost_passes(truth):
    assert run("check", CONAL, "--max-params", truth.params).exit_code == 0
    assert run("check", CONAL, "--max-params", truth.params - 1).exit_code == 1


def test_units_budget_uses_the_reports_units(tmp_path: Path, truth):
    assert 1.9 < truth.units < 2.0  # three branch points: ~1.96 single-task networks
    assert run("check", with_budget(tmp_path, "budget { units <= 2 }")).exit_code == 0
    assert run("check", with_budget(tmp_path, "budget { units <= 1.9 }")).exit_code == 1


def test_a_spec_without_budget_or_flags_passes_and_says_so(tmp_path: Path):
    result = run("check", with_budget(tmp_path, ""))
    assert result.exit_code == 0 and "no budget" in result.output


def test_json_report(tmp_path: Path, truth):
    result = run("check", CONAL, "--max-gmacs", "0.0001", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["errors"] == [] and report["no_budget"] == []
    checks = {(c["what"], c["source"]): c for c in report["checks"]}
    assert set(checks) == {("gmacs", "spec"), ("params", "spec"), ("gmacs", "--max-gmacs")}
    flag = checks[("gmacs", "--max-gmacs")]
    assert flag["over"] and flag["actual"] == pytest.approx(truth.flops / 1e9)
    assert flag["relative"] == pytest.approx(truth.flops / 1e5 - 1)
    assert checks[("params", "spec")] | {"over": False} == checks[("params", "spec")]


def test_a_bad_spec_exits_2_even_next_to_an_over_budget_one(tmp_path: Path):
    bad = tmp_path / "bad.mtl"
    bad.write_text(CONAL.read_text().replace("{left} {right} {parity}\n  ]", "{left}\n  ]"))
    result = run("check", bad, CONAL, "--max-params", "1K")
    assert result.exit_code == 2
    assert "bad.mtl" in result.output and "params (--max-params)" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("bad", ["-5", "1T", "lots", "1.2.3"])
def test_bad_counts_are_usage_errors(bad: str):
    result = run("check", CONAL, "--max-params", bad)
    assert result.exit_code == 2 and "--max-params" in result.output


def test_parse_count():
    assert parse_count("60M") == 60_000_000
    assert parse_count("1.5K") == 1500
    assert parse_count("2G") == 2_000_000_000
    assert parse_count("93878") == 93878
    with pytest.raises(ValueError):
        parse_count("")
    # the spec's rule: suffixes in capitals (`m` would read as milli)
    with pytest.raises(ValueError, match="in capitals"):
        parse_count("1.5k")
    result = run("check", CONAL, "--max-params", "60m")
    assert result.exit_code == 2 and "in capitals" in result.output


def test_cost_json_adds_up(truth):
    result = run("cost", CONAL, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total"]["macs"] == truth.flops == (
        sum(n["macs"] for n in data["nodes"]) + sum(h["macs"] for h in data["heads"].values()))
    assert data["total"]["gmacs"] == truth.flops / 1e9
    assert data["total"]["params"] == truth.params
    assert [n["name"] for n in data["nodes"]][:3] == ["block 1", "block 2", "block 2"]
    assert list(data["tasks"]) == ["left", "right", "parity"]
    independent = sum(t["independent_macs"] for t in data["tasks"].values())
    assert data["vs_independent"]["macs"] == pytest.approx(truth.flops / independent - 1)
    # a task's path: the nodes that serve it and its head
    left = sum(n["macs"] for n in data["nodes"] if "left" in n["tasks"])
    assert data["tasks"]["left"]["path_macs"] == left + data["heads"]["left"]["macs"]
    assert "flops" not in json.dumps(data)  # one unit, named by every key


def test_cost_text_shows_nodes_tasks_and_the_saving(truth):
    result = run("cost", CONAL)
    assert result.exit_code == 0, result.output
    saving = f"MACs {(truth.flops_vs_independent * 100):+.2f}%".replace("-", "−")
    assert saving in result.output and "independent single-task networks" in result.output
    assert "block 5" in result.output and "KMACs" in result.output and "FLOP" not in result.output
