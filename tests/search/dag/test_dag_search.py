"""DAG topology search: supernet arithmetic, stages, checkpoints, weight transfer, spec output."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mtlspec.compile import compile
from mtlspec.errors import MtlspecError
from mtlspec.search.dag.flow import Reduction
from mtlspec.search.dag.report import full_spec, spec_stats, to_dag_spec, topology_stats
from mtlspec.search.dag.stages import SearchConfig, central_spec, run_dag_search, search
from mtlspec.search.dag.supernet import DagSupernet, transfer_weights
from mtlspec.spec import format, ir, parse, validate
from mtlspec.train.data import load_data

torch.set_num_threads(1)

BASE = """dag tiny {
  input image: float[1, 1, 8, 16]
  central { states: 4; flow: 2; stem: conv(out=8, stride=2); edge: conv3x3 }
  tasks { left: head linear(classes=10); parity: head linear(classes=2) }
  topology left { in: 1; out: 1 }
  topology parity { in: 1; out: 1 }
}
"""


@pytest.fixture(scope="module")
def base() -> ir.DagSpec:
    return validate(parse(BASE))


@pytest.fixture(scope="module")
def data():
    return load_data("multidigits", tasks=["left", "parity"], train_size=64, val_size=16,
                     test_size=32)


class Scale(nn.Module):
    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = c

    def forward(self, x):
        return self.c * x


def test_supernet_follows_the_formulas(base):
    # N=3, M=1 (edges 1->2, 2->3). Identity stem and heads, edge i->j multiplies by 10i+j.
    spec = central_spec(base, SearchConfig(states=3, flow=1))
    net = DagSupernet(spec)
    net.stem = nn.Identity()
    net.heads = nn.ModuleDict({t: nn.Identity() for t in net.task_names})
    for (i, j) in net.edge_list:
        net.edges[f"e{i}_{j}"] = Scale(10 * i + j)
    s = torch.sigmoid
    with torch.no_grad():
        net.alpha.copy_(torch.tensor([[1.0, -1.0, 2.0], [0.0, 0.0, 0.0]]))
        net.gamma.copy_(torch.tensor([[0.5, -0.5], [0.0, 0.0]]))
        net.beta.copy_(torch.tensor([[0.3, 0.0, -2.0], [0.0, 0.0, 0.0]]))
    x = torch.ones(1, 1, 8, 16)
    out = net(x)["left"]
    a, g, b = s(net.alpha[0]), s(net.gamma[0]), s(net.beta[0])
    v1 = a[0]  # In_1 = 1 (read-in only)
    v2 = (a[1] + g[0] * 12 * v1) / 2  # In_2 = 2: read-in and edge 1->2
    v3 = (a[2] + g[1] * 23 * v2) / 2
    expected = b[0] * v1 + b[1] * v2 + b[2] * v3
    assert torch.allclose(out, expected.expand_as(out))
    # The warm-up point: every weight 0.5, task 2 = hand value with all sigmoids at 0.5.
    h1 = 0.5
    h2 = (0.5 + 0.5 * 12 * h1) / 2
    h3 = (0.5 + 0.5 * 23 * h2) / 2
    assert torch.allclose(net(x)["parity"], torch.full_like(out, 0.5 * (h1 + h2 + h3)))


def test_squeeze_loss(base):
    net = DagSupernet(central_spec(base, SearchConfig()))  # 5 edges, Σσ = 2.5 per task at 0
    assert net.squeeze_loss(2.0).item() == pytest.approx(2 * 0.5)
    assert net.squeeze_loss(3.0).item() == 0.0
    with torch.no_grad():
        net.gamma[0].fill_(math.log(3))  # σ = 0.75 → Σ = 3.75 for task 1 only
    assert net.squeeze_loss(3.0).item() == pytest.approx(0.75)


def test_warmup_holds_the_upper_level_and_search_moves_it(base, data):
    warm = search(base, data, SearchConfig(epochs_warmup=1, epochs_search=0, max_steps=1))
    net = warm.supernet
    assert all(torch.count_nonzero(p) == 0 for p in net.arch_parameters())
    searched = search(base, data, SearchConfig(epochs_warmup=1, epochs_search=1, max_steps=1))
    assert all(torch.count_nonzero(p) > 0 for p in searched.supernet.arch_parameters())
    assert [h["stage"] for h in searched.history] == ["warmup", "search"]


def test_resume_continues_exactly(base, data, tmp_path):
    one = SearchConfig(epochs_warmup=1, epochs_search=1, max_steps=2)
    two = SearchConfig(epochs_warmup=1, epochs_search=2, max_steps=2)
    search(base, data, one, checkpoint=tmp_path)
    resumed = search(base, data, two, checkpoint=tmp_path, resume=True)
    fresh = search(base, data, two)
    assert len(resumed.history) == 3
    for a, b in zip(resumed.supernet.state_dict().values(), fresh.supernet.state_dict().values(),
                    strict=True):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)
    with pytest.raises(MtlspecError, match="another dag run"):
        search(base, data, SearchConfig(epochs_search=1, seed=7, max_steps=1),
               checkpoint=tmp_path, resume=True)


def test_end_to_end_spec_compiles_and_exports(base, data, tmp_path):
    from mtlspec.exporters.onnx import export

    config = SearchConfig(epochs_warmup=1, epochs_search=1, epochs_finetune=1, max_steps=1)
    result = run_dag_search(base, data, config, name="tiny_out")
    text = format(result.spec)
    assert format(validate(parse(text))) == text  # canonical and valid
    assert result.spec.name == "tiny_out"
    net = result.state.supernet
    for task, red in result.reductions.items():
        topo = next(t for t in result.spec.topologies if t.task == task)
        assert topo.edges == red.edges and topo.read_in == {red.read_in}
        assert red.edges <= set(net.edge_list)
    # Surviving edges were initialised from the search (and then fine-tuned one step).
    assert "stem.0.weight" in result.transferred
    assert all(k.split(".")[1] in {f"e{i}_{j}" for i, j in net.edge_list}
               for k in result.transferred if k.startswith("edges."))
    assert result.params_reduced < result.params_full
    assert export(result.model, tmp_path / "m.onnx").ok


def test_transfer_copies_surviving_edges(base):
    net = DagSupernet(central_spec(base, SearchConfig()))
    reds = {"left": Reduction(1, 3, frozenset({(1, 3)}), frozenset()),
            "parity": Reduction(2, 4, frozenset({(2, 3), (3, 4)}), frozenset())}
    model = compile(to_dag_spec(net.spec, reds))
    keys = transfer_weights(net, model)
    assert set(model.state_dict()) == set(keys)
    for name in ("e1_3", "e2_3", "e3_4"):
        assert torch.equal(model.edges[name][0].weight, net.edges[name][0].weight)


def test_spec_output_and_stats(base):
    spec = central_spec(base, SearchConfig())
    with pytest.raises(MtlspecError, match="parity"):
        to_dag_spec(spec, {"left": Reduction(1, 2, frozenset({(1, 2)}), frozenset())})
    shared = full_spec(spec)
    assert [s.sparsity for s in spec_stats(shared)] == [0.0, 0.0]
    assert [(s.depth, s.width) for s in spec_stats(shared)] == [(3, 1), (3, 1)]
    assert full_spec(spec, ["parity"]).tasks[0].name == "parity"
    # depth 2, width 2: 1 -> {2, 3} -> 4 uses 4 of the 5 central edges
    topo = ir.Topology(task="left", read_in={1}, edges={(1, 2), (1, 3), (2, 4), (3, 4)},
                       read_out={4})
    stats = topology_stats(topo, spec.central)
    assert (stats.depth, stats.width, stats.edges) == (2, 2, 4)
    assert stats.sparsity == pytest.approx(1 / 5)
