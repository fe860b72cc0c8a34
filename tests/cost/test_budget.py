"""One budget check: the recommender's layout limits and a compiled model's cost report agree
on every kind of limit (`models` leaves the heads out, `units` counts them)."""

from __future__ import annotations

import pytest

from mtlspec import load_model
from mtlspec.cost import Budget, check_budget, cost
from mtlspec.search.treemtl import cost_model_of, unrank
from mtlspec.search.treemtl.layouts import to_spec
from mtlspec.search.treemtl.recommender import layout_cost, layout_limits
from mtlspec.spec import load


@pytest.fixture(scope="module")
def conal():
    base = load("specs/conal_multidigits.mtl").spec
    return base, cost_model_of(load_model(base))


@pytest.mark.parametrize("layout_id", [0, 23, 50])
def test_layout_limits_match_the_cost_report(conal, layout_id):
    base, model = conal
    layout = unrank(3, model.blocks, layout_id)
    report = cost(load_model(to_spec(base, layout)))
    flops, _ = layout_cost(layout, model)
    assert report.flops == flops
    # models: backbone FLOPs in whole backbones, heads left out
    heads = sum(model.head_flops.values())
    assert report.models == pytest.approx((flops - heads) / model.backbone_flops)
    for budget in (Budget(models=report.models), Budget(units=report.units)):
        limit, _ = layout_limits(budget, model)
        assert limit == pytest.approx(flops)  # the layout sits exactly on its own budget
        assert check_budget("x.mtl", "x", report, budget, "spec")[0].over is False
    tighter = Budget(models=report.models * 0.99)
    assert layout_limits(tighter, model)[0] < flops
    assert check_budget("x.mtl", "x", report, tighter, "--max-models")[0].over


def test_units_and_models_differ_by_the_heads(conal):
    _, model = conal
    budget = Budget(units=2, models=2)
    heads = list(model.head_flops.values())
    by_units = Budget(units=2).flops_limit(backbone_flops=model.backbone_flops,
                                           head_flops=heads)
    by_models = Budget(models=2).flops_limit(backbone_flops=model.backbone_flops,
                                             head_flops=heads)
    assert by_units - by_models == pytest.approx(2 * sum(heads) / len(heads) - sum(heads))
    assert budget.flops_limit(backbone_flops=model.backbone_flops,
                              head_flops=heads) == min(by_units, by_models)
    assert budget.describe() == "units ≤ 2, models ≤ 2"
