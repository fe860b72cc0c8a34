"""`mtlspec enumerate`, `mtlspec recommend [plan]`, `mtlspec import treemtl` end to end."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.data.published import HERE as PUBLISHED
from mtlspec.search.treemtl import layouts as lay
from mtlspec.spec import format as format_spec
from mtlspec.spec import load, parse, validate

DATA = PUBLISHED / "treemtl"
CONAL = Path("specs/conal_multidigits.mtl").read_text()
CONAL4 = CONAL.replace("    parity: head linear(classes=2)\n",
                       "    parity: head linear(classes=2)\n    has7: head linear(classes=2)\n"
                       ).replace("{parity}", "{parity} {has7}").replace(
                           "{left, right, parity}", "{left, right, parity, has7}")


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def test_enumerate():
    assert run("enumerate", "--tasks", 9, "--blocks", 5, "--count") == (0, "1051951026\n")
    code, out = run("enumerate", "--tasks", "a,b,c", "--blocks", 2)
    assert code == 0 and len(out.splitlines()) == lay.count(3, 2)
    assert out.splitlines()[1] == "1\t{a, b, c} | {a, b} {c}"
    code, out = run("enumerate", "--tasks", "segment,normal,depth", "--blocks", 5, "--id", 2,
                    "--json")
    data = json.loads(out)
    assert data["rows"][-1] == [["segment", "depth"], ["normal"]]
    assert data["branch_points"]["segment,depth"] == 5
    code, out = run("enumerate", "--tasks", 3, "--blocks", 5, "--id", 51)
    assert code == 2 and "out of range" in out


def _write_pairs(path: Path, tasks, blocks, seed=0):
    rng = np.random.default_rng(seed)
    lines = ["task_a,task_b,branch,task,metric,value,direction"]
    for a, b in itertools.combinations(tasks, 2):
        for br in range(blocks + 1):
            for t in (a, b):
                value = 0.8 if br == 0 else 0.8 + rng.normal(0, 0.05)
                lines.append(f"{a},{b},{br},{t},acc,{value},higher")
    path.write_text("\n".join(lines) + "\n")


def test_end_to_end_four_tasks_two_models(tmp_path):
    from mtlspec.compile import compile
    from mtlspec.cost import cost

    base = tmp_path / "conal4.mtl"
    base.write_text(CONAL4)
    tasks = [t.name for t in validate(load(base)).tasks]
    _write_pairs(tmp_path / "pairs.csv", tasks, 5)
    code, out = run("recommend", "--spec", base, "--pairs", tmp_path / "pairs.csv",
                    "--max-models", 2, "--top", 3, "-o", tmp_path / "out", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["space"] == lay.count(4, 5) == data["searched"]
    assert [r["rank"] for r in data["top"]] == [1, 2, 3]
    top = tmp_path / "out" / data["top"][0]["spec"]
    text = top.read_text()
    spec = validate(parse(text))
    assert format_spec(spec) == text  # canonical
    report = cost(compile(spec))
    one = sum(report.independent.values()) / len(tasks)  # one backbone + a head
    heads = sum(f for f, _ in report.heads.values())
    assert report.flops - heads <= 2 * (one - heads / len(tasks)) + 1
    assert report.flops <= spec.budget.gmacs * 1e9
    assert report.flops == pytest.approx(data["top"][0]["gmacs"] * 1e9)
    assert (tmp_path / "out" / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "out" / "ranking.json").read_text())["top"] == data["top"]


def test_published_resnet34_table(tmp_path):
    """The shipped nyuv2_resnet34 layout vs the recommender's choice on the same table."""
    from mtlspec.search.treemtl.pairs import load_pairs
    from mtlspec.search.treemtl.report import score_layouts

    small = tmp_path / "nyu.mtl"
    small.write_text(Path("specs/nyuv2_resnet34.mtl").read_text().replace(
        "float[1, 3, 288, 384]", "float[1, 3, 64, 64]"))
    csv_path = DATA / "NYUv2_2task_metrics_resnet_1129_val_acc.csv"
    oracle = tmp_path / "oracle.csv"
    oracle.write_text('layout,score\n0,4.0\n2,3.5\n5,4.1\n"[[{0, 1, 2}], [{0}, {1}, {2}], '
                      '[{0}, {1}, {2}], [{0}, {1}, {2}], [{0}, {1}, {2}]]",-1\n')
    code, out = run("recommend", "--spec", small, "--pairs", csv_path, "--top", 51, "--json",
                    "--evaluate", oracle)
    assert code == 0, out
    data = json.loads(out)
    table = load_pairs(csv_path, tasks=["segment", "normal", "depth"])
    every = score_layouts(list(lay.layouts(3, 5)), table)
    assert data["top"][0]["score"] == pytest.approx(every.max())
    shipped = lay.rank(lay.from_spec(validate(load("specs/nyuv2_resnet34.mtl"))))
    ranks = {r["layout"]: r["rank"] for r in data["top"]}
    assert data["top"][ranks[shipped] - 1]["score"] == pytest.approx(every[shipped])
    assert -1 <= data["evaluation"]["spearman"] <= 1 and data["evaluation"]["layouts"] == 4


def test_plan_command(tmp_path):
    base = tmp_path / "conal.mtl"
    base.write_text(CONAL)
    code, out = run("recommend", "plan", "--spec", base, "-o", tmp_path / "plan")
    assert code == 0, out
    manifest = json.loads((tmp_path / "plan" / "manifest.json").read_text())
    assert manifest["kind"] == "pairs" and len(manifest["entries"]) == 3 + 3 * 5
    assert sorted(p.name for p in (tmp_path / "plan").glob("*.mtl")) == sorted(
        e["spec"] for e in manifest["entries"])


def test_import_treemtl(tmp_path):
    out_path = tmp_path / "out.mtl"
    text = "[[{0, 1, 2}], [{0, 1, 2}], [{2}, {0, 1}], [{0, 1}, {2}], [{0}, {2}, {1}]]"
    code, out = run("import", "treemtl", text, "--tasks", "left,parity,right",
                    "--base", "specs/conal_multidigits.mtl", "-o", out_path)
    assert code == 0, out
    spec = validate(load(out_path))
    rows = [sorted(sorted(g) for g in row) for row in spec.layout]
    assert rows[2] == [["left", "parity"], ["right"]]  # ids follow --tasks
    assert out_path.read_text() == format_spec(spec)
    code, out = run("import", "treemtl", "[[{0, 1}]]", "--base", "specs/conal_multidigits.mtl")
    assert code == 2 and "error" in out


def test_bad_inputs_exit_2(tmp_path):
    bad = tmp_path / "pairs.csv"
    bad.write_text("task_a,task_b,branch,task,metric,value,direction\nleft,right,0,left,a,x,\n")
    code, out = run("recommend", "--spec", "specs/conal_multidigits.mtl", "--pairs", bad)
    assert code == 2 and "pairs.csv:2: not a number" in out
    code, out = run("recommend", "--spec", "specs/conal_multidigits.mtl", "--pairs", bad,
                    "--max-models", 2, "--max-gflops", 1)
    assert code == 2 and "at most one" in out
