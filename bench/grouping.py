"""How fast is exact task grouping? (issue 6: T = 10, all 2^T − 1 subsets + half-size singles < 2 s)

Measures, on this machine:
  1. T = 5, the authors' Setting 1 table (36 candidates): time per budget 1..5 (step 0.5) of
     the exact selection (`mtlspec.search.grouping.select`), of the whole budget curve at
     once (`frontier`), and of a branch-and-bound over candidate subsets (the baseline; its
     work grows exponentially with the number of candidates);
  2. T = 8 and T = 10, random tables with every non-empty subset at cost 1 plus half-size
     single-task networks at cost 0.5 (263 and 1,033 candidates): exact time at budgets T/2
     and T and for the whole curve, and the branch-and-bound where it finishes in --timeout;
  3. the same T = 10 table with real-valued costs (GMACs-like), which makes the Pareto
     fronts larger.

Prints a table and writes JSON (default bench/results/grouping.json).
Run: .venv/bin/python bench/grouping.py [--runs 3] [--timeout 20] [--out FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "mtlspec" / "data" / "published" / "standley"


class Timeout(Exception):
    """The baseline ran past its time limit."""


def branch_and_bound(table, budget: float, time_limit: float) -> float:
    """The optimum total by depth-first include/exclude over candidates (the baseline).

    Enumerates sets of candidates in index order, pruning on the budget, on networks that
    improve no task, and on a lower bound (each task's best value so far or among the later
    candidates). Exponential in the number of candidates.
    """
    tasks = table.tasks
    cands = [(c.cost, [c.loss.get(t, math.inf) for t in tasks]) for c in table.candidates]
    n = len(cands)
    suffix = [[math.inf] * len(tasks) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        suffix[i] = [min(a, b) for a, b in zip(suffix[i + 1], cands[i][1], strict=True)]
    deadline = time.perf_counter() + time_limit
    best = [math.inf]
    limit = budget * (1 + 1e-9)

    def visit(start: int, spent: float, current: list[float]) -> None:
        if time.perf_counter() > deadline:
            raise Timeout
        total = sum(current)
        if total < best[0]:  # finite only once every task is covered
            best[0] = total
        for j in range(start, n):  # the next network to add (depth ≤ number of tasks)
            bound = sum(min(a, b) for a, b in zip(current, suffix[j], strict=True))
            if bound >= best[0]:
                break  # suffix[j] only gets worse as j grows
            cost, loss = cands[j]
            if spent + cost <= limit and any(a < b for a, b in zip(loss, current, strict=True)):
                visit(j + 1, spent + cost,
                      [min(a, b) for a, b in zip(loss, current, strict=True)])

    visit(0, 0.0, [math.inf] * len(tasks))
    return best[0]


def random_table(n_tasks: int, seed: int, *, real_costs: bool = False):
    """Half-size singles (cost 0.5) and every non-empty subset (cost 1, or GMACs-like)."""
    from mtlspec.search.grouping.table import Candidate, default_name, make_table

    rng = random.Random(seed)
    tasks = [f"t{i}" for i in range(n_tasks)]
    scale = [rng.uniform(0.05, 0.3) for _ in tasks]
    cands = [Candidate(default_name([t], 0.5), 0.5, 0.5, {t: scale[i] * rng.uniform(1, 1.1)})
             for i, t in enumerate(tasks)]
    for k in range(1, n_tasks + 1):
        for subset in itertools.combinations(range(n_tasks), k):
            cost = rng.uniform(0.8, 1.2) * (1 + 0.05 * k) if real_costs else 1.0
            loss = {tasks[i]: scale[i] * rng.uniform(0.85, 1.15) for i in subset}
            cands.append(Candidate(default_name([tasks[i] for i in subset], 1.0), cost, 1.0,
                                   loss))
    return make_table(tasks, cands, cost_unit="gmacs" if real_costs else "units")


def best_of(runs: int, fn) -> tuple[float, object]:
    times, value = [], None
    for _ in range(runs):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def baseline(table, budget: float, timeout: float) -> tuple[float | None, float | None]:
    start = time.perf_counter()
    try:
        total = branch_and_bound(table, budget, timeout)
    except Timeout:
        return None, None
    return time.perf_counter() - start, total


def measure(label: str, table, budgets, runs: int, timeout: float) -> list[dict]:
    from mtlspec.search.grouping.selection import frontier, select

    rows = []
    for budget in budgets:
        exact_s, chosen = best_of(runs, lambda b=budget: select(table, b))
        bnb_s, bnb_total = baseline(table, budget, timeout) if timeout > 0 else (None, None)
        if bnb_total is not None and not math.isclose(bnb_total, chosen.total, rel_tol=1e-9):
            sys.exit(f"{label} budget {budget}: baseline {bnb_total} != exact {chosen.total}")
        rows.append({"table": label, "T": len(table.tasks), "candidates": len(table.candidates),
                     "budget": budget, "exact_s": exact_s, "total": chosen.total,
                     "networks": len(chosen.choices), "bnb_s": bnb_s})
    curve_s, front = best_of(runs, lambda: frontier(table))
    rows.append({"table": label, "T": len(table.tasks), "candidates": len(table.candidates),
                 "budget": "all (frontier)", "exact_s": curve_s, "total": front[-1].total,
                 "networks": len(front), "bnb_s": None})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=20.0,
                        help="seconds per branch-and-bound run (0: skip the baseline)")
    parser.add_argument("--out", default=str(ROOT / "bench/results/grouping.json"))
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from mtlspec.search.grouping.table import load_table

    rows = measure("Setting 1 (results.txt)", load_table(DATA / "results.txt"),
                   [1 + 0.5 * i for i in range(9)], args.runs, args.timeout)
    for n_tasks in (8, 10):
        rows += measure(f"random T={n_tasks}", random_table(n_tasks, seed=n_tasks),
                        [n_tasks / 2, float(n_tasks)], args.runs, args.timeout)
    rows += measure("random T=10, real costs", random_table(10, seed=10, real_costs=True),
                    [5.0, 10.0], 1, 0)

    print(f"{'table':26} {'T':>2} {'cands':>5} {'budget':>14} {'exact':>9} {'B&B':>10} "
          f"{'total':>8} {'nets':>4}")
    for r in rows:
        bnb = "—" if r["bnb_s"] is None else f"{r['bnb_s']:.3f} s"
        if r["bnb_s"] is None and isinstance(r["budget"], float) and args.timeout > 0 \
                and "real" not in r["table"]:
            bnb = f">{args.timeout:g} s"
        print(f"{r['table']:26} {r['T']:>2} {r['candidates']:>5} {r['budget']!s:>14} "
              f"{r['exact_s'] * 1000:>7.1f}ms {bnb:>10} {r['total']:>8.5f} {r['networks']:>4}")
    worst = max(r["exact_s"] for r in rows if r["table"] == "random T=10")
    print(f"\nT=10, all subsets + half-size singles: worst exact time {worst:.3f} s "
          f"(target < 2 s): {'ok' if worst < 2 else 'MISSED'}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "timeout_s": args.timeout}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
