"""Exact task-grouping selection against brute force (random tables and the authors' tables)."""

from __future__ import annotations

import functools
import itertools
import math
import random
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtlspec.data.published import HERE as PUBLISHED
from mtlspec.errors import MtlspecError
from mtlspec.search.grouping.report import baselines
from mtlspec.search.grouping.selection import (
    BUDGET_TOLERANCE,
    best_within,
    evaluate,
    frontier,
    reassign,
    select,
)
from mtlspec.search.grouping.table import Candidate, load_table, make_table

DATA = PUBLISHED / "standley"
BUDGETS = [1 + 0.5 * i for i in range(9)]  # 1, 1.5, …, 5


# ---------------------------------------------------------------------- brute force
def all_covers(table):
    """Every set of ≤ T networks that covers the tasks and uses each network it holds.

    A set of more than T networks always holds one that serves nothing, and dropping it is
    never worse, so these sets suffice. Yields (cost, order key, {task: name}, total), the
    order key being (loss, cost, count, colex set) in exact arithmetic.
    """
    cands, tasks = table.candidates, table.tasks
    sign = -1 if table.direction == "max" else 1
    out = []
    for k in range(1, len(tasks) + 1):
        for combo in itertools.combinations(range(len(cands)), k):
            serve = {}
            for t in tasks:
                options = [(sign * Fraction(cands[n].loss[t]), n) for n in combo
                           if t in cands[n].loss]
                if not options:
                    break
                serve[t] = min(options)  # the lowest loss, then the earliest network
            else:
                if {n for _, n in serve.values()} != set(combo):
                    continue  # a network that serves nothing: the smaller set is better
                cost = sum(Fraction(cands[n].cost) for n in combo)
                loss = sum(v for v, _ in serve.values())
                key = (loss, cost, k, sum(1 << n for n in combo))
                out.append((cost, key, {t: cands[n].name for t, (_, n) in serve.items()},
                            sign * float(loss)))
    return out


def brute_force(table, budget, covers=None):
    """The best cover within the budget as ({task: name}, total), or None."""
    limit = Fraction(budget) + Fraction(BUDGET_TOLERANCE) * max(1, Fraction(budget))
    fitting = [c for c in (covers if covers is not None else all_covers(table)) if c[0] <= limit]
    if not fitting:
        return None
    best = min(fitting, key=lambda c: c[1])
    return best[2], best[3]


def served(selection):
    return {t: c.candidate.name for c in selection.choices for t in c.serves}


def random_table(rng: random.Random, *, exact: bool):
    """A random table; `exact` uses dyadic grids so equal sums are real ties."""
    n_tasks = rng.randint(1, 6)
    tasks = [f"t{i}" for i in range(n_tasks)]
    cands = []
    for i in range(rng.randint(1, 12)):
        trains = rng.sample(tasks, rng.randint(1, n_tasks))
        if exact:
            cost, values = rng.randint(0, 8) / 4, [rng.randint(1, 6) / 8 for _ in trains]
        else:
            cost, values = rng.uniform(0, 3), [rng.uniform(0.01, 1) for _ in trains]
        cands.append(Candidate(f"n{i}", cost, 1.0, dict(zip(trains, values, strict=True))))
    direction = rng.choice(["min", "min", "max"])
    return make_table(tasks, cands, direction=direction)


def check_against_brute_force(table, budget):
    truth = brute_force(table, budget)
    if truth is None:
        with pytest.raises(MtlspecError):
            select(table, budget)
        return
    chosen = select(table, budget)
    assert served(chosen) == truth[0]
    assert math.isclose(chosen.total, truth[1], rel_tol=1e-12, abs_tol=1e-12)
    assert chosen.cost <= budget * (1 + BUDGET_TOLERANCE)


# ---------------------------------------------------------------------- random tables
@pytest.mark.parametrize("exact", [True, False], ids=["dyadic-ties", "continuous"])
def test_random_tables_equal_brute_force(exact: bool):
    rng = random.Random(20240601 + exact)
    for _ in range(150):
        table = random_table(rng, exact=exact)
        check_against_brute_force(table, rng.choice([0, 0.5, 1, 1.75, 2.5, 4, 6]))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.floats(0, 6, allow_nan=False))
