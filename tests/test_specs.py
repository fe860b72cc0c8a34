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
    """The shipped layout is what `mtlspec recommend --max-models 2` picks on that table."""
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
    best = recommend(cost_model(small), table, budget=Budget(models=2), top=1)
    assert best.candidates[0].id == layouts.rank(layouts.from_spec(spec))




# TreeMTL's five blocks (the layers its two-task tables were measured on), as slices of the
# torchvision model's top-level children: a block's parameters are those modules' parameters.
TREEMTL_BLOCKS = {
    "nyuv2_resnet34.mtl": [["conv1", "bn1", "relu", "maxpool"], ["layer1"], ["layer2"],
                           ["layer3"], ["layer4"]],
    "nyuv2_mobilenet.mtl": [[f"features.{i}" for i in range(0, 4)],
                            [f"features.{i}" for i in range(4, 11)],
                            [f"features.{i}" for i in range(11, 14)],
                            [f"features.{i}" for i in range(14, 18)], ["features.18"]],
}


@pytest.mark.parametrize("name", sorted(TREEMTL_BLOCKS))
def test_paper_setting_specs_cut_where_treemtl_did(name: str):
    """The shipped TreeMTL-setting specs' cut lists reproduce the authors' five blocks."""
    from mtlspec.backbone import blocks_for
    from mtlspec.backbone.registry import build
    from mtlspec.compile.tree import selection_of

    spec = validate(load(ROOT / "specs" / name))
    assert isinstance(spec, TreeSpec)
    got = blocks_for(spec.backbone.ref, input_shape=(1, 3, 64, 64), args=spec.backbone.args,
                     selection=selection_of(spec.backbone.blocks))
    model = build(spec.backbone.ref, args=spec.backbone.args).model
    want = [sum(p.numel() for m in group for p in model.get_submodule(m).parameters())
            for group in TREEMTL_BLOCKS[name]]
    assert [b.params for b in got.info] == want
    assert len(spec.layout) == 5
