"""Weightings in training: every method trains, rep_grad ≡ parameter gradients where the trunk
is the whole shared part, exact resume of learnt state, records, optional extras, the CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from mtlspec.cli import main
from mtlspec.errors import MtlspecError
from mtlspec.train.data import load_data
from mtlspec.train.loop import train
from mtlspec.train.step import Stepper
from mtlspec.train.weighting import METHODS, WEIGHTINGS, make_weighting
from tests.train.test_weighting_methods import HAS_CVXPY
from tests.train.tiny import DropoutNet, one_thread, tiny_data, tiny_model, tiny_spec

CVXPY_METHODS = {"cagrad", "nash-mtl"}
REP_GRAD = [n for n, m in METHODS.items() if "rep_grad" in m.options()]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    yield from one_thread()


def available(name: str) -> bool:
    return HAS_CVXPY or name not in CVXPY_METHODS


def build(name: str, **options):
    if name == "fixed":
        return make_weighting("fixed", weights={"sum": 0.1})
    return make_weighting(name, **options)


@pytest.mark.parametrize("name", [n for n in METHODS if available(n)])
def test_every_method_trains_a_tiny_model_without_nan(name):
    model = tiny_model("trunk2")
    result = train(model, tiny_data(), weighting=build(name), epochs=1, batch_size=32)
    assert result.steps == 4 and result.weighting == name
    assert all(math.isfinite(v) for v in result.metrics.values())
    assert all(torch.isfinite(p).all() for p in model.parameters())
    weights = result.history[0]["mean_weights"]
    assert all(math.isfinite(v) and v >= 0 for v in weights.values()), weights
    assert result.last_step["step"] == 4 and set(result.last_step["weights"]) == set(weights)
    gradient = METHODS[name].needs != "losses"
    assert ("conflict" in result.history[0]) == gradient
    if gradient:
        stats = result.history[0]["conflict"]
        assert -1 <= stats["cos_min"] <= stats["cos_mean"] <= 1
        assert 0 <= stats["conflict_share"] <= 1


@pytest.mark.parametrize("name", [n for n in REP_GRAD if available(n)])
def test_every_rep_grad_method_trains_on_the_representation(name):
    result = train(tiny_model("trunk2"), tiny_data(), weighting=build(name, rep_grad=True),
                   epochs=1, batch_size=64)
    assert result.steps == 2 and result.weighting_options["rep_grad"] is True
    assert all(math.isfinite(v) for v in result.last_step["weights"].values())


class LinearTrunk(nn.Module):
    """z = W x (no bias) shared by three linear heads: with orthonormal inputs the Gram matrix
    of the per-task gradients on W equals that of the per-task gradients w.r.t. z, since
    ⟨Σ_b g_b x_bᵀ, Σ_b h_b x_bᵀ⟩ = Σ_b g_b·h_b when x_b·x_b' = δ_bb'."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.trunk = nn.Linear(4, 3, bias=False)
        self.heads = nn.ModuleDict({t: nn.Linear(3, 1) for t in ("a", "b", "c")})

    def forward(self, x):
        return self.shared_split()[1](self.trunk(x))

    def shared_split(self):
        return self.trunk, lambda z: {t: h(z).squeeze(1) for t, h in self.heads.items()}


class _Keep(torch.optim.SGD):
    def step(self, closure=None):
        return None


def _step(name: str, rep_grad: bool):
    model = LinearTrunk()
    x = torch.eye(4)  # orthonormal items
    y = {"a": torch.tensor([1.0, -2, 0, 3]), "b": torch.tensor([-1.0, 2, 1, 0]),
         "c": torch.tensor([0.5, 0.5, -3, 1])}
    mse = nn.functional.mse_loss
    if name == "mgda":
        w = make_weighting("mgda-ub" if rep_grad else "mgda", normalization="l2")
    else:
        w = make_weighting(name, rep_grad=rep_grad)
    w.bind(["a", "b", "c"])
    stepper = Stepper(model, ["a", "b", "c"], [mse] * 3, w, x)
    torch.manual_seed(1)  # PCGrad / GradVac draw their task orders
    _, weights = stepper.step(x, y, _Keep(model.parameters(), lr=0.1))
    return weights, model.trunk.weight.grad.clone()