def test_hypothesis_tables_equal_brute_force(seed: int, budget: float):
    rng = random.Random(seed)
    check_against_brute_force(random_table(rng, exact=rng.random() < 0.5), budget)


def test_frontier_is_the_budget_curve():
    rng = random.Random(7)
    for _ in range(40):
        table = random_table(rng, exact=True)
        if set().union(*(c.trains for c in table.candidates)) != set(table.tasks):
            with pytest.raises(MtlspecError, match="no network in the table predicts"):
                frontier(table)
            continue
        front = frontier(table)
        covers = all_covers(table)
        costs = [s.cost for s in front]
        totals = [s.total if table.direction == "min" else -s.total for s in front]
        assert costs == sorted(set(costs)) and totals == sorted(set(totals), reverse=True)
        for budget in [0.25 * i for i in range(25)]:
            truth = brute_force(table, budget, covers)
            pick = best_within(front, budget)
            assert (pick is None) == (truth is None)
            if pick is not None:
                assert served(pick) == truth[0]


def test_a_network_is_chosen_once_even_when_free():
    # A free network training both tasks: serving both from one copy is the answer.
    table = make_table(["a", "b"], [Candidate("ab", 0.0, 1.0, {"a": 0.1, "b": 0.2}),
                                    Candidate("a", 1.0, 1.0, {"a": 0.3})])
    chosen = select(table, 0)
    assert [(c.candidate.name, c.serves) for c in chosen.choices] == [("ab", ("a", "b"))]


def test_ties_prefer_cheaper_then_fewer_then_earlier_networks():
    same = {"a": 0.25, "b": 0.25}
    table = make_table(["a", "b"], [
        Candidate("late", 1.0, 1.0, dict(same)),
        Candidate("pair_a", 0.5, 0.5, {"a": 0.25}), Candidate("pair_b", 0.5, 0.5, {"b": 0.25}),
        Candidate("early", 1.0, 1.0, dict(same)),
    ])
    # Same loss and cost three ways: one network beats two; of the two single networks, the
    # set whose latest table row is earliest wins.
    assert served(select(table, 1)) == {"a": "late", "b": "late"}
    cheaper = make_table(["a", "b"], [*table.candidates,
                                      Candidate("cheap", 0.75, 1.0, dict(same))])
    assert served(select(cheaper, 1)) == {"a": "cheap", "b": "cheap"}


def test_infeasible_budget_names_the_cheapest_cover():
    table = load_table(DATA / "results.txt")
    with pytest.raises(MtlspecError, match=r"budget of 0\.75 units .* cheapest cover costs 1"):
        select(table, 0.75)
    with pytest.raises(MtlspecError, match="finite number ≥ 0"):
        select(table, -1)


def test_a_task_no_network_predicts_is_an_error():
    table = make_table(["a", "b"], [Candidate("a", 1.0, 1.0, {"a": 0.1})])
    with pytest.raises(MtlspecError, match="no network in the table predicts task `b`"):
        select(table, 10)


def test_gmacs_costs_use_the_budget_tolerance():
    table = make_table(["a", "b"], [Candidate("a", 0.1, 1.0, {"a": 1.0}),
                                    Candidate("b", 0.2, 1.0, {"b": 1.0})], cost_unit="gmacs")
    assert 0.1 + 0.2 > 0.3
    assert select(table, 0.3).cost == pytest.approx(0.3)


# ---------------------------------------------------------------------- the authors' tables
def test_setting_1_budget_2_5_is_the_published_optimum():
    table = load_table(DATA / "results.txt")
    chosen = select(table, 2.5)
    assert round(chosen.total, 5) == 0.45076 and chosen.cost == 2.5
    assert [(c.candidate.name, c.serves) for c in chosen.choices] == [
        ("normal@0.5", ("normal",)),
        ("segment+depth+normal", ("segment", "depth")),
        ("normal+keypoint+edge", ("keypoint", "edge")),
    ]


