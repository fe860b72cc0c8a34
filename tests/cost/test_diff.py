"""`mtlspec cost --save`, `mtlspec diff` and `mtlspec check --against`: hand-made spec pairs
whose deltas are worked out by hand, saved reports and their checks, git revisions, and the
exit codes (0 ok, 1 a regression, 2 bad input).

The tiny spec: convnet(depth=2, width=4, in_channels=1) on 1×1×8×8 in two blocks. Block 2 is
a 3×3 conv 4→4 without bias (4·4·9 = 144 weights) and a BatchNorm (2·4 = 8): 152 params;
block 1 (1→4): 36 + 8 = 44. A `linear(classes=K)` head on 4 channels holds 4K + K params and
costs 4K MACs plus its pooling (the same for every K).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.cost.saved import load_saved

TINY = """model tiny {
  input image: float[1, 1, 8, 8]
  backbone convnet(depth=2, width=4, in_channels=1) { blocks: auto(2) }
  tasks {
    a: head linear(classes=10)
    b: head linear(classes=2)
  }
  layout [
    {a, b}
    ROW2
  ]
}
"""
SHARED = TINY.replace("ROW2", "{a, b}")
SPLIT = TINY.replace("ROW2", "{a} {b}")
BASE_PARAMS = 44 + 152 + (40 + 10) + (8 + 2)  # blocks, head a, head b


def run(*args, cwd: Path | None = None):
    return CliRunner().invoke(main, [*map(str, args)], catch_exceptions=False)


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    (tmp_path / "shared.mtl").write_text(SHARED)
    (tmp_path / "split.mtl").write_text(SPLIT)
    (tmp_path / "head.mtl").write_text(SHARED.replace("classes=10", "classes=3"))
    return tmp_path


def diff_json(base: Path | str, new: Path | str) -> dict:
    result = run("diff", base, new, "--output-format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_splitting_a_block_adds_one_copy_of_it(specs: Path):
    data = diff_json(specs / "shared.mtl", specs / "split.mtl")
    assert data["spec_changes"] == [{"item": "layout row 2", "layout": True,
                                     "before": "{a, b}", "after": "{a} {b}"}]
    nodes = {(n["name"], tuple(n["tasks"])): n for n in data["nodes"]}
    assert nodes[("block 2", ("a", "b"))]["status"] == "removed"
    for task in ("a", "b"):
        added = nodes[("block 2", (task,))]
        assert added["status"] == "added" and added["params"]["new"] == 152
    assert nodes[("block 1", ("a", "b"))]["status"] == "same"
    total = data["total"]
    assert total["params"] == {"base": BASE_PARAMS, "new": BASE_PARAMS + 152, "change": 152,
                               "relative": pytest.approx(152 / BASE_PARAMS)}
    block2 = nodes[("block 2", ("a", "b"))]["macs"]["base"]
    assert total["macs"]["change"] == block2  # one more copy of block 2, nothing else
    # a task's path counts shared nodes in full: splitting changes no path
    assert all(t["macs"]["change"] == 0 and t["params"]["change"] == 0 for t in data["tasks"])


def test_a_smaller_head_is_the_only_change(specs: Path):
    data = diff_json(specs / "shared.mtl", specs / "head.mtl")
    assert [c["item"] for c in data["spec_changes"]] == ["task a"]
    heads = {h["name"]: h for h in data["heads"]}
    assert heads["a"]["params"]["change"] == (4 * 3 + 3) - (4 * 10 + 10) == -35
    assert heads["a"]["macs"]["change"] == 4 * 3 - 4 * 10 == -28
    assert heads["b"]["status"] == "same"
    paths = {t["name"]: t for t in data["tasks"]}
    assert paths["a"]["macs"]["change"] == -28 and paths["b"]["macs"]["change"] == 0
    assert data["total"]["params"]["change"] == -35


def test_text_report_shows_changed_rows_and_the_layout_row(specs: Path):
    result = run("diff", specs / "shared.mtl", specs / "split.mtl")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "layout row 2: {a, b} → {a} {b}" in out
    assert "block 2 {a, b}" in out and "removed" in out and "added" in out
    assert f"+152 params (+{152 / BASE_PARAMS * 100:.2f}%)" in out
    assert "1 node unchanged (not shown)" in out


def test_a_saved_report_is_a_baseline(specs: Path):
    saved = specs / "base.json"
    result = run("cost", specs / "shared.mtl", "--save", saved)
    assert result.exit_code == 0 and f"saved the report to {saved}" in result.stdout
    report = load_saved(saved.read_text(), "base.json")
    assert report.version == 1 and report.spec_text == SHARED and report.total.params == (
        BASE_PARAMS)
    same = diff_json(saved, specs / "shared.mtl")
    assert same["spec_changes"] == [] and same["total"]["macs"]["change"] == 0
    assert diff_json(saved, specs / "split.mtl")["total"]["params"]["change"] == 152
    # `cost --json` prints the same document `--save` writes
    printed = json.loads(run("cost", specs / "shared.mtl", "--json").stdout)
    assert printed == json.loads(saved.read_text())


@pytest.mark.parametrize(("limit", "code"), [("50%", 1), ("60", 0), ("0%", 1)])
def test_check_against_a_baseline(specs: Path, limit: str, code: int):
    run("cost", specs / "shared.mtl", "--save", specs / "base.json")
    (specs / "tiny.mtl").write_text(SPLIT)  # +152 params = +59.38%
    result = run("check", specs / "tiny.mtl", "--against", specs / "base.json",
                 "--max-increase", limit)
    assert result.exit_code == code, result.output
    if code:
        assert "regression: total params grew +59.38%" in result.stdout
        assert "block 2 {a} +152 params (added)" in result.stdout
        assert "layout row 2: {a, b} → {a} {b}" in result.stdout
        assert "against the baseline (tiny)" in result.output


def test_a_task_path_that_grows_is_named(specs: Path):
    bigger = SHARED.replace("classes=2", "classes=20")  # head b: 10 → 100 params, +72 MACs
    (specs / "tiny.mtl").write_text(bigger)
    result = run("check", specs / "tiny.mtl", "--against", specs / "shared.mtl",
                 "--max-increase", "1%", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    over = {g["what"]: g for g in data["against"] if g["over"]}
    assert set(over) == {"total MACs", "total params", "task b: path MACs",
                         "task b: path params"}
    assert over["task b: path params"]["change"] == 90
    assert over["task b: path MACs"]["change"] == 4 * 20 - 4 * 2
    assert over["task b: path params"]["sources"] == ["head b +90 params (+900.00%)"]
    assert data["spec_changes"][0]["item"] == "task b"


def test_a_baseline_of_another_spec_is_an_error(specs: Path):
    (specs / "other.mtl").write_text(SHARED.replace("model tiny", "model other"))
    run("cost", specs / "other.mtl", "--save", specs / "other.json")
    result = run("check", specs / "shared.mtl", specs / "split.mtl", "--against",
                 specs / "other.json")
    assert result.exit_code == 2
    assert "matches none of the checked specs" in result.output


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: {"format": "other"}, 'not a saved cost report (no "format": "mtlspec-cost")'),
    (lambda d: {**d, "version": 2}, "format version 2; this mtlspec reads version 1"),
    (lambda d: {**d, "total": {**d["total"], "macs": "many"}}, "total.macs: Input should be"),
    (lambda d: {**d, "total": {**d["total"], "macs": d["total"]["macs"] + 1}},
     "nodes and heads add up to"),
    (lambda d: {**d, "spec_text": d["spec_text"] + " "}, "spec_text does not match"),
    (lambda d: {k: v for k, v in d.items() if k != "nodes"}, "nodes: Field required"),
])
def test_a_bad_baseline_exits_2(specs: Path, edit, message: str):
    run("cost", specs / "shared.mtl", "--save", specs / "base.json")
    data = json.loads((specs / "base.json").read_text())
    (specs / "bad.json").write_text(json.dumps(edit(data)))
    for args in (("diff", specs / "bad.json", specs / "shared.mtl"),
                 ("check", specs / "shared.mtl", "--against", specs / "bad.json")):
        result = run(*args)
        assert result.exit_code == 2 and message in result.output, result.output
        assert "Traceback" not in result.output


def test_bad_arguments_exit_2(specs: Path):
    (specs / "broken.json").write_text("{not json")
    cases = [
        (("diff", specs / "broken.json", specs / "shared.mtl"), "invalid JSON"),
        (("diff", specs / "missing.mtl", specs / "shared.mtl"), "cannot read"),
        (("check", specs / "shared.mtl", "--max-increase", "5%"), "needs --against"),
        (("check", specs / "shared.mtl", "--against", specs / "shared.mtl",
          "--max-increase", "lots"), "not a percentage"),
        (("check", specs / "shared.mtl", "--against", specs / "shared.mtl",
          "--max-increase", "-5%"), "≥ 0"),
        (("diff", "git:", specs / "shared.mtl"), "expected git:REV:PATH"),
        (("diff", "git:HEAD", specs / "shared.mtl"), "name the file too"),
    ]
    for args, message in cases:
        result = run(*args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_revisions(specs: Path, monkeypatch: pytest.MonkeyPatch):
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(specs), *args], check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "0")
    (specs / "tiny.mtl").write_text(SHARED)
    git("add", "tiny.mtl")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "tiny")
    (specs / "tiny.mtl").write_text(SPLIT)
    (specs / "new.mtl").write_text(SHARED.replace("model tiny", "model fresh"))
    monkeypatch.chdir(specs)
    data = diff_json("git:HEAD:tiny.mtl", "tiny.mtl")
    assert data["total"]["params"]["change"] == 152 and data["base"] == "git:HEAD:tiny.mtl"
    gate = run("check", "tiny.mtl", "new.mtl", "--against", "git:HEAD", "--max-increase", "5%")
    assert gate.exit_code == 1 and "regression: total params grew" in gate.stdout
    assert "new.mtl: no baseline in git:HEAD: a new spec" in gate.stdout
    # the working tree is untouched (git show, no checkout)
    assert (specs / "tiny.mtl").read_text() == SPLIT
    for args, message in [
        (("diff", "git:nope:tiny.mtl", "tiny.mtl"), "invalid object name 'nope'"),
        (("diff", "git:HEAD:absent.mtl", "tiny.mtl"), "does not exist in 'HEAD'"),
        (("check", "tiny.mtl", "--against", "git:nope"), "invalid object name 'nope'"),
        (("diff", "git:HEAD~5:tiny.mtl", "tiny.mtl"), "git cannot read it"),
    ]:
        result = run(*args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)