@pytest.mark.parametrize("name", [n for n in REP_GRAD if n != "graddrop" and available(n)])
def test_representation_gradients_equal_parameter_gradients_on_a_linear_trunk(name):
    by_params, grad_params = _step(name, rep_grad=False)
    by_rep, grad_rep = _step(name, rep_grad=True)
    assert by_params == pytest.approx(by_rep, rel=1e-4, abs=1e-7), name
    assert torch.allclose(grad_params, grad_rep, rtol=1e-4, atol=1e-6)


def test_db_mtl_sets_the_shared_gradient_to_its_direction():
    model = LinearTrunk()
    x, y = torch.eye(4), {t: torch.arange(4.0) * (i + 1) for i, t in enumerate("abc")}
    mse = nn.functional.mse_loss
    w = make_weighting("db-mtl")
    w.bind(list("abc"))
    stepper = Stepper(model, list("abc"), [mse] * 3, w, x)
    stepper.step(x, y, _Keep(model.parameters(), lr=0.1))
    out = model(x)
    losses = [mse(out[t], y[t]) for t in "abc"]
    grads = [torch.autograd.grad(loss, model.trunk.weight, retain_graph=True)[0] / loss
             for loss in losses]  # ∇ log L; first average: 0.1 of it
    norms = torch.stack([g.norm() for g in grads])
    expected = sum(0.1 * g * norms.max() / n for g, n in zip(grads, norms, strict=True))
    assert torch.allclose(model.trunk.weight.grad, expected, rtol=1e-4, atol=1e-7)
    head = torch.autograd.grad(losses[0], model.heads["a"].weight)[0] / losses[0]
    assert torch.allclose(model.heads["a"].weight.grad, head, rtol=1e-4)


LEARNT = ["uw", "imtl-l", "famo", "gradnorm", "imtl", "dwa", "gradvac", "db-mtl", "rlw"]


@pytest.mark.parametrize("name", LEARNT)
def test_resume_restores_the_weightings_state_exactly(name, tmp_path):
    data = load_data(tasks=["left", "sum"], train_size=160, val_size=16, test_size=16)

    def run(model, **kwargs):
        return train(model, data, weighting=make_weighting(name, seed=5), epochs=3,
                     batch_size=32, seed=5, **kwargs)

    torch.manual_seed(0)
    model = DropoutNet()
    full = run(model)
    torch.manual_seed(0)
    stopped = run(DropoutNet(), checkpoint=tmp_path, max_steps=12)  # mid epoch 3
    assert not stopped.finished
    torch.manual_seed(9)
    resumed_model = DropoutNet()
    resumed = run(resumed_model, checkpoint=tmp_path, resume=True)
    assert resumed.resumed_from == 12 and resumed.last_step == full.last_step
    expected = model.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in resumed_model.state_dict().items())
    def untimed(history):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in history]

    assert untimed(resumed.history) == untimed(full.history)


def test_resume_refuses_other_weighting_options(tmp_path):
    train(tiny_model(), tiny_data(), weighting=make_weighting("gradnorm"), epochs=1,
          batch_size=64, checkpoint=tmp_path)
    with pytest.raises(MtlspecError, match=r"different run.*weighting_options"):
        train(tiny_model(), tiny_data(), weighting=make_weighting("gradnorm", alpha=0.5),
              epochs=1, batch_size=64, checkpoint=tmp_path, resume=True)


