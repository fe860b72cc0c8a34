"""`mtlspec group`: specs from selections, budget sweeps, plots, and errors as exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.data.published import HERE as PUBLISHED
from mtlspec.search.grouping.report import parse_sweep, sweep
from mtlspec.search.grouping.selection import select
from mtlspec.search.grouping.spec import to_spec
from mtlspec.search.grouping.table import load_table
from mtlspec.spec import GroupingSpec, load, parse, validate
from mtlspec.spec import format as format_spec

ROOT = Path(__file__).resolve().parents[3]
DATA = PUBLISHED / "standley"
VAL, TEST, EARLY = (str(DATA / n) for n in ("results.txt", "results_test.txt", "results_20.txt"))
SHIPPED = str(ROOT / "specs" / "taskonomy_grouping_2_5.mtl")


def run(*args: str):
    return CliRunner().invoke(main, ["group", *args])


def test_regenerates_the_shipped_spec(tmp_path: Path):
    out = tmp_path / "grouping.mtl"
    result = run("--table", VAL, "--budget", "2.5", "--base-spec", SHIPPED, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert load(str(out)).spec == load(SHIPPED).spec
    assert "total on" in result.stderr and "0.45076" in result.stderr
    assert CliRunner().invoke(main, ["validate", str(out)]).exit_code == 0
    assert CliRunner().invoke(main, ["fmt", "--check", str(out)]).exit_code == 0


def test_without_a_base_spec_the_spec_uses_defaults_and_goes_to_stdout():
    result = run("--table", VAL, "--budget", "1.5")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert validate(parse(text)).name == "grouping_1_5"
    assert text.startswith("grouping grouping_1_5 {")
    assert "network A: torchvision.resnet18(width=1.0) trains {depth, normal, keypoint, edge}" \
        in text
    assert "network B: torchvision.resnet18(width=0.5) trains {segment} serves {segment}" in text
    assert "budget { units <= 1.5 }" in text


def test_to_spec_validates_and_orders_networks():
    table = load_table(VAL)
    spec = to_spec(select(table, 3.5), table, base=load(SHIPPED).spec, budget=3.5)
    assert isinstance(spec, GroupingSpec) and validate(spec) is spec
    assert [(n.name, n.width) for n in spec.networks] == [
        ("A", 1.0), ("B", 1.0), ("C", 1.0), ("D", 0.5)]
    assert sorted(t for n in spec.networks for t in n.serves) == sorted(table.tasks)
    assert "network D: torchvision.resnet18(width=0.5) trains {normal}" in format_spec(spec)


def test_a_tree_base_with_its_own_convnet_width_folds_into_the_network_width():
    from mtlspec.search.grouping.table import Candidate, make_table

    base = validate(parse("""model base {
  input image: float[1, 1, 8, 16]
  backbone convnet(depth=2, width=16, in_channels=1) { blocks: auto(2) }
  tasks { a: head linear(classes=10); b: head linear(classes=2) }
  layout [ {a, b}; {a} {b} ]
}"""))
    table = make_table(["a", "b"], [Candidate("a+b", 1.0, 1.0, {"a": 0.2, "b": 0.3}),
                                    Candidate("a@0.5", 0.5, 0.5, {"a": 0.1})])
    spec = to_spec(select(table, 1.5), table, base=base)
    # convnet(width=16) is half the registered convnet (32 channels): widths 1 → 0.5, 0.5 → 0.25
    assert sorted((n.width, n.args.get("width")) for n in spec.networks) == [
        (0.25, None), (0.5, None)]
    assert validate(spec) is spec


def test_single_budget_json_report():
    result = run("--table", VAL, "--budget", "2.5", "--eval", TEST, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["table"] == pytest.approx(0.45076) and report["cost"] == 2.5
    assert report["eval"] == pytest.approx(0.44612)
    assert [n["name"] for n in report["networks"]] == [
        "normal@0.5", "segment+depth+normal", "normal+keypoint+edge"]
    assert report["spec"].startswith("grouping ")


def test_sweep_json_for_every_method():
    for method, extra in [("optimal", []), ("hoa", []), ("esa", ["--early", EARLY])]:
        result = run("--table", VAL, "--sweep", "1:5:0.5", "--method", method, *extra,
                     "--eval", TEST, "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert [r["budget"] for r in data["rows"]] == parse_sweep("1:5:0.5")
        optimal = {r.budget: r.table for r in sweep(load_table(VAL), parse_sweep("1:5:0.5"))}
        for row in data["rows"]:
            assert row["cost"] <= row["budget"]
            assert row["table"] >= optimal[row["budget"]] - 1e-12  # nothing beats the optimum
        assert data["baselines"]["one network per task"]["table"] == pytest.approx(0.45313)
        if method == "optimal":
            assert data["rows"][3]["table"] == pytest.approx(0.45076)


def test_sweep_table_and_plot(tmp_path: Path):
    png = tmp_path / "tradeoff.png"
    result = run("--table", VAL, "--sweep", "1:5:0.5", "--eval", TEST, "--method", "hoa",
                 "--plot", str(png))
    assert result.exit_code == 0, result.output
    assert "hoa estimate" in result.stdout and "total (results_test.txt)" in result.stdout
    assert "all tasks in one network" in result.stdout and "0.50761" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_marks_budgets_too_small():
    result = run("--table", VAL, "--sweep", "0:1:0.5", "--json")
    rows = json.loads(result.stdout)["rows"]
    assert [r["networks"] is None for r in rows] == [True, True, False]


def test_parse_sweep_has_no_float_drift():
    assert parse_sweep("0.1:0.3:0.1") == [0.1, 0.2, 0.3]
    assert parse_sweep("2:2:1") == [2.0]


@pytest.mark.parametrize(("args", "message"), [
    (["--budget", "0.75"], "cheapest cover costs 1"),
    (["--budget", "-1"], "finite number ≥ 0"),
    (["--sweep", "1:5"], "--sweep expects START:STOP:STEP"),
    (["--sweep", "1:x:0.5"], "--sweep expects START:STOP:STEP"),
    (["--sweep", "5:1:0.5"], "need 0 ≤ START ≤ STOP and STEP > 0"),
    (["--sweep", "1:5:0"], "need 0 ≤ START ≤ STOP and STEP > 0"),
    (["--sweep", "0:1e9:1"], "the limit is 10000"),
    ([], "exactly one of --budget"),
    (["--budget", "1", "--sweep", "1:2:1"], "exactly one of --budget"),
    (["--budget", "1", "--plot", "x.png"], "--plot draws a budget sweep"),
    (["--sweep", "1:2:1", "-o", "x.mtl"], "drop -o"),
    (["--budget", "1", "--method", "esa"], "pass --early"),
    (["--budget", "1", "--early", VAL], "--early is the selection table of --method esa"),
    (["--budget", "1", "--base-spec", str(ROOT / "specs" / "nyuv2_dag.mtl")], "DAG spec"),
    (["--budget", "1", "--base-spec", str(ROOT / "specs" / "nyuv2_resnet34.mtl")],
     "unknown task column `keypoint`: the base spec `nyuv2_resnet34` declares"),
    (["--budget", "1", "--format", "csv"], "no `cost` column"),
])
def test_bad_input_exits_2_with_a_message(args: list[str], message: str):
    result = run("--table", VAL, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: ")
    assert re.search(message, result.stderr), result.stderr


def test_bad_tables_exit_2(tmp_path: Path):
    cases = {
        "malformed.csv": ("cost,segment\n1,0.1,0.2\n", "3 cells, but the header has 2"),
        "negative.csv": ("cost,segment\n-0.5,0.1\n", "cost must be a finite number ≥ 0"),
        "unknown.csv": ("cost,segment,dept\n1,0.1,0.2\n", "unknown task column `dept`"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        result = run("--table", str(path), "--budget", "1", "--base-spec", SHIPPED)
        assert result.exit_code == 2 and message in result.stderr, result.output
        assert "Traceback" not in result.output


def test_a_failed_run_leaves_the_output_untouched(tmp_path: Path):
    out = tmp_path / "grouping.mtl"
    out.write_text("previous\n")
    result = run("--table", VAL, "--budget", "0.5", "-o", str(out))
    assert result.exit_code == 2
    assert out.read_text() == "previous\n"


@pytest.mark.parametrize("method", ["hoa", "esa"])
def test_an_approximate_sweep_reports_the_networks_it_counts(method):
    # Setting 2, ESA at budget 1.5: the early-stopped values pick all-in-one plus a
    # half-width single, which the trained values leave serving nothing. The row must then
    # neither list nor count it: cost, networks and every total describe the same networks.
    tables = {n: load_table(f"standley:setting2{n}") for n in ("", "-esa", "-test")}
    chooser = tables["-esa"] if method == "esa" else None
    extra = ["--early", "standley:setting2-esa"] if method == "esa" else []
    result = run("--table", "standley:setting2", "--method", method, *extra,
                 "--sweep", "1:5:0.5", "--eval", "standley:setting2-test", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["budget"]: r for r in json.loads(result.stdout)["rows"]}
    for r in sweep(tables[""], parse_sweep("1:5:0.5"), method=method, early=chooser,
                   eval_table=tables["-test"]):
        row, chosen = rows[r.budget], r.selection
        assert all(c.serves for c in chosen.choices)  # every listed network serves a task
        assert row["cost"] == pytest.approx(sum(c.candidate.cost for c in chosen.choices))
        assert row["networks"] == chosen.describe()
        served = [(c.candidate.name, t) for c in chosen.choices for t in c.serves]
        assert sorted(t for _, t in served) == sorted(tables[""].tasks)
        for key, table in (("table", tables[""]), ("eval", tables["-test"])):
            assert row[key] == pytest.approx(sum(table.by_name(n).loss[t] for n, t in served))
    if method == "esa":
        assert rows[1.5]["networks"] == rows[1.0]["networks"]  # the idle half network is gone
        assert rows[1.5]["cost"] == 1 and rows[1.5]["selected"] == rows[1.0]["selected"]
        early = tables["-esa"].by_name("segment+depth+normal+keypoint+edge").loss
        assert rows[1.5]["selected"] == pytest.approx(sum(early.values()))
