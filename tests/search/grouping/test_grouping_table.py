"""Candidate tables: the CSV/JSON formats, the authors' TSV layout, HOA, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtlspec.data.published import HERE as PUBLISHED
from mtlspec.errors import MtlspecError
from mtlspec.search.grouping.report import higher_order_approximation
from mtlspec.search.grouping.table import (
    STANDLEY_TASKS,
    load_table,
    parse_csv,
    parse_json,
    parse_standley,
)

DATA = PUBLISHED / "standley"


def test_standley_layout():
    table = load_table(DATA / "results.txt")
    assert table.tasks == STANDLEY_TASKS and table.cost_unit == "units"
    assert len(table.candidates) == 36  # 5 half-size singles + 31 subsets
    halves, full = table.candidates[:5], table.candidates[5:]
    assert [(c.name, c.cost, c.width) for c in halves[:2]] == [
        ("segment@0.5", 0.5, 0.5), ("depth@0.5", 0.5, 0.5)]
    assert all(c.cost == 1 and c.width == 1 for c in full)
    assert len({c.trains for c in full}) == 31
    assert table.by_name("segment+normal").loss == {"segment": 0.074, "normal": 0.0997}


def test_standley_rows_are_read_by_their_cells_not_their_position():
    # The authors' early-stopped Setting 4 table lacks one pair network.
    names = ["autoencoder", "normal", "occlusion", "reshading", "curvature"]
    table = load_table(DATA / "results_alt_20.txt", tasks=names)
    assert len(table.candidates) == 35
    assert table.by_name("normal+occlusion") is None
    assert table.by_name("normal+reshading").trains == {"normal", "reshading"}


def test_standley_column_names():
    with pytest.raises(MtlspecError, match="3 columns; name them with --tasks"):
        parse_standley("1\t2\t3\n1\t\t\n")
    with pytest.raises(MtlspecError, match="3 columns but 2 task names"):
        parse_standley("1\t2\t3\n", tasks=["a", "b"])
    with pytest.raises(MtlspecError, match=r":2: column `b`: `x` is not a number"):
        parse_standley("1\t2\n\tx\n", tasks=["a", "b"])
    with pytest.raises(MtlspecError, match="empty"):
        parse_standley("\n\n", tasks=["a"])


def test_csv_with_metadata_names_and_widths():
    table = parse_csv(
        "# Setting X, measured by us\n# cost_unit: gflops\n# direction: max\n"
        "network,cost,width,acc,miou\nbig,4.5,1,0.9,0.5\n,2.25,0.5,,0.4\n,3,,0.8,\n")
    assert (table.cost_unit, table.direction, table.tasks) == ("gmacs", "max", ("acc", "miou"))
    assert [(c.name, c.cost, c.width) for c in table.candidates] == [
        ("big", 4.5, 1.0), ("miou@0.5", 2.25, 0.5), ("acc", 3.0, 1.0)]


def test_csv_duplicate_auto_names_are_numbered():
    table = parse_csv("cost,width,a\n1,1,0.5\n2,1,0.4\n")
    assert [c.name for c in table.candidates] == ["a", "a#2"]


@pytest.mark.parametrize(("text", "message"), [
    ("network,a\nx,1\n", "no `cost` column"),
    ("cost,a\n-1,0.5\n", "cost must be a finite number ≥ 0, got -1.0"),
    ("cost,a\nabc,0.5\n", r"table.csv:2: cost: `abc` is not a number"),
    ("cost,a\n1,nan\n", "`nan` is not a finite number"),
    ("cost,a,b\n1,0.5\n", r":2: 2 cells, but the header has 3"),
    ("cost,a,b\n1,,\n", "predicts no task"),
    ("cost,a,a\n1,2,3\n", "task column `a` appears twice"),
    ("cost,seg-ment\n1,2\n", "`seg-ment` is not a task name"),
    ("cost\n1\n", "no task column"),
    ("network,cost,a\nx,1,2\nx,1,3\n", "two networks are called `x`"),
    ("cost,a\n", "lists no network"),
    ("# direction: up\ncost,a\n1,2\n", "unknown direction `up`"),
    ("# only comments\n", "no header row"),
])
def test_bad_csv_is_a_clear_error(text: str, message: str):
    with pytest.raises(MtlspecError, match=message):
        parse_csv(text, source="table.csv")


def test_json_format():
    table = parse_json('{"tasks": ["a", "b"], "cost_unit": "gflops", "networks": ['
                       '{"name": "ab", "cost": 3.5, "loss": {"a": 0.1, "b": 0.2}},'
                       '{"cost": 1.5, "width": 0.5, "loss": {"b": 0.3}}]}')
    assert [(c.name, c.cost, c.width) for c in table.candidates] == [
        ("ab", 3.5, 1.0), ("b@0.5", 1.5, 0.5)]
    for text, message in [
        ("{", "invalid JSON"),
        ('{"networks": 3}', "`networks` list"),
        ('{"networks": [{"cost": "1", "loss": {"a": 1}}]}', r'cost: expected a number, got "1"'),
        ('{"networks": [{"cost": 1, "loss": {"a": 1}}], "tasks": ["b"]}', "unknown task `a`"),
    ]:
        with pytest.raises(MtlspecError, match=message):
            parse_json(text)


def test_load_table_picks_the_format_by_extension(tmp_path: Path):
    (tmp_path / "t.csv").write_text("cost,a\n1,0.5\n")
    (tmp_path / "t.json").write_text('{"networks": [{"cost": 1, "loss": {"a": 0.5}}]}')
    assert load_table(tmp_path / "t.csv").tasks == ("a",)
    assert load_table(tmp_path / "t.json").tasks == ("a",)
    with pytest.raises(MtlspecError, match="cannot read"):
        load_table(tmp_path / "missing.csv")
    with pytest.raises(MtlspecError, match="unknown table format"):
        load_table(tmp_path / "t.csv", format="xlsx")


def test_higher_order_approximation_averages_the_pairs():
    table = load_table(DATA / "results.txt")
    hoa = higher_order_approximation(table)
    # {segment, depth, normal}: each task's mean over the two pairs holding it
    assert hoa.by_name("segment+depth+normal").loss == pytest.approx({
        "segment": (0.07858 + 0.074) / 2,     # {s,d}, {s,n}
        "depth": (0.1833 + 0.1695) / 2,       # {s,d}, {d,n}
        "normal": (0.0997 + 0.09275) / 2,     # {s,n}, {d,n}
    })
    everything = hoa.by_name("segment+depth+normal+keypoint+edge").loss
    pairs = [c for c in table.candidates if len(c.loss) == 2 and "edge" in c.loss]
    assert everything["edge"] == pytest.approx(sum(c.loss["edge"] for c in pairs) / 4)
    for name in ("segment+depth", "normal@0.5", "keypoint"):
        assert hoa.by_name(name) == table.by_name(name)


def test_higher_order_approximation_needs_the_pairs():
    table = parse_csv("cost,a,b,c\n1,1,2,\n1,3,,4\n1,0,0,0\n")
    with pytest.raises(MtlspecError, match=r"needs the pair network \{b, c\}"):
        higher_order_approximation(table)
