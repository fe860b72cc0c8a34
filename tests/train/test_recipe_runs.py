"""Seeds in parallel (mean ± std), mixed precision, TensorBoard logs."""

from __future__ import annotations

import importlib.util
import json
import statistics

import pytest
import torch
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.errors import MtlspecError
from mtlspec.plan.seeds import mean_std, summarize
from mtlspec.train.amp import Precision
from mtlspec.train.loop import train
from mtlspec.train.shared import gram_matrix
from tests.train.tiny import one_thread, tiny_data, tiny_model, tiny_spec

FAST = ["--train-size", "64", "--epochs", "1", "--batch-size", "32"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    yield from one_thread()


def _invoke(*args) -> dict:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_seeds_run_in_parallel_and_report_mean_and_std(tmp_path):
    spec = tmp_path / "tiny.mtl"
    spec.write_text(tiny_spec())
    baseline = tmp_path / "single.json"
    baseline.write_text(json.dumps({"left": 0.3, "right": 0.3, "sum": 3.0}))
    out = _invoke("train", spec, *FAST, "--seeds", "0,1", "--parallel", "2", "--baseline",
                  baseline, "-o", tmp_path / "m.pt", "--json")
    runs, summary = out["runs"], out["summary"]
    assert [r["seed"] for r in runs] == [0, 1] and out["seeds"] == [0, 1]
    assert runs[0]["all_metrics"] != runs[1]["all_metrics"]  # different seeds, other results
    values = [r["all_metrics"]["sum"]["mae"] for r in runs]
    got = summary["metrics"]["sum"]["mae"]["test"]
    assert got["mean"] == pytest.approx(statistics.mean(values))
    assert got["std"] == pytest.approx(statistics.stdev(values))
    assert summary["delta"]["mean"] == pytest.approx(statistics.mean(r["delta"] for r in runs))
    for seed in (0, 1):
        assert (tmp_path / f"m.seed{seed}.pt").exists()
        assert (tmp_path / f"m.seed{seed}.best.pt").exists()
    # one seed alone gives the same numbers as that seed in the parallel run
    single = _invoke("train", spec, *FAST, "--seed", "1", "--json")
    assert single["all_metrics"] == runs[1]["all_metrics"]


def test_seed_table_and_bad_seeds(tmp_path):
    spec = tmp_path / "tiny.mtl"
    spec.write_text(tiny_spec())
    result = CliRunner().invoke(main, ["train", str(spec), *FAST, "--seeds", "2,3",
                                       "--parallel", "1"])
    assert result.exit_code == 0, result.output
    assert "±" in result.output and "seeds 2,3" in result.output
    bad = CliRunner().invoke(main, ["train", str(spec), "--seeds", "0,x"])
    assert bad.exit_code == 2 and "--seeds" in bad.output


def test_summarize_and_mean_std():
    assert mean_std([2.0]) == {"mean": 2.0, "std": 0.0}
    reports = [{"seed": s, "all_metrics": {"a": {"acc": v}}, "all_val_metrics": {"a": {"acc": v}},
                "delta": d} for s, v, d in [(0, 0.5, 1.0), (1, 0.7, 3.0)]]
    s = summarize(reports)
    assert s["delta"] == pytest.approx({"mean": 2.0, "std": 2 ** 0.5})
    assert s["metrics"]["a"]["acc"]["val"]["std"] == pytest.approx(0.2 / 2 ** 0.5)


@pytest.mark.parametrize("weighting", ["uniform", "mgda", "mgda-ub", "upgrad"])
def test_bf16_autocast_trains_on_cpu(weighting):
    from mtlspec.train.weighting import make_weighting

    model = tiny_model()
    # unnormalised MGDA: the weights are the min-norm solve's convex α
    w = make_weighting(weighting, normalization="none") if "mgda" in weighting else weighting
    result = train(model, tiny_data(), weighting=w, epochs=1, batch_size=64, amp="bf16")
    assert result.steps == 2
    assert all(p.dtype == torch.float32 for p in model.parameters())  # float32 master weights
    weights = result.last_step["weights"]
    assert all(torch.isfinite(torch.tensor(w)) for w in weights.values())
    if weighting.startswith("mgda"):
        assert sum(weights.values()) == pytest.approx(1.0)


def test_gram_matrix_is_float64_even_under_autocast():
    g = torch.randn(3, 1000, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gram = gram_matrix(g)
    assert gram.dtype == torch.float64
    assert torch.allclose(gram, (g.double() @ g.double().T), rtol=1e-6)


def test_amp_modes_and_errors():
    assert Precision("fp16", torch.device("cpu")).scaler is None  # no scaler on the CPU
    with pytest.raises(MtlspecError, match="unknown --amp"):
        Precision("fp8", torch.device("cpu"))
    if not torch.cuda.is_available():
        with pytest.raises(MtlspecError, match="CUDA is not available"):
            train(tiny_model(), tiny_data(), epochs=1, amp="fp16", device="cuda")


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None,
                    reason="tensorboard not installed")
def test_tensorboard_event_file_holds_the_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec = tmp_path / "tiny.mtl"
    spec.write_text(tiny_spec())
    logs = tmp_path / "logs"
    report = _invoke("train", spec, "--train-size", "64", "--epochs", "2", "--batch-size", "32",
                     "--weighting", "mgda", "--log-dir", logs, "--json")
    assert report["log_dir"] == str(logs)
    events = EventAccumulator(str(logs))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for tag in ("loss/left", "loss/total", "weight/sum", "lr", "conflict/cos_mean",
                "val/left/accuracy", "val/sum/mae", "epoch/lr"):
        assert tag in tags, tag
    steps = events.Scalars("weight/left")
    assert [e.step for e in steps] == [1, 2, 3, 4]
    assert steps[-1].value == pytest.approx(report["last_step"]["weights"]["left"], rel=1e-6)
    assert [e.step for e in events.Scalars("val/left/accuracy")] == [1, 2]


def test_log_dir_without_tensorboard_is_a_clear_error(tmp_path, monkeypatch):
    spec = tmp_path / "tiny.mtl"
    spec.write_text(tiny_spec())
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real(name, *a))
    result = CliRunner().invoke(main, ["train", str(spec), "--log-dir", str(tmp_path / "l")])
    assert result.exit_code == 2 and "mtlspec[tensorboard]" in result.output


@pytest.mark.parametrize("weighting", ["uniform", "mgda", "mgda-ub", "upgrad", "graddrop"])
def test_loss_scaling_gives_the_same_update(weighting):
    """The grad scaler's path (fp16 on a GPU), run on the CPU: losses × 2^16, gradients
    unscaled before the step; the update is that of the unscaled step."""
    from mtlspec.train.losses import loss_for
    from mtlspec.train.step import Stepper
    from mtlspec.train.weighting import make_weighting

    data = tiny_data()
    tasks = ["left", "right", "sum"]
    x, y = data.train.batch(torch.arange(32))
    states = []
    for scaled in (False, True):
        model = tiny_model()
        w = make_weighting(weighting)
        w.bind(tasks)
        amp = Precision("bf16", torch.device("cpu"), scaler=scaled)
        stepper = Stepper(model, tasks, [loss_for(data.tasks[t]) for t in tasks], w, x, amp)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        stepper.step(x, y, opt)
        assert (amp.scaler is not None) == scaled
        states.append(model.state_dict())
    plain, scaled = states
    for k, v in plain.items():
        assert torch.allclose(v, scaled[k], rtol=1e-5, atol=1e-7), k
