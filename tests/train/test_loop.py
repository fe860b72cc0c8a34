"""The training loop: every weighting trains, MGDA/MGDA-UB steps are the weighted gradient,
exact resume (also after a SIGKILL mid-epoch), model/data checks, Δ."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from mtlspec.errors import MtlspecError
from mtlspec.train.data import TaskInfo, load_data
from mtlspec.train.delta import relative_delta
from mtlspec.train.loop import evaluate, load_checkpoint, train
from mtlspec.train.losses import loss_for
from mtlspec.train.shared import shared_parameters, shared_split
from mtlspec.train.step import Stepper
from mtlspec.train.weighting import make_weighting
from tests.train.tiny import DropoutNet, one_thread, tiny_data, tiny_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    yield from one_thread()


def _params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("weighting", ["uniform", "fixed", "rlw", "mgda", "mgda-ub"])
def test_every_weighting_trains_a_compiled_tree(weighting):
    model = tiny_model("trunk1")
    before = _params(model)
    w = (make_weighting("fixed", weights={"sum": 0.1}) if weighting == "fixed" else weighting)
    if weighting.startswith("mgda"):  # unnormalised, so the loss weights are the convex α
        w = make_weighting(weighting, normalization="none")
    result = train(model, tiny_data(), weighting=w, epochs=1, batch_size=32)
    assert result.steps == 4 and result.finished and len(result.history) == 1
    assert set(result.metrics) == set(result.val_metrics) == {"left", "right", "sum"}
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("nodes.b1.") for k in changed)
    assert all(any(k.startswith(f"heads.{t}.") for k in changed) for t in ("left", "sum"))
    mean_w = result.history[0]["mean_weights"]
    if weighting in ("uniform", "rlw", "mgda", "mgda-ub"):
        assert sum(mean_w.values()) == pytest.approx(1.0)


def test_training_lowers_the_loss():
    result = train(tiny_model("shared"), tiny_data(), epochs=4, batch_size=8, lr=1e-2)
    first, last = result.history[0]["train_loss"], result.history[-1]["train_loss"]
    assert sum(last.values()) < 0.8 * sum(first.values())


class _Keep(torch.optim.SGD):
    """An optimiser that leaves the parameters alone so the test can read .grad."""

    def step(self, closure=None):
        return None


@pytest.mark.parametrize(("weighting", "layout"), [("mgda", "trunk1"), ("mgda-ub", "trunk2"),
                                                    ("mgda-ub", "shared"), ("rlw", "trunk1")])
def test_a_step_applies_the_gradient_of_the_weighted_loss(weighting, layout):
    model = tiny_model(layout)
    model.eval()  # batch-norm in eval mode: the two forward passes below see the same model
    tasks = list(tiny_data().tasks)
    fns = [loss_for(tiny_data().tasks[t]) for t in tasks]
    w = make_weighting(weighting, normalization="l2" if weighting != "rlw" else "none")
    w.bind(tasks)
    x, y = tiny_data().train.batch(torch.arange(32))
    stepper = Stepper(model, tasks, fns, w, x)
    _, weights = stepper.step(x, y, _Keep(model.parameters(), lr=0.1))
    got = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    out = model(x)
    sum(weights[t] * fn(out[t], y[t]) for t, fn in zip(tasks, fns, strict=True)).backward()
    for n, p in model.named_parameters():
        assert torch.allclose(got[n], p.grad, atol=1e-6), n


def test_shared_split_reproduces_the_model():
    x, _ = tiny_data().train.batch(torch.arange(4))
    for layout in ("trunk1", "trunk2", "shared"):
        model = tiny_model(layout).eval()
        trunk, rest = shared_split(model)
        full, split = model(x), rest(trunk(x))
        assert all(torch.equal(full[t], split[t]) for t in full)
    with pytest.raises(MtlspecError, match=r"all-shared trunk.*--weighting mgda"):
        shared_split(tiny_model("split"))
    with pytest.raises(MtlspecError, match="shared_split"):
        shared_split(nn.Linear(2, 2))


def test_shared_parameters_are_the_nodes_serving_two_or_more_tasks():
    model = tiny_model("trunk1")
    x, _ = tiny_data().train.batch(torch.arange(4))
    shared = {id(p) for p in shared_parameters(model, x, ["left", "right", "sum"])}
    names = {n for n, p in model.named_parameters() if id(p) in shared}
    expected = {n for n, _ in model.named_parameters()
                if n.startswith(("nodes.b1.left+right+sum.", "nodes.b2.left+right."))}
    assert names == expected
    with pytest.raises(MtlspecError, match=r"no.*shared|none"):
        shared_parameters(tiny_model("separate"), x, ["left", "right", "sum"])


@pytest.mark.parametrize("weighting", ["rlw", "mgda-ub"])
def test_resume_after_a_stop_mid_epoch_is_exact(weighting, tmp_path):
    data = load_data(tasks=["left", "sum"], train_size=160, val_size=16, test_size=16)
    torch.manual_seed(0)
    model = DropoutNet()
    full = train(model, data, weighting=weighting, epochs=2, batch_size=32, seed=5)
    expected = _params(model)
    torch.manual_seed(0)
    stopped = train(DropoutNet(), data, weighting=weighting, epochs=2, batch_size=32, seed=5,
                    checkpoint=tmp_path, max_steps=7)
    assert not stopped.finished and load_checkpoint(tmp_path / "last.pt")["run"]["step"] == 7
    torch.manual_seed(123)  # a different init and RNG state: all must come from the checkpoint
    resumed_model = DropoutNet()
    torch.rand(7)
    resumed = train(resumed_model, data, weighting=weighting, epochs=2, batch_size=32, seed=5,
                    checkpoint=tmp_path, resume=True)
    assert resumed.resumed_from == 7 and resumed.steps == full.steps == 10
    got = resumed_model.state_dict()
    assert all(torch.equal(got[k], v) for k, v in expected.items())
    assert resumed.metrics == full.metrics


KILLED_RUN = """
import os, signal, sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {root!r})
from mtlspec.train.data import load_data
from mtlspec.train.loop import train
from tests.train.tiny import DropoutNet
data = load_data(tasks=["left", "sum"], train_size=128, val_size=16, test_size=16)
def kill(info):
    if info.step == 6:  # mid-epoch 2 (4 steps per epoch), after the checkpoint at step 5
        os.kill(os.getpid(), signal.SIGKILL)