@functools.cache
def _combinations(n: int, k: int) -> np.ndarray:
    return np.array(list(itertools.combinations(range(n), k)), dtype=np.int16)


def _numpy_brute_force(table):
    """{budget: (total, {task: name})} over every set of ≤ T networks, vectorised."""
    names = [c.name for c in table.candidates]
    loss = np.array([[c.loss.get(t, np.inf) for t in table.tasks] for c in table.candidates])
    cost = np.array([c.cost for c in table.candidates])
    sets = [_combinations(len(names), k) for k in range(1, len(table.tasks) + 1)]
    totals = np.concatenate([sum(loss[:, i][idx].min(axis=1) for i in range(len(table.tasks)))
                             for idx in sets])
    costs = np.concatenate([cost[idx].sum(axis=1) for idx in sets])
    starts = np.cumsum([0] + [len(idx) for idx in sets])
    out = {}
    for budget in BUDGETS:
        fits = np.where(costs <= budget + 1e-9, totals, np.inf)
        best = int(np.argmin(fits))  # the first minimum: the smallest set on exact ties
        k = int(np.searchsorted(starts, best, side="right")) - 1
        combo = [int(n) for n in sets[k][best - starts[k]]]
        serve = {t: names[min(combo, key=lambda n: (loss[n, i], n))]
                 for i, t in enumerate(table.tasks)}
        out[budget] = (float(fits[best]), serve)
    return out


TABLES = sorted(p.name for p in DATA.glob("results*.txt"))


@pytest.mark.parametrize("name", TABLES)
def test_shared_tables_equal_brute_force_for_every_budget(name: str):
    tasks = ["autoencoder", "normal", "occlusion", "reshading", "curvature"] if "alt" in name \
        else None
    table = load_table(DATA / name, tasks=tasks)
    truth = _numpy_brute_force(table)
    front = frontier(table, 5)
    for budget in BUDGETS:
        chosen = select(table, budget)
        assert chosen.total == pytest.approx(truth[budget][0], rel=1e-12), budget
        assert served(chosen) == truth[budget][1], budget
        assert served(best_within(front, budget)) == served(chosen)


def test_evaluate_on_the_test_split_keeps_the_served_tasks():
    table = load_table(DATA / "results.txt")
    test = load_table(DATA / "results_test.txt")
    chosen = select(table, 2.5)
    expected = math.fsum(test.by_name(c.candidate.name).loss[t]
                         for c in chosen.choices for t in c.serves)
    assert evaluate(chosen, test) == expected
    assert 0.44 < expected < 0.45
    missing = make_table(table.tasks, [*test.candidates[:5], test.candidates[-1]])
    with pytest.raises(MtlspecError, match="chosen network `segment\\+depth\\+normal` is not"):
        evaluate(chosen, missing)


def test_baselines_are_the_papers_reference_points():
    table = load_table(DATA / "results.txt")
    refs = baselines(table)
    joint, singles = refs["all tasks in one network"], refs["one network per task"]
    assert joint.cost == 1 and round(joint.total, 5) == 0.50761
    assert singles.cost == 5 and [c.candidate.name for c in singles.choices] == list(table.tasks)
    assert round(singles.total, 5) == 0.45313


def test_an_optimal_selection_already_serves_each_task_best():
    rng = random.Random(11)
    for _ in range(60):
        table = random_table(rng, exact=True)
        try:
            chosen = select(table, 3)
        except MtlspecError:
            continue
        assert served(reassign(chosen, table)) == served(chosen)


def test_esa_networks_serve_by_their_trained_values():
    table = load_table(DATA / "results.txt")
    early = load_table(DATA / "results_20.txt")
    picked = select(early, 2.5)
    final = reassign(picked, table)
    assert {c.candidate.name for c in final.choices} == {c.candidate.name for c in picked.choices}
    for task, name in served(final).items():
        options = [table.by_name(c.candidate.name) for c in picked.choices]
        best = min((c for c in options if task in c.loss), key=lambda c: c.loss[task])
        assert name == best.name
    assert final.total < evaluate(picked, table)  # here the early values mis-assign a task
