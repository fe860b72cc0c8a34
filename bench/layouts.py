"""Layout design space and recommender speed (issue 5's "Done when").

Measures, on synthetic 2-task tables and per-block costs (no compile, no training):
- T=5, B=5: enumerate + cost + score every layout (target < 0.5 s; TreeMTL's reference code
  takes 74 s for the enumeration alone);
- T=6, B=5 and T=7, B=5: a full streaming pass (time, and peak traced memory in a second run
  with tracemalloc; flat memory = the same peak for a 18x larger space);
- the exact count for T=9, B=5 and T=10, B=5 (cold cache), and rank/unrank of one id;
- a beam search on T=9, B=5 (1.05e9 layouts, too many to enumerate).

    python bench/layouts.py [--big]     # --big adds T=8, B=5 (45.6M layouts)

Prints a table and writes bench/results/layouts.json.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from pathlib import Path

import numpy as np

from mtlspec.cost import Budget
from mtlspec.search.treemtl import layouts as lay
from mtlspec.search.treemtl import recommender as rc
from mtlspec.search.treemtl.pairs_table import PairsTable


def _setup(tasks: int, blocks: int):
    names = tuple(f"t{i}" for i in range(tasks))
    rng = np.random.default_rng(0)
    delta = rng.normal(0, 3, (tasks, tasks, blocks + 1))
    delta[:, :, 0] = 0
    model = rc.CostModel(names, tuple(int(x) for x in rng.integers(10**8, 10**9, blocks)),
                         tuple(int(x) for x in rng.integers(10**5, 10**6, blocks)),
                         dict.fromkeys(names, 10**8), dict.fromkeys(names, 10**5))
    return model, PairsTable(names, blocks, delta)


def _full_pass(tasks: int, blocks: int, *, memory: bool = False) -> dict:
    model, table = _setup(tasks, blocks)
    budget = Budget(models=tasks / 2)
    _cold()
    if memory:
        tracemalloc.start()
    start = time.perf_counter()
    rec = rc.recommend(model, table, budget=budget, top=5)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if memory else None
    if memory:
        tracemalloc.stop()
    return {"tasks": tasks, "blocks": blocks, "layouts": rec.searched, "seconds": seconds,
            "peak_mib": None if peak is None else peak / 2**20, "method": rec.method,
            "feasible": rec.feasible}


def _cold() -> None:
    lay.count.cache_clear()
    lay._full.cache_clear()  # sub-space tables are cached: time every pass from scratch


def _enumerate_only(tasks: int, blocks: int) -> float:
    _cold()
    start = time.perf_counter()
    total = sum(len(c) for c in lay.chunks(tasks, blocks))
    assert total == lay.count(tasks, blocks)
    return time.perf_counter() - start


def _count_time(tasks: int, blocks: int) -> tuple[int, float]:
    lay.count.cache_clear()
    start = time.perf_counter()
    value = lay.count(tasks, blocks)
    return value, time.perf_counter() - start


def _rank_time(tasks: int, blocks: int) -> float:
    layout_id = lay.count(tasks, blocks) // 3
    start = time.perf_counter()
    assert lay.rank(lay.unrank(tasks, blocks, layout_id)) == layout_id
    return time.perf_counter() - start


def _beam(tasks: int, blocks: int, width: int) -> dict:
    model, table = _setup(tasks, blocks)
    start = time.perf_counter()
    rec = rc.recommend(model, table, budget=Budget(models=tasks / 2), top=5,
                       beam_width=width)
    return {"tasks": tasks, "blocks": blocks, "width": width, "seconds":
            time.perf_counter() - start, "searched": rec.searched, "space": rec.space,
            "best": rec.candidates[0].score}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="also T=8, B=5 (45.6M layouts)")
    args = parser.parse_args()
    _full_pass(3, 3)  # warm-up: imports, caches of small sub-spaces
    results: dict = {"passes": [], "counts": [], "beam": None}
    spaces = [(5, 5), (6, 5), (7, 5)] + ([(8, 5)] if args.big else [])
    for tasks, blocks in spaces:
        row = _full_pass(tasks, blocks)
        row["enumerate_seconds"] = _enumerate_only(tasks, blocks)
        row["peak_mib"] = _full_pass(tasks, blocks, memory=True)["peak_mib"]
        results["passes"].append(row)
    for tasks in (9, 10):
        value, seconds = _count_time(tasks, 5)
        results["counts"].append({"tasks": tasks, "blocks": 5, "count": value,
                                  "seconds": seconds, "rank_unrank_seconds":
                                  _rank_time(tasks, 5)})
    results["beam"] = _beam(9, 5, 16)
    print(f"{'space':>10} {'layouts':>12} {'enumerate s':>12} {'enum+cost+score s':>18} "
          f"{'peak MiB':>9}")
    for r in results["passes"]:
        space = f"T={r['tasks']} B={r['blocks']}"
        print(f"{space:>10} {r['layouts']:>12,} "
              f"{r['enumerate_seconds']:>12.3f} {r['seconds']:>18.3f} {r['peak_mib']:>9.1f}")
    for c in results["counts"]:
        print(f"count T={c['tasks']} B={c['blocks']} = {c['count']:,} in "
              f"{c['seconds'] * 1e3:.2f} ms; rank+unrank one id "
              f"{c['rank_unrank_seconds'] * 1e3:.2f} ms")
    b = results["beam"]
    print(f"beam search T={b['tasks']} B={b['blocks']} (width {b['width']}): "
          f"{b['searched']:,} of {b['space']:,} layouts scored in {b['seconds']:.2f} s")
    out = Path(__file__).parent / "results" / "layouts.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