def test_a_missing_optional_dependency_names_the_extra(monkeypatch):
    from mtlspec.train.weighting import gradient

    real = gradient.find_spec
    monkeypatch.setattr(gradient, "find_spec",
                        lambda name: None if name == "cvxpy" else real(name))
    for name in ("cagrad", "nash-mtl"):
        with pytest.raises(MtlspecError, match=r"needs cvxpy.*pip install 'mtlspec\[cvxpy\]'"):
            make_weighting(name)
    result = CliRunner().invoke(main, ["train", "-", "--weighting", "cagrad"],
                                input=tiny_spec("trunk1"))
    assert result.exit_code == 2 and "mtlspec[cvxpy]" in result.output


@pytest.mark.parametrize(("name", "options", "message"), [
    ("uniform", {"rep_grad": True}, "option 'rep_grad' applies to gradnorm"),
    ("gradnorm", {"alpha": "fast"}, "option alpha is a number"),
    ("pcgrad", {"rep_grad": "maybe"}, "option rep_grad is true or false"),
    ("pcgrad", {"beta": 1}, "option 'beta' applies to db-mtl, gradvac, not pcgrad"),
    ("upgrad", {"speed": 1}, "upgrad has no option 'speed'; its options: reg_eps, rep_grad"),
    ("rlw", {"dist": "cauchy"}, "unknown dist 'cauchy'"),
    ("dwa", {"temperature": 0}, "temperature must be > 0"),
    ("db-mtl", {"beta": 1.0}, "beta must be in"),
])
def test_bad_options_are_clear_errors(name, options, message):
    with pytest.raises(MtlspecError, match=message):
        make_weighting(name, **options)


def test_representation_methods_say_what_to_drop():
    with pytest.raises(MtlspecError, match=r"upgrad needs an all-shared trunk.*drop rep_grad"):
        train(tiny_model("split"), tiny_data(), weighting=make_weighting("upgrad",
                                                                         rep_grad=True),
              epochs=1)


def test_cli_lists_every_method_with_its_paper_and_options():
    result = CliRunner().invoke(main, ["weightings", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)["weightings"]}
    assert list(rows) == list(METHODS) and len(rows) >= 20
    assert rows["gradnorm"]["options"]["alpha"]["default"] == 1.5
    assert rows["cagrad"]["extra"] == "cvxpy" and rows["uw"]["kind"] == "loss"
    assert rows["mgda-ub"]["needs"] == "representation gradients"
    assert all(r["paper"] for r in rows.values())
    from mtlspec.cli.train import WEIGHTINGS as CLI_NAMES

    assert tuple(CLI_NAMES) == WEIGHTINGS  # the torch-free copy the CLI offers
    text = CliRunner().invoke(main, ["weightings"], terminal_width=200).output
    assert "Kendall et al., CVPR 2018" in text and "mtlspec[cvxpy]" in text


def test_cli_train_takes_weighting_options_and_reports_them():
    result = CliRunner().invoke(main, [
        "train", "-", "--train-size", "64", "--epochs", "1", "--batch-size", "32", "--json",
        "--weighting", "gradnorm", "--weighting-option", "alpha=0.5",
        "--weighting-option", "rep_grad=true"], input=tiny_spec("trunk2"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["weighting_options"] == {"alpha": 0.5, "lr": None, "rep_grad": True}
    assert report["last_step"]["step"] == 2 and "conflict" in report["history"][0]
    shown = CliRunner().invoke(main, [
        "train", "-", "--train-size", "64", "--epochs", "1", "--batch-size", "32",
        "--weighting", "upgrad"], input=tiny_spec("trunk2"))
    assert shown.exit_code == 0, shown.output
    assert "upgrad weights (mean of the last epoch): left" in shown.output
    assert "task-gradient cosines: mean" in shown.output
    bad = CliRunner().invoke(main, ["train", "-", "--weighting", "pcgrad",
                                    "--weighting-option", "rep_grad"], input=tiny_spec())
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output


@pytest.mark.parametrize("module", ["mtlspec.train.weighting", "mtlspec.train.weighting.base",
                                    "mtlspec.train.weighting.registry",
                                    "mtlspec.train.weighting.solver", "mtlspec.train.step"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
