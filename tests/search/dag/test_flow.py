"""Flow-based reduction (Algorithm 1) on hand-worked matrices, plus properties and baselines."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtlspec.errors import MtlspecError
from mtlspec.search.dag.flow import (
    Reduction,
    TaskArch,
    central_edges,
    flow_reduce,
    information_flow,
    live_edges,
    merge,
    random_reduce,
    reduce_all,
    repair_read_out,
    threshold_reduce,
)
from mtlspec.spec.graph import reachable


def arch(n: int, alpha, beta, gamma: dict[tuple[int, int], float]) -> TaskArch:
    g = np.zeros((n, n))
    for (i, j), w in gamma.items():
        g[i - 1, j - 1] = w
    return TaskArch(np.array(alpha, float), g, np.array(beta, float))


def test_merge_places_read_in_edges_and_read_out():
    a = arch(3, [.1, .2, .3], [.4, .5, .6], {(1, 2): .7, (2, 3): .8, (1, 3): .9})
    psi = merge(a, flow=1)  # flow 1: the long edge 1->3 is not part of the central network
    assert psi.shape == (5, 5)
    assert psi[0, 1:4].tolist() == [.1, .2, .3]
    assert psi[1:4, 4].tolist() == [.4, .5, .6]
    assert psi[1, 2] == .7 and psi[2, 3] == .8 and psi[1, 3] == 0.0
    assert np.all(np.tril(psi) == 0)


def test_information_flow_is_forward_propagated():
    # 0 -> 1 (.5), 1 -> 2 (.4), 0 -> 2 (.2): flow into 2 = .5*.4 + .2 = .4; 2 -> 3 (.5) carries .2
    psi = np.zeros((4, 4))
    psi[0, 1], psi[1, 2], psi[0, 2], psi[2, 3] = .5, .4, .2, .5
    s = information_flow(psi)
    assert s[1, 2] == pytest.approx(.2) and s[0, 2] == pytest.approx(.2)
    assert s[2, 3] == pytest.approx(.2)


def test_hand_worked_width_two():
    # N=4, M=3 (complete DAG). A=[.9,.1,.1,.1] -> N_alpha=1; B=[.1,.1,.1,.4] -> N_beta=4.
    # Γ: 1->2 .9, 1->3 .9, 2->4 .9, 3->4 .9, 2->3 .1, 1->4 .2.
    # Flow into: F1=.9, F2=.81, F3=.9*.9+.81*.1=.891, F4=.81*.9+.891*.9+.9*.2=1.7109.
    # Scores: 1->2 .81, 1->3 .81, 2->3 .081, 2->4 .729, 3->4 .8019, 1->4 .18,
    #         read-in .9, read-out 1.7109*.4=.68436.
    # 1) lowest 2->3 (.081): removable.   F3=.81, F4=1.638, read-out .6552.
    # 2) lowest 1->4 (.18): removable.     F4=1.458, read-out .5832.
    # 3) lowest is the read-out edge (.5832 < .729): removing it disconnects -> stop.
    a = arch(4, [.9, .1, .1, .1], [.1, .1, .1, .4],
             {(1, 2): .9, (1, 3): .9, (2, 4): .9, (3, 4): .9, (2, 3): .1, (1, 4): .2})
    r = flow_reduce(a, flow=3)
    assert (r.read_in, r.read_out) == (1, 4)
    assert r.removed == ((2, 3), (1, 4))
    assert r.edges == {(1, 2), (1, 3), (2, 4), (3, 4)}
    assert r.window == set(central_edges(4, 3))


def test_hand_worked_dead_end_is_dropped_at_discretisation():
    # N=4, M=2. A=[.9,.2,.1,.1] -> N_alpha=1; B=[.1,.1,.3,.8] -> N_beta=4.
    # Γ: 1->2 .8, 1->3 .5, 2->3 .1, 2->4 .6, 3->4 .4.
    # F1=.9, F2=.72, F3=.45+.072=.522, F4=.432+.2088=.6408; read-out .51264.
    # 1) lowest 2->3 (.072): removable.  F3=.45, F4=.612, read-out .4896.
    # 2) lowest 3->4 (.18): removable (1->2->4 remains).  F4=.432, read-out .3456.
    # 3) lowest read-out edge (.3456): critical -> stop. 1->3 now leads nowhere: dropped.
    a = arch(4, [.9, .2, .1, .1], [.1, .1, .3, .8],
             {(1, 2): .8, (1, 3): .5, (2, 3): .1, (2, 4): .6, (3, 4): .4})
    r = flow_reduce(a, flow=2)
    assert r.removed == ((2, 3), (3, 4))
    assert r.edges == {(1, 2), (2, 4)}


def test_hand_worked_window():
    # N=5, M=2. A's maximum is at state 5, but N_alpha ranges over 1..N-1: N_alpha = 2 (.8).
    # argmax B = 1 < N_alpha, so N_beta = N_alpha + 1 = 3. Only edge 2->3 lies in [2, 3].
    a = arch(5, [.1, .8, .3, .2, .9], [.9, .1, .2, .3, .1],
             {e: .5 for e in central_edges(5, 2)})
    r = flow_reduce(a, flow=2)
    assert (r.read_in, r.read_out) == (2, 3)
    assert r.window == {(2, 3)} and r.edges == {(2, 3)} and r.removed == ()


def test_single_state_has_no_edges():
    r = flow_reduce(TaskArch(np.array([.5]), np.zeros((1, 1)), np.array([.5])), flow=1)
    assert (r.read_in, r.read_out, r.edges) == (1, 1, frozenset())


@pytest.mark.parametrize("bad", [
    TaskArch(np.ones(3), np.ones((2, 2)), np.ones(3)),
    TaskArch(np.ones(2), np.ones((2, 2)) * 1.5, np.ones(2)),
    TaskArch(np.ones(2) * np.nan, np.ones((2, 2)), np.ones(2)),
])
def test_bad_weights_are_rejected(bad):
    with pytest.raises(MtlspecError):
        flow_reduce(bad, flow=1)


def test_unknown_method_is_rejected():
    a = arch(2, [.5, .5], [.5, .5], {(1, 2): .5})
    with pytest.raises(MtlspecError, match="unknown reduction"):
        reduce_all({"t": a}, flow=1, method="magic")


def test_threshold_is_global_across_tasks():
    # Flow keeps one edge per task (2 in all). Global ranking of window edges by Γ:
    # b:2->3 .95, b:1->3 .9, a:1->3 .7, ... -> task b keeps two edges, task a none; a's
    # read-out 3 is then unreachable and falls back to its read-in state 1.
    win = frozenset({(1, 2), (2, 3), (1, 3)})
    flows = {"a": Reduction(1, 3, frozenset({(1, 3)}), win),
             "b": Reduction(1, 3, frozenset({(1, 3)}), win)}
    archs = {"a": arch(3, [1, 0, 0], [0, 0, 1], {(1, 2): .1, (2, 3): .2, (1, 3): .7}),
             "b": arch(3, [1, 0, 0], [0, 0, 1], {(1, 2): .3, (2, 3): .95, (1, 3): .9})}
    out = threshold_reduce(flows, archs)
    assert out["b"].edges == {(2, 3), (1, 3)} and out["a"].edges == frozenset()
    assert out["a"].read_out == 1 and out["b"].read_out == 3


def test_repair_read_out():
    assert repair_read_out(1, 4, [(1, 2), (2, 4)]) == 4
    assert repair_read_out(2, 5, [(2, 3), (1, 5)]) == 3
    assert live_edges(1, 4, [(1, 2), (2, 4), (2, 3)]) == {(1, 2), (2, 4)}


@st.composite
def archs(draw):
    n = draw(st.integers(1, 7))
    flow = draw(st.integers(1, max(n - 1, 1)))
    w = st.floats(0.01, 0.99)
    alpha = np.array(draw(st.lists(w, min_size=n, max_size=n)))
    beta = np.array(draw(st.lists(w, min_size=n, max_size=n)))
    gamma = np.array(draw(st.lists(w, min_size=n * n, max_size=n * n))).reshape(n, n)
    return TaskArch(alpha, gamma, beta), flow


def _reaches(r: Reduction) -> bool:
    return r.read_out in reachable([r.read_in], r.edges)


@settings(max_examples=150, deadline=None)
@given(archs())
def test_reduction_properties(case):
    a, flow = case
    n = a.alpha.shape[0]
    r = flow_reduce(a, flow)
    assert r.edges <= r.window <= set(central_edges(n, flow))  # output ⊆ input graph
    assert _reaches(r)  # reachability is always preserved
    assert live_edges(r.read_in, r.read_out, r.edges) == r.edges
    assert n == 1 or r.read_in < r.read_out
    assert all(r.read_in <= i < j <= r.read_out for i, j in r.window)
    assert set(r.removed) <= r.window and not set(r.removed) & r.edges
    for method in ("random", "threshold"):
        base = reduce_all({"t": a}, flow, method, seed=3)["t"]
        assert base.edges <= r.window and len(base.edges) == len(r.edges)  # equal sparsity
        assert base.read_in == r.read_in and _reaches(
            Reduction(base.read_in, base.read_out, live_edges(base.read_in, base.read_out,
                                                              base.edges), base.window))


def test_random_is_seeded():
    a = arch(6, [.9, .1, .1, .1, .1, .1], [.1] * 5 + [.9], {e: .5 for e in central_edges(6, 3)})
    flows = {"t": flow_reduce(a, 3)}
    assert random_reduce(flows, seed=1) == random_reduce(flows, seed=1)
