"""2-task results: TreeMTL tables, the documented CSV/JSON formats, Δ, located errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from mtlspec.data.published import HERE as PUBLISHED
from mtlspec.errors import MtlspecError
from mtlspec.search.treemtl.pairs import load_pairs
from mtlspec.search.treemtl.pairs_table import relative, write_pairs, write_single

DATA = PUBLISHED / "treemtl"
NYU = ["segment", "normal", "depth"]


def _cell(path, column, branch):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return float(rows[branch][column])


@pytest.mark.parametrize("name, tasks", [
    ("NYUv2_2task_metrics_resnet_1129_val_acc.csv", 3),
    ("NYUv2_2task_metrics_mobilenet_0227_val_acc.csv", 3),
    ("Taskonomy_2task_metrics_resnet_0123_val_acc.csv", 5),
    ("Taskonomy_2task_metrics_mobilenet_0203_val_acc.csv", 5)])
def test_treemtl_tables_import(name, tasks):
    path = DATA / name
    table = load_pairs(path)
    assert table.tasks == tuple(str(i) for i in range(tasks)) and table.blocks == 5
    assert np.all(table.delta[:, :, 0] == 0)
    # "(0, 2)-1" is task 2's Δ when paired with task 0
    assert table.delta[2, 0, 3] == _cell(path, "(0, 2)-1", 3)
    assert table.delta[0, 2, 4] == _cell(path, "(0, 2)-0", 4)


def test_treemtl_names_follow_ids():
    table = load_pairs(DATA / "NYUv2_2task_metrics_resnet_1129_val_acc.csv", tasks=NYU)
    assert table.sequence("depth", "segment")[5] == pytest.approx(11.35310191047014)


def _long_csv(tmp_path, body, header="task_a,task_b,branch,task,metric,value,direction"):
    path = tmp_path / "pairs.csv"
    path.write_text(header + "\n" + body)
    return path


def _synthetic(tmp_path):
    lines = []
    for a, b in [("x", "y")]:
        for br, (vx, vy) in enumerate([(0.5, 2.0), (0.55, 1.8), (0.45, 2.2)]):
            lines.append(f"{a},{b},{br},{a},acc,{vx},{'higher' if br == 0 else ''}")
            lines.append(f"{a},{b},{br},{b},err,{vy},{'lower' if br == 0 else ''}")
    return _long_csv(tmp_path, "\n".join(lines) + "\n")


def test_long_csv_delta_by_hand(tmp_path):
    table = load_pairs(_synthetic(tmp_path))
    assert table.blocks == 2 and table.tasks == ("x", "y")
    assert table.sequence("x", "y") == pytest.approx([0, 10, -10])
    assert table.sequence("y", "x") == pytest.approx([0, 10, -10])  # lower error is better
    assert relative(3.0, 2.0, False) == pytest.approx(-50)


def test_single_file_overrides_branch0(tmp_path):
    single = tmp_path / "single.csv"
    single.write_text("task,metric,value,direction\nx,acc,0.4,\ny,err,2.0,lower\n")
    table = load_pairs(_synthetic(tmp_path), single=single)
    assert table.sequence("x", "y") == pytest.approx([25, 37.5, 12.5])


def test_write_then_read_round_trip(tmp_path):
    table = load_pairs(_synthetic(tmp_path))
    write_pairs(tmp_path / "out.csv", table)
    write_single(tmp_path / "single.csv", table)
    again = load_pairs(tmp_path / "out.csv", single=tmp_path / "single.csv")
    assert np.allclose(again.delta, table.delta)


def test_json_format(tmp_path):
    data = {"directions": {"x": {"acc": "higher"}, "y": {"err": "lower"}},
            "pairs": [{"tasks": ["x", "y"], "branch": b,
                       "metrics": {"x": {"acc": vx}, "y": {"err": vy}}}
                      for b, (vx, vy) in enumerate([(0.5, 2.0), (0.55, 1.8), (0.45, 2.2)])]}
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(data))
    assert np.allclose(load_pairs(path).delta, load_pairs(_synthetic(tmp_path)).delta)


@pytest.mark.parametrize("body, match", [
    ("x,y,0,z,acc,1,higher\n", r"pairs.csv:2: task z is not in the pair"),
    ("x,y,0,x,acc,one,higher\n", r"pairs.csv:2: not a number"),
    ("x,y,0,x,acc,1,up\n", r"pairs.csv:2: direction must be"),
    ("x,y,0,x,acc,1,higher\nx,y,0,y,acc,1,higher\nx,y,2,x,acc,1,\nx,y,2,y,acc,1,\n",
     r"no results for the pair \(x, y\) at branch 1"),
    ("x,y,0,x,acc,1,higher\nx,y,0,y,acc,1,\nx,y,1,x,acc,1,\nx,y,1,y,acc,1,\n",
     "no direction for y acc"),
    ("x,y,0,x,acc,0,higher\nx,y,0,y,acc,1,higher\nx,y,1,x,acc,1,\nx,y,1,y,acc,1,\n",
     "baseline of x acc is 0"),
    ("x,y,0,x,acc,1,higher\nx,y,0,x,acc,2,higher\n", r"pairs.csv:3: .*given twice"),
])
def test_errors_are_located(tmp_path, body, match):
    with pytest.raises(MtlspecError, match=match):
        load_pairs(_long_csv(tmp_path, body))


def test_bad_headers_and_missing_tasks(tmp_path):
    with pytest.raises(MtlspecError, match="header must be"):
        load_pairs(_long_csv(tmp_path, "x,y,0,x,acc,1\n", header="a,b,c"))
    bad = tmp_path / "t.csv"
    bad.write_text('branch,"(0, 1)-0","(0, 1)-1"\n0,0,0\n2,1,1\n')
    with pytest.raises(MtlspecError, match=r"missing \[1\]"):
        load_pairs(bad)
    bad.write_text('branch,"(0, 1)-0"\n0,0\n1,1\n')
    with pytest.raises(MtlspecError, match=r'no column "\(0, 1\)-1"'):
        load_pairs(bad)
    with pytest.raises(MtlspecError, match="no results for w"):
        load_pairs(_synthetic(tmp_path), tasks=["x", "w"])
