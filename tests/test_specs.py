"""Every file in specs/ is a fixture: it validates, is canonical, and survives JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtlspec.spec import format, from_json, load, to_json, validate
from mtlspec.spec.ir import TreeSpec

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.mtl"))


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


def test_nyuv2_layout_is_the_recommenders_top_choice_for_the_published_pair_results():
    """The shipped layout is what `mtlspec recommend --max-models 1.5` picks on that table."""
    from mtlspec.cost import Budget
    from mtlspec.search.treemtl import layouts
    from mtlspec.search.treemtl.pairs import load_pairs
    from mtlspec.search.treemtl.recommender import cost_model, recommend

    spec = validate(load(SPECS[0].with_name("nyuv2_resnet34.mtl")))
    assert isinstance(spec, TreeSpec)
    # A smaller input keeps tracing fast; every block shrinks alike, so the ratios hold.
    shape = {"shape": (1, 3, 96, 128)}
    small = spec.model_copy(update={"input": spec.input.model_copy(update=shape)})
    table = load_pairs("treemtl:nyuv2-resnet34", tasks=[t.name for t in spec.tasks])
    best = recommend(cost_model(small), table, budget=Budget(models=1.5), top=1)
    assert best.candidates[0].id == layouts.rank(layouts.from_spec(spec))


