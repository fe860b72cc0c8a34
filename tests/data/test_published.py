"""The published tables ship with mtlspec and are read by name from any directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mtlspec.data.published import TABLES, named
from mtlspec.errors import MtlspecError
from mtlspec.search.grouping.table import load_table
from mtlspec.search.treemtl.pairs import load_pairs

ROOT = Path(__file__).resolve().parents[2]


def _mtlspec(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mtlspec", *args], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, "COLUMNS": "200"}, check=False)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_named_table_loads_with_its_task_names(name: str):
    table = TABLES[name]
    if table.kind == "grouping":
        loaded = load_table(name)
        assert loaded.tasks == table.tasks
        # row 1: five half-size singles; rows 2..32: every non-empty subset of five tasks
        # (the authors' early-stopped Setting 4 file lacks one of the 31)
        assert len(loaded.candidates) == 5 + 31 - (name == "standley:setting4-esa")
    else:
        loaded = load_pairs(name)
        assert loaded.tasks == table.tasks and loaded.blocks == 5
        assert (loaded.delta[:, :, 0] == 0).all()   # branch 0: separate networks


def test_a_named_table_is_the_same_table_as_its_file():
    by_name = load_table("standley:setting3-esa")
    by_path = load_table(TABLES["standley:setting3-esa"].path)
    assert by_name.candidates == by_path.candidates
    assert TABLES["standley:setting3-esa"].path.name == "results_small_data_at4.txt"


def test_pairs_by_name_are_ordered_by_tasks():
    table = load_pairs("treemtl:nyuv2-resnet34", tasks=["depth", "segment", "normal"])
    same = load_pairs("treemtl:nyuv2-resnet34")
    assert table.tasks == ("depth", "segment", "normal")
    # Δ(depth with segment) is the file's (2, 0) entry: ids 0 = segment, 1 = normal, 2 = depth
    assert table.delta[0, 1, 3] == same.delta[2, 0, 3]


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(MtlspecError, match=r"unknown published table `standley:setting9`"
                       r"(.|\n)*did you mean `standley:setting\d`") as err:
        named("standley:setting9", kind="grouping")
    assert "standley:setting1-test" in str(err.value)
    assert "treemtl:" not in str(err.value)        # only names of the asked-for kind
    with pytest.raises(MtlspecError, match="is a pairs table, not a grouping table"):
        load_table("treemtl:nyuv2-resnet34")


def test_group_sweep_by_name_from_any_directory(tmp_path: Path):
    out = _mtlspec("group", "--table", "standley:setting1", "--sweep", "1:5:0.5", "--json",
                   cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["rows"]
    assert [r["budget"] for r in rows] == [1 + 0.5 * i for i in range(9)]
    # the file gives the same selections
    path = _mtlspec("group", "--table", str(TABLES["standley:setting1"].path), "--sweep",
                    "1:5:0.5", "--json", cwd=tmp_path)
    assert json.loads(path.stdout)["rows"] == rows


def test_unknown_table_name_on_the_command_line_exits_2(tmp_path: Path):
    out = _mtlspec("group", "--table", "standley:settng1", "--budget", "2", cwd=tmp_path)
    assert out.returncode == 2
    assert "did you mean `standley:setting1`" in out.stderr and "Traceback" not in out.stderr
    out = _mtlspec("recommend", "--spec", str(ROOT / "specs/multidigits_tree.mtl"),
                   "--pairs", "treemtl:nyu", cwd=tmp_path)
    assert out.returncode == 2 and "treemtl:nyuv2-resnet34" in out.stderr


def test_datasets_lists_every_table(tmp_path: Path):
    out = _mtlspec("datasets", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert [t["name"] for t in json.loads(out.stdout)["tables"]] == list(TABLES)
    text = _mtlspec("datasets", cwd=tmp_path).stdout
    assert all(name in text for name in TABLES)


def test_nothing_in_the_repository_reads_outside_it():
    """The clone must pass on its own: no path to a `shared` folder beside the repository."""
    out = subprocess.run(["git", "grep", "-n", "-E", r"\.\./shared|parents\[[0-9]+\] */ *.shared",
                          "--", ":!*.md"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 1, out.stdout     # git grep: 1 = no match
