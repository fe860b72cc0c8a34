"""The recommender's pairs plan: specs, manifest round trip, results → pairs table; manifest
errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mtlspec.errors import MtlspecError
from mtlspec.plan import load_manifest, pairs_from_results, pairs_plan, write_plan
from mtlspec.search.treemtl import cost_model
from mtlspec.search.treemtl.pairs import load_pairs
from mtlspec.search.treemtl.pairs_table import write_pairs
from mtlspec.spec import parse, validate


@pytest.fixture(scope="module")
def conal():
    spec = validate(parse(Path("specs/conal_multidigits.mtl").read_text()))
    return spec, cost_model(spec)


def test_pairs_plan_round_trip(tmp_path, conal):
    spec, model = conal
    manifest, texts = pairs_plan(spec, model)
    assert len(manifest.entries) == 3 + 3 * 5
    write_plan(tmp_path, manifest, texts)
    loaded = load_manifest(tmp_path)
    assert loaded == manifest
    for entry in loaded.entries:
        sub = validate(parse((tmp_path / entry.spec).read_text()))
        assert [t.name for t in sub.tasks] == entry.tasks
        if entry.branch_point:
            assert sum(len(r) == 1 for r in sub.layout) == entry.branch_point
    one = next(e for e in loaded.entries if e.id == "left+right@3")
    from mtlspec.compile import compile
    from mtlspec.cost import cost

    report = cost(compile(validate(parse((tmp_path / one.spec).read_text()))))
    assert (report.flops / 1e9, report.params) == (pytest.approx(one.gmacs), one.params)
    rng = np.random.default_rng(0)
    results = {e.id: {t: float(rng.uniform(0.5, 0.9)) for t in e.tasks} for e in loaded.entries}
    table = pairs_from_results(loaded, results, {"left": True, "right": True, "parity": True})
    single = results["left"]["left"]
    pair = results["left+right@3"]["left"]
    assert table.sequence("left", "right")[3] == pytest.approx((pair - single) / single * 100)
    assert table.sequence("left", "right")[0] == 0
    write_pairs(tmp_path / "pairs.csv", table)
    assert np.allclose(load_pairs(tmp_path / "pairs.csv").delta, table.delta)
    del results["parity"]
    with pytest.raises(MtlspecError, match="no results for plan entry parity"):
        pairs_from_results(loaded, results, {"left": True, "right": True, "parity": True})


def test_manifest_errors(tmp_path):
    (tmp_path / "manifest.json").write_text('{"version": 2, "kind": "pairs"}')
    with pytest.raises(MtlspecError, match="invalid manifest: version"):
        load_manifest(tmp_path)
    # a manifest written before the unit was named (`gflops`) still loads
    (tmp_path / "manifest.json").write_text(
        '{"kind": "pairs", "base": "b", "tasks": ["a"], "entries": [{"id": "a", '
        '"spec": "a.mtl", "tasks": ["a"], "gflops": 1, "params": 1}]}')
    with pytest.raises(MtlspecError, match=r"a\.mtl is missing"):
        load_manifest(tmp_path)
