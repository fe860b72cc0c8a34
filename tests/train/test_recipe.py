"""The training recipe: optimisers, schedules, config files, best-epoch selection, exact
resume with all of them."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.errors import MtlspecError, SpecError
from mtlspec.train import epochs as epochs_module
from mtlspec.train.config import load_config
from mtlspec.train.loop import train
from mtlspec.train.optim import OptimSettings, make_optimizer, make_schedule
from mtlspec.train.select import Selector
from tests.train.tiny import DropoutNet, one_thread, tiny_data, tiny_model, tiny_spec


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    yield from one_thread()


def _rates(settings: OptimSettings, epochs: int) -> list[float]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = make_optimizer([p], settings)
    sched = make_schedule(opt, settings, epochs)
    rates = []
    for _ in range(epochs):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
    return rates


def test_schedules_follow_their_definitions():
    assert _rates(OptimSettings(lr=0.1), 3) == [0.1] * 3
    step = _rates(OptimSettings(lr=0.1, schedule="step", step_size=2, gamma=0.5), 6)
    assert step == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    cosine = _rates(OptimSettings(lr=1.0, schedule="cosine", warmup_epochs=2), 6)
    assert cosine[:3] == pytest.approx([1 / 3, 2 / 3, 1.0])  # linear warm-up, then the peak
    assert all(a > b for a, b in itertools.pairwise(cosine[2:]))  # annealing
    assert cosine[-1] > 0


def test_optimizers_and_bad_settings():
    p = [torch.nn.Parameter(torch.zeros(1))]
    sgd = make_optimizer(p, OptimSettings(optimizer="sgd", momentum=0.8, weight_decay=1e-4))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.8
    assert sgd.defaults["weight_decay"] == 1e-4
    assert isinstance(make_optimizer(p, OptimSettings(optimizer="adamw")), torch.optim.AdamW)
    with pytest.raises(MtlspecError, match="unknown optimizer"):
        OptimSettings(optimizer="lamb")
    with pytest.raises(MtlspecError, match="gamma"):
        OptimSettings(gamma=2.0)


def test_training_uses_the_schedule_and_records_the_rate():
    optim = OptimSettings(optimizer="sgd", lr=0.05, schedule="step", step_size=1, gamma=0.5)
    result = train(tiny_model(), tiny_data(), epochs=2, batch_size=64, optim=optim)
    # the history records the rate each epoch trained at
    assert [row["lr"] for row in result.history] == pytest.approx([0.05, 0.025])


def test_resume_with_sgd_cosine_and_best_tracking_is_bit_identical(tmp_path):
    data = tiny_data()
    optim = OptimSettings(optimizer="sgd", lr=0.05, momentum=0.9, schedule="cosine",
                          warmup_epochs=1, weight_decay=1e-4)
    torch.manual_seed(0)
    model = DropoutNet()
    full = train(model, data, weighting="mgda-ub", epochs=3, batch_size=32, seed=3,
                 optim=optim)
    torch.manual_seed(0)
    first = train(DropoutNet(), data, weighting="mgda-ub", epochs=3, batch_size=32, seed=3,
                  optim=optim, checkpoint=tmp_path, max_steps=6)  # stops mid-epoch 2
    assert not first.finished
    torch.manual_seed(99)
    resumed_model = DropoutNet()
    resumed = train(resumed_model, data, weighting="mgda-ub", epochs=3, batch_size=32, seed=3,
                    optim=optim, checkpoint=tmp_path, resume=True)
    got = resumed_model.state_dict()
    assert all(torch.equal(got[k], v) for k, v in model.state_dict().items())
    assert resumed.best["epoch"] == full.best["epoch"]
    assert all(torch.equal(resumed.best_state[k], v) for k, v in full.best_state.items())
    assert [r["lr"] for r in resumed.history] == [r["lr"] for r in full.history]
    with pytest.raises(MtlspecError, match="different run"):  # another schedule
        train(DropoutNet(), data, weighting="mgda-ub", epochs=3, batch_size=32, seed=3,
              optim=OptimSettings(optimizer="sgd", lr=0.05), checkpoint=tmp_path, resume=True)


def test_the_best_epoch_is_kept_and_val_is_not_evaluated_twice(monkeypatch):
    splits = []
    real = epochs_module.evaluate_all

    def counting(model, dataset, *args, **kwargs):
        splits.append(kwargs.get("name", "").split()[-1])
        return real(model, dataset, *args, **kwargs)

    monkeypatch.setattr(epochs_module, "evaluate_all", counting)
    model = tiny_model()
    # a rate so high that later epochs get worse on `right`
    result = train(model, tiny_data(), epochs=3, batch_size=32, lr=0.05, select="right.accuracy")
    assert splits.count("val") == 3 and splits.count("test") == 1 + (result.best["epoch"] != 3)
    scores = [row["val_metrics"]["right"]["accuracy"] for row in result.history]
    best = scores.index(max(scores)) + 1
    assert result.best["epoch"] == best and result.best["score"] == max(scores)
    assert result.best["val_metrics"] == result.history[best - 1]["val_metrics"]
    assert set(result.best["test_metrics"]) == {"left", "right", "sum"}
    if best != 3:
        assert any(not torch.equal(v, model.state_dict()[k])
                   for k, v in result.best_state.items())


def test_selector_defaults_and_errors():
    infos = tiny_data().tasks
    tasks = {t: infos[t] for t in ("left", "sum")}
    assert Selector(None, tasks).name == "mean"
    assert Selector(None, tasks, {"left": 0.5}).name == "delta"
    val = {"left": {"accuracy": 0.6}, "sum": {"mae": 2.0}}
    assert Selector(None, tasks).score(val) == pytest.approx((0.6 - 2.0) / 2)
    assert Selector(None, tasks, {"left": 0.5}).score(val) == pytest.approx(20.0)
    with pytest.raises(MtlspecError, match=r"TASK\.METRIC"):
        Selector("nope.accuracy", tasks)
    with pytest.raises(MtlspecError, match="needs --baseline"):
        Selector("delta", tasks)


def test_config_file_values_and_located_errors(tmp_path):
    good = tmp_path / "run.toml"
    good.write_text('optimizer = "sgd"\nlr = 0.1\n[data_options]\nval_size = 40\n')
    assert load_config(good) == {"optimizer": "sgd", "lr": 0.1,
                                 "data_options": {"val_size": 40}}
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("schedule: cosine\nwarmup_epochs: 2\n")
    assert load_config(yaml_file) == {"schedule": "cosine", "warmup_epochs": 2}
    bad = tmp_path / "bad.toml"
    bad.write_text('epochs = 2\n  learning_rate = 0.1\n')
    with pytest.raises(SpecError) as err:
        load_config(bad)
    assert err.value.render().startswith(f"{bad}:2:3: error: unknown option 'learning_rate'")
    assert "hint:" in err.value.render()
    bad.write_text('epochs = 2\nschedule = "linear"\n')
    with pytest.raises(SpecError, match="schedule") as err:
        load_config(bad)
    assert err.value.span.line == 2
    bad.write_text('epochs = = 2\n')
    with pytest.raises(SpecError, match="TOML") as err:
        load_config(bad)
    assert err.value.span.line == 1


def _report(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_config_with_flags_overriding_it(tmp_path):
    spec = tmp_path / "tiny.mtl"
    spec.write_text(tiny_spec())
    config = tmp_path / "run.toml"
    config.write_text('epochs = 2\nbatch_size = 32\ntrain_size = 64\noptimizer = "sgd"\n'
                      'lr = 0.02\nschedule = "step"\nstep_size = 1\ngamma = 0.5\n'
                      'weighting = "rlw"\n')
    runner = CliRunner()
    report = _report(runner.invoke(main, ["train", str(spec), "--config", str(config),
                                          "--lr", "0.04", "--json"]))
    assert report["steps"] == 4 and report["weighting"] == "rlw"
    assert report["optim"] == {"optimizer": "sgd", "lr": 0.04, "schedule": "step",
                               "step_size": 1}
    assert [row["lr"] for row in report["history"]] == pytest.approx([0.04, 0.02])  # the flag won
    assert report["best"]["epoch"] in (1, 2) and "test_metrics" in report["best"]
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = -1\n")
    result = runner.invoke(main, ["train", str(spec), "--config", str(bad)])
    assert result.exit_code == 2 and f"{bad}:1:1: error: epochs" in result.output


def test_cli_writes_last_and_best_weights(tmp_path):
    spec = tmp_path / "tiny.mtl"
    spec.write_text(tiny_spec())
    out = tmp_path / "model.pt"
    report = _report(CliRunner().invoke(main, [
        "train", str(spec), "--train-size", "64", "--epochs", "2", "--batch-size", "32",
        "--select", "sum.mae", "-o", str(out), "--json"]))
    best = Path(report["best"]["weights"])
    assert best == tmp_path / "model.best.pt" and out.exists() and best.exists()
    assert report["best"]["select"] == "sum.mae"
    state = torch.load(best, weights_only=True)
    assert any(k.startswith("heads.sum.") for k in state)


def test_two_epochs_equal_one_then_a_resumed_one(tmp_path):
    """Stopping at an epoch's end and resuming for one more (SGD with momentum, a step
    schedule, best tracking) gives the weights of two epochs in one go."""
    optim = OptimSettings(optimizer="sgd", lr=0.05, schedule="step", step_size=1, gamma=0.5)
    straight = tiny_model()
    full = train(straight, tiny_data(), epochs=2, batch_size=32, seed=2, optim=optim)
    train(tiny_model(), tiny_data(), epochs=1, batch_size=32, seed=2, optim=optim,
          checkpoint=tmp_path)
    again = tiny_model(seed=5)
    resumed = train(again, tiny_data(), epochs=2, batch_size=32, seed=2, optim=optim,
                    checkpoint=tmp_path, resume=True)
    assert resumed.resumed_from == 4
    assert all(torch.equal(again.state_dict()[k], v) for k, v in straight.state_dict().items())
    def timeless(history):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in history]

    assert timeless(resumed.history) == timeless(full.history)
    assert resumed.best["epoch"] == full.best["epoch"]
