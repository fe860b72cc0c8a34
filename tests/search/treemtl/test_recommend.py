"""Recommender: fast cost vs the compiler, estimator, weights, search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mtlspec.cost import Budget
from mtlspec.data.published import HERE as PUBLISHED
from mtlspec.errors import MtlspecError
from mtlspec.search.treemtl import estimator as est
from mtlspec.search.treemtl import layouts as lay
from mtlspec.search.treemtl import recommender as rc
from mtlspec.search.treemtl.pairs import load_pairs
from mtlspec.search.treemtl.pairs_table import PairsTable
from mtlspec.search.treemtl.report import correlation
from mtlspec.spec import parse, validate

DATA = PUBLISHED / "treemtl"
NYU_SMALL = Path("specs/nyuv2_mobilenet.mtl").read_text().replace(
    "float[1, 3, 288, 384]", "float[1, 3, 64, 64]")


@pytest.fixture(scope="module")
def conal():
    spec = validate(parse(Path("specs/conal_multidigits.mtl").read_text()))
    return spec, rc.cost_model(spec)


@pytest.fixture(scope="module")
def nyu_small():
    """A NYUv2 spec (MobileNetV2, small input) compiled once with a mixed layout (#23)."""
    from mtlspec.compile import compile

    spec = lay.to_spec(validate(parse(NYU_SMALL)), lay.unrank(3, 5, 23))
    compiled = compile(spec)
    return spec, compiled, rc.cost_model_of(compiled)


@pytest.mark.parametrize("layout_id", [7, 23, 50])
def test_fast_cost_equals_compiled_cost(conal, layout_id):
    from mtlspec.compile import compile
    from mtlspec.cost import cost, fvcore_total

    spec, model = conal
    layout = lay.unrank(3, 5, layout_id)
    values = np.array([lay.branch_points(layout)], dtype=np.uint8)
    compiled = compile(lay.to_spec(spec, layout))
    report = cost(compiled)
    flops, params = rc.layout_costs(values, model)
    assert (flops[0], params[0]) == (report.flops, report.params)
    assert rc.layout_cost(layout, model) == (report.flops, report.params)
    assert sum(p.numel() for p in compiled.parameters()) == report.params
    assert fvcore_total(compiled)[0] == report.flops


def test_fast_cost_of_a_nyuv2_spec(nyu_small):
    from mtlspec.cost import cost

    spec, compiled, model = nyu_small
    report = cost(compiled)
    values = np.array([lay.branch_points(lay.from_spec(spec))], dtype=np.uint8)
    flops, params = rc.layout_costs(values, model)
    assert (flops[0], params[0]) == (report.flops, report.params)
    assert sum(p.numel() for p in compiled.parameters()) == report.params


def test_mobilenet_table_gives_a_recommendation(nyu_small):
    from mtlspec.search.treemtl.report import candidate_specs

    spec, _, model = nyu_small
    table = load_pairs(DATA / "NYUv2_2task_metrics_mobilenet_0227_val_acc.csv",
                       tasks=[t.name for t in spec.tasks])
    rec = rc.recommend(model, table, budget=Budget(models=2), top=3)
    assert len(rec.candidates) == 3 and rec.searched == 51
    limit = 2 * model.backbone_flops + sum(model.head_flops.values())
    for text in candidate_specs(rec, spec, model).values():
        written = validate(parse(text))
        assert rc.layout_cost(lay.from_spec(written), model)[0] <= limit
        assert written.budget.gmacs * 1e9 >= limit


def test_svd_entropy():
    assert est.svd_entropy([2.0, 2.0, 2.0, 2.0, 2.0]) == pytest.approx(0.0, abs=1e-12)
    assert est.svd_entropy([0, 0, 0, 0, 0]) == 0.0
    x = np.array([1.0, -3.0, 2.0, 5.0, -1.0])
    sigma = np.linalg.svd(np.array([x[0:3], x[1:4], x[2:5]]), compute_uv=False)
    sigma = sigma / sigma.sum()
    assert est.svd_entropy(x) == pytest.approx(-(sigma * np.log2(sigma)).sum() / np.log2(3))


def _table(tasks, blocks, seed=0):
    rng = np.random.default_rng(seed)
    delta = rng.normal(0, 3, (len(tasks), len(tasks), blocks + 1))
    delta[:, :, 0] = 0
    return PairsTable(tuple(tasks), blocks, delta)


def test_weights_favour_regular_sequences():
    table = _table("abc", 5)
    table.delta[0, :, 1:] = np.arange(1, 6) * 2.0  # task a: linear, regular sequences
    weights = est.task_weights(table)
    assert weights.sum() == pytest.approx(1.0) and weights.argmax() == 0
    assert np.allclose(est.task_weights(_table("ab", 2)), 0.5)  # B < 3: uniform


def test_estimate_by_hand_for_the_shipped_layout():
    table = load_pairs(DATA / "NYUv2_2task_metrics_resnet_1129_val_acc.csv",
                       tasks=["segment", "normal", "depth"])
    values = np.array([lay.branch_points(lay.unrank(3, 5, 2))], dtype=np.uint8)
    seg = (table.delta[0, 2, 5] + table.delta[0, 1, 4]) / 2
    normal = (table.delta[1, 0, 4] + table.delta[1, 2, 4]) / 2
    depth = (table.delta[2, 0, 5] + table.delta[2, 1, 4]) / 2
    assert est.estimate(values, table)[0] == pytest.approx([seg, normal, depth])


def _brute_best(model, table, budget):
    weights, limits = est.task_weights(table), rc.layout_limits(budget, model)
    best = None
    for i, layout in enumerate(lay.layouts(len(table.tasks), table.blocks)):
        flops, params = rc.layout_cost(layout, model)
        if flops > limits[0] or params > limits[1]:
            continue
        bp = lay.to_matrix(layout)
        deltas = [np.mean([table.delta[t, s, bp[t, s]] for s in range(len(table.tasks))
                           if s != t]) for t in range(len(table.tasks))]
        score = float(np.dot(deltas, weights))
        if best is None or score > best[0] + 1e-12:
            best = (score, i)
    return best


def _model(tasks, blocks):
    return rc.CostModel(tuple(tasks), tuple(range(10, 10 + blocks)), tuple([3] * blocks),
                        dict.fromkeys(tasks, 2), dict.fromkeys(tasks, 1))


@pytest.mark.parametrize("budget", [Budget(), Budget(models=2),
                                    Budget(gmacs=1e-7), Budget(params=40)])
def test_exhaustive_search_finds_the_brute_force_best(budget):
    table, model = _table("abcd", 4, seed=3), _model("abcd", 4)
    rec = rc.recommend(model, table, budget=budget, top=3)
    best = _brute_best(model, table, budget)
    assert rec.candidates[0].score == pytest.approx(best[0])
    assert rec.candidates[0].id == best[1]
    limits = rc.layout_limits(budget, model)
    assert all(c.flops <= limits[0] and c.params <= limits[1] for c in rec.candidates)
    assert [c.score for c in rec.candidates] == sorted((c.score for c in rec.candidates),
                                                       reverse=True)
    scores = [s for _, s, _ in rec.front]
    assert scores == sorted(scores) and rec.front[-1][1] == pytest.approx(best[0])


def test_beam_search_is_used_beyond_the_limit_and_respects_the_budget():
    table, model = _table("abcde", 3, seed=5), _model("abcde", 3)
    budget = Budget(models=1.8)
    exact = rc.recommend(model, table, budget=budget, top=5)
    beam = rc.recommend(model, table, budget=budget, top=5, max_enumerate=10, beam_width=400)
    assert beam.method == "beam" and exact.method == "exhaustive"
    assert beam.searched < exact.searched
    assert beam.candidates[0].score == pytest.approx(exact.candidates[0].score)
    limit = rc.layout_limits(budget, model)[0]
    for cand in beam.candidates:
        assert cand.flops <= limit
        assert lay.rank(cand.layout) == cand.id


def test_mismatched_table_is_rejected():
    with pytest.raises(MtlspecError, match="blocks"):
        rc.recommend(_model("ab", 3), _table("ab", 4))


def test_correlation():
    result = correlation([1, 2, 3, 4], [2, 4, 5, 9])
    assert result["spearman"] == pytest.approx(1.0) and 0.9 < result["pearson"] < 1.0
    with pytest.raises(MtlspecError, match="at least 3"):
        correlation([1, 2], [1, 2])