torch.manual_seed(0)
train(DropoutNet(), data, weighting="mgda-ub", epochs=3, batch_size=32, seed=1,
      checkpoint={ckpt!r}, checkpoint_every=5, on_step=kill)
"""


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    script = KILLED_RUN.format(root=str(ROOT), ckpt=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    state = load_checkpoint(tmp_path / "last.pt")["run"]
    assert (state["step"], state["epoch"], state["step_in_epoch"]) == (5, 1, 1)
    data = load_data(tasks=["left", "sum"], train_size=128, val_size=16, test_size=16)
    torch.manual_seed(42)
    resumed = DropoutNet()
    train(resumed, data, weighting="mgda-ub", epochs=3, batch_size=32, seed=1,
          checkpoint=tmp_path, resume=True)
    torch.manual_seed(0)
    reference = DropoutNet()
    train(reference, data, weighting="mgda-ub", epochs=3, batch_size=32, seed=1)
    ref = reference.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in resumed.state_dict().items())


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    train(tiny_model(), tiny_data(), epochs=1, batch_size=64, checkpoint=tmp_path)
    with pytest.raises(MtlspecError, match=r"different run.*batch_size"):
        train(tiny_model(), tiny_data(), epochs=1, batch_size=32, checkpoint=tmp_path,
              resume=True)
    (tmp_path / "last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(MtlspecError, match="cannot read checkpoint"):
        train(tiny_model(), tiny_data(), epochs=1, checkpoint=tmp_path, resume=True)


def test_model_and_data_must_agree():
    class Wrong(nn.Module):
        def __init__(self, outputs):
            super().__init__()
            self.outputs = outputs
            self.lin = nn.Linear(128, 1)

        def forward(self, x):
            z = self.lin(x.flatten(1))
            return {t: z.expand(-1, n) for t, n in self.outputs.items()}

    with pytest.raises(MtlspecError, match=r"task.*colour.*does not have"):
        train(Wrong({"left": 10, "colour": 3}), tiny_data(), epochs=0)
    with pytest.raises(MtlspecError, match=r"task left.*\(4,\).*needs 10.*classes=10"):
        train(Wrong({"left": 4}), tiny_data(), epochs=0)


def test_evaluate_is_independent_of_the_batch_size():
    model = tiny_model()
    small = evaluate(model, tiny_data().test, tiny_data().tasks, batch_size=7)
    large = evaluate(model, tiny_data().test, tiny_data().tasks, batch_size=1000)
    assert small == pytest.approx(large, rel=1e-5)


def test_relative_delta_signs_by_metric_direction():
    acc = TaskInfo("a", "classification", 10, "cross_entropy", "accuracy", True)
    mae = TaskInfo("m", "regression", 1, "l1", "mae", False)
    tasks = {"a": acc, "m": mae}
    # a: +10 % better; m: error 2.2 vs 2.0 is 10 % worse → mean 0
    assert relative_delta({"a": 0.88, "m": 2.2}, {"a": 0.8, "m": 2.0}, tasks) == pytest.approx(0)
    assert relative_delta({"a": 0.88, "m": 1.0}, {"a": 0.8, "m": 2.0}, tasks) == pytest.approx(30)
    with pytest.raises(MtlspecError):
        relative_delta({"a": 0.5}, {"a": 0.0}, tasks)


GROUPING = """grouping tiny_groups {
  input image: float[1, 1, 8, 16]
  tasks {
    left: head linear(classes=10)
    right: head linear(classes=10)
    sum: head linear(out=1)
  }
  network a: convnet(depth=2, in_channels=1, width=0.25) trains {left, right} serves {left}
  network b: convnet(depth=2, in_channels=1, width=0.125) trains {right, sum} serves {right, sum}
}
"""


def test_a_grouping_trains_each_network_on_every_task_it_trains(tmp_path):
    from mtlspec.compile import compile
    from mtlspec.spec import parse, validate

    torch.manual_seed(0)
    model = compile(validate(parse(GROUPING)))
    before = _params(model)
    result = train(model, tiny_data(), epochs=1, batch_size=32, checkpoint=tmp_path)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    # network a trains the right-digit head it does not serve (Standley et al.'s auxiliary task)
    assert any(k.startswith("networks.a.heads.right.") for k in changed)
    assert any(k.startswith("networks.b.heads.sum.") for k in changed)
    assert set(result.metrics) == {"left", "right", "sum"}
    assert {row["part"] for row in result.history} == {"a", "b"}
    assert result.steps == 8  # 4 steps a network
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_an_explicit_cpu_device_trains_the_same_and_bad_devices_are_clear_errors():
    first, second = tiny_model("trunk1"), tiny_model("trunk1")
    a = train(first, tiny_data(), epochs=1, batch_size=32)
    b = train(second, tiny_data(), epochs=1, batch_size=32, device="cpu")
    assert a.metrics == b.metrics
    assert all(torch.equal(v, second.state_dict()[k]) for k, v in first.state_dict().items())
    with pytest.raises(MtlspecError, match="unknown device 'gpu0'"):
        train(tiny_model(), tiny_data(), epochs=0, device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(MtlspecError, match="CUDA is not available"):
            train(tiny_model(), tiny_data(), epochs=0, device="cuda")
