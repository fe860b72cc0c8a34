"""`mtlspec group plan`: one network per non-empty task subset (+ half-size singles)."""

from __future__ import annotations

import json
from itertools import combinations

import pytest
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.errors import MtlspecError
from mtlspec.plan.grouping import group_plan, subsets
from mtlspec.spec import format as format_spec
from mtlspec.spec import load, parse, validate

BASE = """\
model tiny {
  input image: float[1, 1, 8, 16]
  backbone convnet(depth=2, width=8, in_channels=1) { blocks: auto(2) }
  tasks {
    left: head linear(classes=10)
    right: head linear(classes=10)
    parity: head linear(classes=2)
  }
  layout [
    {left, right, parity}
    {left} {right} {parity}
  ]
}
"""


@pytest.fixture
def base():
    return validate(parse(BASE))


def test_subsets_are_every_nonempty_subset_once():
    tasks = ["a", "b", "c", "d"]
    got = subsets(tasks)
    brute = {frozenset(c) for k in range(1, 5) for c in combinations(tasks, k)}
    assert len(got) == 15 and {frozenset(s) for s in got} == brute


def test_plan_networks_train_and_serve_their_subset(base):
    planned = group_plan(base, half_size=True)
    full = [n for n in planned if n.width == 1.0]
    half = [n for n in planned if n.width == 0.5]
    assert len(full) == 2 ** 3 - 1 and [n.tasks for n in half] == [("left",), ("right",),
                                                                   ("parity",)]
    assert [n.id for n in half] == ["left@0.5", "right@0.5", "parity@0.5"]
    for net in planned:
        (network,) = net.spec.networks
        assert network.trains == network.serves == frozenset(net.tasks)
        assert [t.name for t in net.spec.tasks] == list(net.tasks)
        assert "width" not in network.args  # folded into the network's width
        # the formatted spec reads back to the same IR
        assert validate(parse(format_spec(net.spec))) == net.spec
    assert len({n.id for n in planned}) == len(planned)


def test_convnet_width_is_folded_into_the_network_width(base):
    from mtlspec.compile import compile as compile_spec

    planned = {n.id: n for n in group_plan(base, half_size=True)}
    full = compile_spec(planned["left"].spec).networks["A"].backbone
    half = compile_spec(planned["left@0.5"].spec).networks["A"].backbone
    channels = [m.out_channels for m in full.modules() if hasattr(m, "out_channels")]
    halved = [m.out_channels for m in half.modules() if hasattr(m, "out_channels")]
    assert channels == [8, 8] and halved == [4, 4]  # base convnet(width=8), then × 0.5


def test_dag_base_is_rejected():
    with pytest.raises(MtlspecError, match="DAG"):
        group_plan(load("specs/nyuv2_dag.mtl").spec)


def test_cli_writes_specs_and_manifest(tmp_path):
    (tmp_path / "base.mtl").write_text(BASE)
    out = tmp_path / "plan"
    result = CliRunner().invoke(main, ["group", "plan", "--spec", str(tmp_path / "base.mtl"),
                                       "--half-size", "-o", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "grouping" and manifest["tasks"] == ["left", "right", "parity"]
    entries = manifest["entries"]
    assert len(entries) == 7 + 3
    for entry in entries:
        spec = validate(load(out / entry["spec"]))
        assert sorted(spec.networks[0].trains) == sorted(entry["tasks"])
        assert entry["gmacs"] > 0 and entry["params"] > 0 and entry["branch_point"] is None
    by_id = {e["id"]: e for e in entries}
    # a half-width single costs less than the full one; a 3-task network more than a single
    assert by_id["left@0.5"]["gmacs"] < by_id["left"]["gmacs"]
    assert by_id["left+right+parity"]["params"] > by_id["left"]["params"]
    # the default subcommand still selects from a table
    bad = CliRunner().invoke(main, ["group", "--table", str(tmp_path / "none.csv"),
                                    "--budget", "1"])
    assert bad.exit_code == 2 and "cannot read" in bad.output
