"""Layout design space: counts vs brute force, ids, streaming, spec conversion."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from mtlspec.errors import MtlspecError
from mtlspec.search.treemtl import layouts as lay
from mtlspec.search.treemtl.printed import parse_treemtl
from mtlspec.spec import load, validate


def _partitions(items):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest):
        yield [[first], *part]
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1:]]


def _refinements(row):
    """Every partition that refines `row` (row by row, independently of layouts.py)."""
    options = [list(_partitions(sorted(g))) for g in row]
    for choice in itertools.product(*options):
        yield frozenset(frozenset(g) for part in choice for g in part)


def _brute(tasks, blocks):
    rows = [frozenset(frozenset(g) for g in p) for p in _partitions(list(range(tasks)))]
    found = {(r,) for r in rows}
    for _ in range(blocks - 1):
        found = {(*chain, r) for chain in found for r in _refinements(chain[-1])}
    return found


def _key(layout):
    return tuple(frozenset(row) for row in layout)


@pytest.mark.parametrize("tasks", [1, 2, 3, 4])
@pytest.mark.parametrize("blocks", [1, 2, 3, 4, 5, 6])
def test_generator_matches_brute_force(tasks, blocks):
    brute = _brute(tasks, blocks)
    generated = [_key(layout) for layout in lay.layouts(tasks, blocks)]
    assert len(generated) == len(set(generated)) == lay.count(tasks, blocks)
    assert set(generated) == brute
    for layout in lay.layouts(tasks, blocks):
        lay.check(layout)


def test_ids_round_trip_and_order():
    for i, layout in enumerate(lay.layouts(4, 3)):
        assert lay.rank(layout) == i
        assert lay.unrank(4, 3, i) == layout
    first, last = lay.unrank(3, 5, 0), lay.unrank(3, 5, lay.count(3, 5) - 1)
    assert all(len(row) == 1 for row in first)       # id 0: all shared
    assert all(len(row) == 3 for row in last)        # last id: all separate
    with pytest.raises(MtlspecError, match="out of range"):
        lay.unrank(3, 5, lay.count(3, 5))


def test_rank_unrank_large_space_is_cheap():
    total = lay.count(9, 5)
    start = time.perf_counter()
    for layout_id in (0, 1, 12345678, total // 2, total - 1):
        assert lay.rank(lay.unrank(9, 5, layout_id)) == layout_id
    assert time.perf_counter() - start < 2.0


def test_count_is_exact_and_instant():
    start = time.perf_counter()
    lay.count.cache_clear()
    assert lay.count(10, 5) == 26740775306
    assert time.perf_counter() - start < 0.1
    bell = [1, 1, 2, 5, 15, 52, 203, 877]
    assert [lay.count(n, 1) for n in range(1, 8)] == bell[1:]
    assert [lay.count(2, b) for b in range(1, 6)] == [2, 3, 4, 5, 6]


@pytest.mark.parametrize("chunk", [1, 7, 100, 10_000])
def test_chunks_stream_in_id_order(chunk):
    full = np.concatenate(list(lay.chunks(5, 3, chunk_size=10**6)))
    parts = list(lay.chunks(5, 3, chunk_size=chunk))
    assert np.array_equal(np.concatenate(parts), full)
    assert max(len(p) for p in parts) <= max(chunk, 15)  # bounded chunks
    for i in (0, 5, 357):
        assert tuple(full[i]) == lay.branch_points(lay.unrank(5, 3, i))


def test_branch_points_round_trip():
    for layout in lay.layouts(4, 4):
        assert lay.from_branch_points(4, 4, lay.branch_points(layout)) == layout


def test_spec_round_trip():
    base = validate(load("specs/nyuv2_resnet34.mtl"))
    layout = lay.from_spec(base)
    assert lay.unrank(3, 5, lay.rank(layout)) == layout
    spec = validate(lay.to_spec(base, lay.unrank(3, 5, 17), name="x"))
    assert lay.rank(lay.from_spec(spec)) == 17 and spec.name == "x"
    with pytest.raises(MtlspecError, match="rows"):
        lay.to_spec(base, lay.unrank(3, 4, 0))


def test_parse_treemtl():
    layout = parse_treemtl("[[{0, 1, 2}], [{2}, {0, 1}], [{1}, {0}, {2}]]")
    assert lay.describe(layout) == "{0, 1, 2} | {0, 1} {2} | {0} {1} {2}"
    for bad, match in [("[[{0, 1}], [{0, 2}, {1}]]", "partition"),
                       ("[[{0, 1, 2}], [{0, 2}, {1}], [{0, 1}, {2}]]", "refine"),
                       ("[[{0, x}]]", "integers"), ("nonsense", "TreeMTL")]:
        with pytest.raises(MtlspecError, match=match):
            parse_treemtl(bad)
