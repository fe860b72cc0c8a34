"""Block selection: FLOPs-balanced groups (against brute force), named cuts, bad selections."""

from __future__ import annotations

import importlib
import itertools
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtlspec.backbone import (
    BackboneError,
    Partition,
    balanced_groups,
    blocks_for,
    build,
    partition,
    regroup,
    select_named,
    trace,
    verify,
)


def _groupings(n: int, k: int):
    """Every way to cut 0..n-1 into k contiguous non-empty groups, as last indices."""
    for cuts in itertools.combinations(range(n - 1), k - 1):
        yield [*cuts, n - 1]


def _sums(costs, ends):
    starts = [0, *(e + 1 for e in ends[:-1])]
    return [sum(costs[s:e + 1]) for s, e in zip(starts, ends, strict=True)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=9), st.data())
def test_balanced_groups_minimise_the_largest_group_then_spread(costs, data):
    k = data.draw(st.integers(1, len(costs)))
    ends = balanced_groups(costs, k)
    assert len(ends) == k and ends[-1] == len(costs) - 1 and ends == sorted(set(ends))
    sums = _sums(costs, ends)
    every = [_sums(costs, e) for e in _groupings(len(costs), k)]
    best = min(max(s) for s in every)
    assert max(sums) == best
    assert sum(x * x for x in sums) == min(sum(x * x for x in s) for s in every if max(s) == best)


def test_balanced_groups_by_hand():
    assert balanced_groups([4, 1, 1, 1, 1, 4], 3) == [0, 4, 5]
    assert balanced_groups([5], 1) == [0]
    assert balanced_groups([1, 2, 3], 3) == [0, 1, 2]
    with pytest.raises(ValueError):
        balanced_groups([1, 2], 3)


def test_regroup_keeps_chosen_boundaries_and_the_last():
    part = Partition({"a": 0, "b": 1, "c": 2, "d": 3}, ("a", "b", "c", "d"), ("a", "b", "c", "d"))
    coarse = regroup(part, ["b"])
    assert coarse.cuts == ("b", "d")
    assert coarse.assignment == {"a": 0, "b": 0, "c": 1, "d": 1}
    with pytest.raises(ValueError):
        regroup(part, ["zz"])


@cache
def _resnet34():
    built = build("torchvision.resnet34")
    return trace(built.model, (1, 3, 64, 64), head=built.head, name="torchvision.resnet34")


def test_named_cuts_accept_module_and_node_names():
    traced = _resnet34()
    raw = partition(traced.graph, traced.source, traced.sink, merge=False)
    part = select_named(traced.graph, raw, ["layer1", "layer2.1", "layer3_5_relu_1"])
    assert part.cuts == ("layer1_2_relu_1", "layer2_1_relu_1", "layer3_5_relu_1",
                         "layer4_2_relu_1")
    # a raw cut point that merging would remove is still allowed when asked for explicitly
    assert select_named(traced.graph, raw, ["bn1"]).cuts == ("bn1", "layer4_2_relu_1")


def test_unknown_cut_name_lists_the_valid_ones():
    traced = _resnet34()
    raw = partition(traced.graph, traced.source, traced.sink, merge=False)
    with pytest.raises(BackboneError) as err:
        select_named(traced.graph, raw, ["layer1", "layer1.0.conv1"], backbone="r34")
    text = err.value.render()
    assert "'layer1.0.conv1'" in text and "not a cut point" in text
    for valid in ("maxpool", "layer1.0", "layer1", "layer4"):
        assert valid in err.value.hint.split(": ", 1)[1].split(", ")
    with pytest.raises(BackboneError, match="same cut point"):
        select_named(traced.graph, raw, ["layer1", "layer1.2"])


def test_auto_k_is_the_best_balance_of_the_detected_blocks():
    every = blocks_for("torchvision.resnet34", input_shape=(3, 64, 64))
    flops = [b.flops for b in every.info]
    five = blocks_for("torchvision.resnet34", input_shape=(3, 64, 64), selection=5)
    assert len(five.blocks) == 5 and five.detected == 17
    best = min(max(_sums(flops, ends)) for ends in _groupings(17, 5))
    assert max(b.flops for b in five.info) == best
    assert five.flops == every.flops and five.params == every.params
    assert [b.cut for b in five.info][-1] == every.info[-1].cut


@pytest.mark.parametrize("selection", [0, 18, "fourteen", ["layer9"], 2.5, []])
def test_bad_selections_are_user_errors(selection):
    with pytest.raises(BackboneError):
        blocks_for("torchvision.resnet34", input_shape=(3, 32, 32), selection=selection)


def test_blocks_never_modify_their_input(monkeypatch):
    # Cut right after bn1, the next block starts with ReLU(inplace=True): split clones its
    # input, so branches sharing bn1's output cannot disturb each other.
    bb = blocks_for("torchvision.resnet34", input_shape=(3, 32, 32), selection=["bn1"])
    assert verify(bb).ok and verify(bb).mutating_blocks == ()
    split_module = importlib.import_module("mtlspec.backbone.split")
    monkeypatch.setattr(split_module, "_protect_input", lambda *args: None)
    unsafe = blocks_for("torchvision.resnet34", input_shape=(3, 32, 32), selection=["bn1"])
    check = verify(unsafe)
    assert check.mutating_blocks == (1,) and not check.ok
