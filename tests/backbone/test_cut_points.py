"""Cut points and partitions: the dominator algorithm against a brute-force min-cut, hand-made
graphs, and the counts the issue states for real backbones."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtlspec.backbone import build, cut_points, partition, trace

BIG = 10**6  # "infinite" capacity: larger than any finite cut of these small graphs


def is_cut_point_by_min_cut(graph: nx.DiGraph, s, t, v) -> bool:
    """The definition, checked with one networkx minimum cut.

    v is a cut point iff the vertices split into A ∋ s, v and B ∋ t with no edge from B to A and
    every edge from A to B leaving v. As a cut problem: edges not leaving v may not be cut in
    either direction (infinite capacity both ways), edges leaving v cost 1, and v is tied to s.
    A finite minimum cut exists exactly when such a split does.
    """
    flow = nx.DiGraph()
    flow.add_nodes_from(graph)
    for a, b in graph.edges:
        flow.add_edge(a, b, capacity=1 if a == v else BIG)
        if not flow.has_edge(b, a):
            flow.add_edge(b, a, capacity=BIG)
        else:
            flow[b][a]["capacity"] = BIG
    flow.add_edge(s, v, capacity=BIG)
    value, _ = nx.minimum_cut(flow, s, t)
    return value < BIG


@st.composite
def dags(draw):
    """Random DAGs on 0..n-1 (edges go up), every vertex reachable from 0, n-1 reachable.

    Vertices that reach nothing (dead ends, like torch._assert) occur naturally.
    """
    n = draw(st.integers(3, 11))
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    for j in range(1, n):
        graph.add_edge(draw(st.integers(0, j - 1)), j)  # reachable from 0
        for i in range(j - 1):
            if draw(st.booleans()) and draw(st.booleans()):
                graph.add_edge(i, j)
    return graph


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_cut_points_equal_brute_force_min_cut(graph: nx.DiGraph):
    s, t = 0, len(graph) - 1
    expected = [v for v in nx.topological_sort(graph)
                if v not in (s, t) and is_cut_point_by_min_cut(graph, s, t, v)]
    assert cut_points(graph, s, t) == expected


@settings(max_examples=100, deadline=None)
@given(dags())
def test_partition_blocks_are_closed_and_ordered(graph: nx.DiGraph):
    s, t = 0, len(graph)
    graph = graph.copy()
    graph.add_edge(t - 1, t)  # traced graphs: the output has one predecessor
    nx.set_node_attributes(graph, "weights", "role")
    part = partition(graph, s, t, merge=False)
    assert list(part.cuts) == cut_points(graph, s, t)
    for a, b in graph.edges:
        if a in part.assignment and b in part.assignment:
            ba, bb = part.assignment[a], part.assignment[b]
            assert ba <= bb  # data flows forward only
            if ba < bb:  # and only the cut vertex's output crosses, into the next block
                assert a == part.cuts[ba] and bb == ba + 1
    for block, cut in enumerate(part.cuts):
        assert part.assignment[cut] == block


def _graph(edges, roles=None):
    graph = nx.DiGraph(edges)
    roles = roles or {}
    for v in graph:
        graph.nodes[v]["role"] = roles.get(v, "weights")
    return graph


def test_residual_block_is_one_block():
    # x → conv → bn → relu ─┬─ conv → bn ─ add → relu → out
    #                       └────────────────┘
    graph = _graph([("x", "c1"), ("c1", "b1"), ("b1", "r1"), ("r1", "c2"), ("c2", "b2"),
                    ("b2", "add"), ("r1", "add"), ("add", "r2"), ("r2", "out")],
                   {"b1": "norm", "r1": "free", "b2": "norm", "add": "free", "r2": "free"})
    assert cut_points(graph, "x", "out") == ["c1", "b1", "r1", "add", "r2"]
    raw = partition(graph, "x", "out", merge=False)
    assert raw.cuts == ("c1", "b1", "r1", "add", "r2")
    merged = partition(graph, "x", "out")
    assert merged.cuts == ("r1", "r2")  # stem absorbs bn, relu; the residual absorbs its relu
    assert merged.members(1) == ["c2", "b2", "add", "r2"]


def test_leading_weight_free_blocks_join_the_first_weighted_one():
    graph = _graph([("x", "norm"), ("norm", "pool"), ("pool", "conv"), ("conv", "out")],
                   {"norm": "norm", "pool": "free"})
    assert partition(graph, "x", "out").cuts == ("conv",)


def test_no_weights_at_all_gives_one_block():
    graph = _graph([("x", "a"), ("a", "b"), ("b", "out")], {"a": "free", "b": "free"})
    assert partition(graph, "x", "out").cuts == ("b",)


def test_dead_end_straddling_a_candidate_invalidates_it():
    # x → a → b → c → out, and an assert reading a and c (like a shape check)
    graph = _graph([("x", "a"), ("a", "b"), ("b", "c"), ("c", "out"), ("a", "check"),
                    ("c", "check")])
    assert cut_points(graph, "x", "out") == ["a", "c"]  # b no longer separates a from check
    part = partition(graph, "x", "out", merge=False)
    assert part.assignment["check"] == part.assignment["c"]


def test_dead_end_on_one_side_does_not_spoil_a_cut():
    graph = _graph([("x", "a"), ("a", "b"), ("b", "out"), ("x", "check")])
    assert cut_points(graph, "x", "out") == ["a", "b"]
    assert partition(graph, "x", "out", merge=False).assignment["check"] == 0


def test_dead_end_may_sit_after_a_cut():
    # Found by the property test (dominators with "as early as possible" dead ends got it
    # wrong): 3 is a dead end fed by cut point 1 and feeding dead end 5, which also reads 4.
    # Placing 3 after the cut at 1, with 4 and 5, keeps 1 a cut point.
    graph = _graph([(0, 1), (1, 2), (1, 3), (1, 4), (2, 4), (3, 5), (4, 5), (4, 6), (6, 7)])
    assert cut_points(graph, 0, 7) == [1, 4, 6]
    part = partition(graph, 0, 7, merge=False)
    assert part.assignment[3] == part.assignment[4] == part.assignment[5] == 1


def test_input_skipping_ahead_leaves_no_cut_before_the_join():
    graph = _graph([("x", "a"), ("a", "b"), ("b", "add"), ("x", "add"), ("add", "out")])
    assert cut_points(graph, "x", "out") == ["add"]


def test_a_non_tensor_candidate_is_not_a_cut():
    graph = _graph([("x", "pair"), ("pair", "first"), ("first", "out")])
    graph.nodes["pair"]["tensor"] = False  # a module returning a tuple
    assert partition(graph, "x", "out", merge=False).cuts == ("first",)


def test_unreachable_sink_is_an_error():
    with pytest.raises(ValueError, match="not reachable"):
        cut_points(nx.DiGraph([("x", "a"), ("b", "out")]), "x", "out")
    with pytest.raises(ValueError, match="exactly one predecessor"):
        partition(_graph([("x", "out"), ("x", "a")]), "x", "out")


def _traced(name: str, size: int = 64):
    built = build(name)
    return trace(built.model, (1, 3, size, size), head=built.head, name=name)


def test_resnet34_has_36_candidates_merging_into_17_blocks():
    traced = _traced("torchvision.resnet34")
    part = partition(traced.graph, traced.source, traced.sink)
    assert len(part.raw_cuts) == 36
    assert len(part) == 17
    stem = part.members(0)
    assert [traced.graph.nodes[v]["target"] for v in stem] == ["conv1", "bn1", "relu", "maxpool"]
    for block in range(1, 17):  # one residual block each, ending at its final ReLU
        assert part.cuts[block].endswith("_relu_1")
    assert partition(traced.graph, traced.source, traced.sink) == part  # a pure function


def test_mobilenet_v2_has_32_blocks_splitting_skipless_inverted_residuals_at_every_conv():
    traced = _traced("torchvision.mobilenet_v2")
    part = partition(traced.graph, traced.source, traced.sink)
    assert len(part) == 32
    per_feature: dict[str, int] = {}
    for cut in part.cuts:
        scopes = traced.graph.nodes[cut]["scopes"]
        feature = next(s for s in scopes if s.count(".") == 1)  # features.N
        per_feature[feature] = per_feature.get(feature, 0) + 1
    # stem conv; t=1 block (dw, pw); expanding blocks: 3 convs without skip, 1 block with skip
    skip = {"features.3", "features.5", "features.6", "features.8", "features.9", "features.10",
            "features.12", "features.13", "features.15", "features.16"}
    expected = {"features.0": 1, "features.1": 2, "features.18": 1}
    expected |= {f"features.{i}": 1 if f"features.{i}" in skip else 3 for i in range(2, 18)}
    assert per_feature == expected
