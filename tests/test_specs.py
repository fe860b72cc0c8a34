"""Every file in specs/ is a fixture: it validates, is canonical, and survives JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtlspec.spec import format, from_json, load, to_json, validate
from mtlspec.spec.ir import TreeSpec

SPECS = sorted((Path(__file__).resolve().parents[1] / "specs").glob("*.mtl"))


def test_the_issue_s_example_specs_exist():
    kinds = {load(p).spec.kind for p in SPECS}
    assert kinds == {"model", "dag", "grouping"}
    assert len(SPECS) >= 6


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_spec_is_valid_and_canonical(path: Path):
    doc = load(path)
    validate(doc)
    assert format(doc.spec, doc.comments) == path.read_text()


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_spec_survives_json(path: Path):
    spec = load(path).spec
    assert from_json(to_json(spec)) == spec


def test_nyuv2_layout_is_the_best_tree_for_the_published_pair_results():
    # The layout in specs/nyuv2_resnet34.mtl: all share 4 blocks, segment+depth share the 5th.
    spec = load(SPECS[0].with_name("nyuv2_resnet34.mtl")).spec
    assert isinstance(spec, TreeSpec)
    last = {frozenset(g) for g in spec.layout[-1]}
    assert last == {frozenset({"segment", "depth"}), frozenset({"normal"})}
    assert all(len(row) == 1 for row in spec.layout[:4])
