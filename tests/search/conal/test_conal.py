"""CoNAL search: supernet formula, Eq. (5) conflict noticing, spec output, Pro, resume, import."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from mtlspec.errors import MtlspecError
from mtlspec.search.conal import SearchConfig, conflict_mask, run_stage, search_conal
from mtlspec.search.conal.pro import merge_row
from mtlspec.search.conal.spec import import_conal, layout_from_branch_points
from mtlspec.search.conal.supernet import ConalSupernet, Unit, build_supernet
from mtlspec.spec import format, load, parse, validate
from mtlspec.spec.layout import ordered_groups
from mtlspec.train.data import DataSplits, MultiTaskDataset, TaskInfo, load_data

SPEC = "specs/conal_multidigits.mtl"
TINY = SearchConfig(epochs=1, batch_size=32, steps_per_epoch=3)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convs: threads only add contention
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def base():
    return validate(load(SPEC))


@pytest.fixture(scope="module")
def data():
    return load_data("multidigits", train_size=96, val_size=64, test_size=32)


def test_conflict_mask_blocks_from_the_first_conflicting_module_on():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])
    grads = [[a, b], [a, -a], [a, a], [a, b]]  # conflict only at module 2
    update, negative, pairs = conflict_mask(grads)
    assert update == [True, False, False, False]
    assert negative == [0, 1, 0, 0] and pairs == [1, 1, 1, 1]
    # a zero gradient has no direction: not a conflict
    assert conflict_mask([[a, torch.zeros(2)], [a, a]])[0] == [True, True]
    three = conflict_mask([[a, b, -b]])
    assert three[0] == [False] and three[1] == [2] and three[2] == [3]


def _toy_net() -> ConalSupernet:
    """Three bias-free linear blocks whose task gradients conflict at block 2 only.

    With loss = mean prediction, δ3 = head weights: a (1, 0), b (1, 1) (dot 1 > 0); δ2 = W3ᵀδ3:
    (1, 0) and (-1, 1) (dot -1 < 0); δ1 = W2ᵀδ2: (1, 0) and (1, 0) (dot 1 > 0).
    """
    weights = [torch.eye(2), torch.tensor([[1.0, 0.0], [2.0, 0.0]]),
               torch.tensor([[1.0, 0.0], [-2.0, 1.0]])]
    blocks = []
    for w in weights:
        block = nn.Linear(2, 2, bias=False)
        block.weight.data.copy_(w)
        blocks.append(block)
    heads = {}
    for task, w in (("a", [1.0, 0.0]), ("b", [1.0, 1.0])):
        heads[task] = nn.Linear(2, 1, bias=False)
        heads[task].weight.data.copy_(torch.tensor([w]))
    backbone = SimpleNamespace(blocks=blocks, info=[])
    units = [Unit(("a",), (3,)), Unit(("b",), (3,))]  # every block shared
    return ConalSupernet(backbone, heads, ["a", "b"], units, depth=3)


def _toy_data() -> DataSplits:
    x = torch.ones(4, 2)
    ys = {"a": torch.zeros(4, 1), "b": torch.zeros(4, 1)}
    info = {t: TaskInfo(t, "regression", 1, "l1", "mae", False) for t in ys}
    ds = MultiTaskDataset(x, ys)
    return DataSplits(ds, ds, ds, info, (2,))


@pytest.mark.parametrize("noticing", [True, False])
def test_conflict_noticing_freezes_the_conflicting_module_and_all_after_it(noticing):
    net = _toy_net()
    before = [m.weight.detach().clone() for m in net.shared]
    losses = {t: (lambda pred, target: pred.mean()) for t in ("a", "b")}
    config = SearchConfig(epochs=1, batch_size=4, warmup_epochs=1, conflict_noticing=noticing)
    result = run_stage(net, _toy_data(), config, losses=losses)
    changed = [not torch.equal(b, m.weight) for b, m in zip(before, net.shared, strict=True)]
    assert result.stats.conflicted == [0, 1, 0]
    if noticing:  # Eq. (5): block 1 updated; block 2 (conflict) and block 3 (after it) not
        assert changed == [True, False, False]
        assert result.stats.frozen == [0, 1, 1]
    else:  # ablation: every shared block moves
        assert changed == [True, True, True]
        assert result.stats.frozen == [0, 0, 0]


def test_supernet_output_is_the_alpha_weighted_sum_over_branch_points(base):
    torch.manual_seed(0)
    net = build_supernet(base).eval()
    x = torch.rand(2, 1, 8, 16)
    shared = [x]
    for block in net.shared:
        shared.append(block(shared[-1]))
    with torch.no_grad():
        net.alpha["left"].copy_(torch.tensor([0.3, -1.0, 2.0, 0.0, 0.5, 1.0]))
        expected = 0
        weights = torch.softmax(net.alpha["left"], 0)
        for p in range(6):
            z = shared[p]
            for i in range(p, 5):
                z = net.own["left"][i](z)
            expected = expected + weights[p] * net.heads["left"](z)
        assert torch.allclose(net(x)["left"], expected, atol=1e-6)
        net.alpha["left"].copy_(torch.tensor([0.0, 0.0, 0.0, 50.0, 0.0, 0.0]))
        assert net.choices()["left"] == 3


def test_layout_rows_group_the_tasks_still_on_the_trunk():
    rows = layout_from_branch_points(["a", "b", "c"], {"a": 3, "b": 1, "c": 0}, 3)
    shown = [ordered_groups(row, ["a", "b", "c"]) for row in rows]
    assert shown == [[["a", "b"], ["c"]], [["a"], ["b"], ["c"]], [["a"], ["b"], ["c"]]]
    with pytest.raises(ValueError):
        layout_from_branch_points(["a"], {"a": 4}, 3)


def _canonical(spec) -> str:
    text = format(spec)
    assert format(validate(parse(text))) == text
    return text


def test_search_writes_a_valid_canonical_spec_from_the_argmax(base, data):
    result = search_conal(base, data, config=TINY)
    names = [t.name for t in base.tasks]
    assert set(result.branch_points) == set(names)
    assert result.spec.layout == layout_from_branch_points(names, result.branch_points, 5)
    weights = result.stages[0].weights
    for task, point in result.branch_points.items():
        assert weights[task][point] == max(weights[task])
    _canonical(result.spec)
    from mtlspec.compile import compile

    out = compile(result.spec)(torch.zeros(2, 1, 8, 16))
    assert out["left"].shape == (2, 10)


def test_pro_search_gives_a_refining_tree(base, data):
    config = SearchConfig(epochs=1, batch_size=32, steps_per_epoch=2)
    result = search_conal(base, data, config=config, pro=True)
    assert result.pro and result.branch_points is None
    layout = result.spec.layout
    for upper, lower in itertools.pairwise(layout):
        assert all(any(g <= h for h in upper) for g in lower)  # each row refines the one above
    assert 1 <= len(result.stages) <= 5
    for stage in result.stages:  # two candidates per unit: its own block or the shared one
        assert all(len(c) == 2 for c in stage.candidates.values())
    _canonical(result.spec)


def test_merge_row_merges_the_units_that_keep_the_shared_block():
    units = (("a", "b"), ("c",), ("d",))
    assert merge_row(units, [("a", "b"), ("d",)], list("abcd")) == (("a", "b", "d"), ("c",))
    assert merge_row(units, [], list("abcd")) == units


def test_resume_after_an_interruption_matches_an_uninterrupted_run(base, data, tmp_path):
    config = SearchConfig(epochs=2, batch_size=32, steps_per_epoch=2)
    whole = search_conal(base, data, config=config)

    def stop(label, done, total):
        if done == 3:  # epoch 2, after the epoch-1 checkpoint
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        search_conal(base, data, config=config, checkpoint=tmp_path, progress=stop)
    resumed = search_conal(base, data, config=config, checkpoint=tmp_path, resume=True)
    assert resumed.stages[0].weights == whole.stages[0].weights
    assert resumed.spec == whole.spec
    other = SearchConfig(epochs=2, batch_size=32, steps_per_epoch=2, seed=1)
    with pytest.raises(MtlspecError, match="another conal run"):
        search_conal(base, data, config=other, checkpoint=tmp_path, resume=True)


def test_search_rejects_tasks_the_data_lacks(base):
    small = load_data("multidigits", tasks=["left", "right"], train_size=8, val_size=8,
                      test_size=8)
    with pytest.raises(MtlspecError, match="parity"):
        search_conal(base, small, config=TINY)


def test_import_maps_shared_stages_to_layout_rows(base):
    spec = import_conal({"0": 5, "1": 2, "2": 0}, base, tasks=["right", "left", "parity"])
    rows = [ordered_groups(r, ["left", "right", "parity"]) for r in spec.layout]
    assert rows[0] == [["left", "right"], ["parity"]]
    assert rows[2] == [["left"], ["right"], ["parity"]]
    assert spec.name == base.name and spec.tasks == base.tasks
    _canonical(spec)


@pytest.mark.parametrize(("arch", "message"), [
    ({"0": 5, "1": 5}, "no entry for task index 2"),
    ({"0": 5, "1": 5, "2": 1, "3": 0}, "task index 3 has no task"),
    ({"0": 6, "1": 5, "2": 1}, "shares 6 stages"),
    ({"0": -1, "1": 5, "2": 1}, "shares -1 stages"),
    ({"0": True, "1": 5, "2": 1}, "must be an integer"),
    ({"0": 2.5, "1": 5, "2": 1}, "must be an integer"),
    ({"x": 2, "1": 5, "2": 1}, "not a task index"),
])
def test_import_rejects_bad_architectures(base, arch, message):
    with pytest.raises(MtlspecError, match=message):
        import_conal(arch, base)


def test_import_reads_files_and_reports_bad_json(base, tmp_path):
    good = tmp_path / "arch.json"
    good.write_text('{"0": 5, "1": 5, "2": 3}')
    assert import_conal(good, base).layout[3] == frozenset(
        {frozenset({"left", "right"}), frozenset({"parity"})})
    bad = tmp_path / "bad.json"
    bad.write_text('{"0": 5,')
    with pytest.raises(MtlspecError, match="invalid JSON"):
        import_conal(bad, base)
    listed = tmp_path / "list.json"
    listed.write_text("[5, 5, 3]")
    with pytest.raises(MtlspecError, match="expected a JSON object"):
        import_conal(listed, base)
    with pytest.raises(MtlspecError, match="also declares `parity`"):
        import_conal(good, base, tasks=["left", "right"])
