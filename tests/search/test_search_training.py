"""CoNAL and DAG search as trainings: a loss weighting (CoNAL paper, Table 7), resume after a
kill in the one checkpoint format (bit-identical on the CPU), `--device`, and dense `--data`."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.errors import MtlspecError
from mtlspec.search.conal import SearchConfig, search_conal
from mtlspec.search.dag import stages as dag_stages
from mtlspec.search.dag.stages import SearchConfig as DagConfig
from mtlspec.search.dag.stages import search as dag_search
from mtlspec.spec import load, parse, validate
from mtlspec.train.data import load_data
from tests.search.dag.test_dag_search import BASE as DAG_BASE

CONAL_SPEC = "specs/conal_multidigits.mtl"
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="tests the no-CUDA error")


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def conal_base():
    return validate(load(CONAL_SPEC))


@pytest.fixture(scope="module")
def data():
    return load_data("multidigits", train_size=96, val_size=64, test_size=32)


@pytest.fixture(scope="module")
def dag_base():
    return validate(parse(DAG_BASE))


@pytest.mark.parametrize("method", ["mgda", "pcgrad"])
def test_conal_with_a_weighting_changes_the_weight_step(conal_base, data, method):
    plain = SearchConfig(epochs=1, batch_size=32, steps_per_epoch=3)
    weighted = SearchConfig(epochs=1, batch_size=32, steps_per_epoch=3, weighting=method)
    a = search_conal(conal_base, data, config=plain)
    b = search_conal(conal_base, data, config=weighted)
    assert a.stages[0].weights != b.stages[0].weights  # the update is no longer the sum
    weights = b.stages[0].history[-1]["weights"]
    assert len(weights) == 3 and all(w >= 0 for w in weights)
    if method == "mgda":  # a convex combination of the (normalised) task gradients
        assert sum(weights) > 0


def test_conal_refuses_a_representation_method(conal_base, data):
    with pytest.raises(MtlspecError, match="one shared representation"):
        search_conal(conal_base, data, config=SearchConfig(epochs=1, weighting="mgda-ub"))
    with pytest.raises(MtlspecError, match="nope"):
        search_conal(conal_base, data, config=SearchConfig(
            epochs=1, weighting="pcgrad", weighting_options=(("nope", "1"),)))


@pytest.mark.parametrize("method", ["mgda", "pcgrad"])
def test_dag_search_with_a_weighting(dag_base, data, method):
    config = DagConfig(epochs_warmup=1, epochs_search=1, max_steps=2, weighting=method)
    plain = dag_search(dag_base, data, DagConfig(epochs_warmup=1, epochs_search=1, max_steps=2))
    state = dag_search(dag_base, data, config)
    assert [h["stage"] for h in state.history] == ["warmup", "search"]
    differs = [not torch.equal(p, q) for p, q in zip(
        state.supernet.state_dict().values(), plain.supernet.state_dict().values(), strict=True)]
    assert any(differs)


def test_conal_resume_after_a_kill_is_bit_identical_with_a_weighting(conal_base, data, tmp_path):
    config = SearchConfig(epochs=3, batch_size=32, steps_per_epoch=2, weighting="rlw")
    whole = search_conal(conal_base, data, config=config)

    def kill(label, done, total):
        if done == 5:  # inside epoch 3, after the epoch-2 checkpoint
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        search_conal(conal_base, data, config=config, checkpoint=tmp_path, progress=kill)
    saved = torch.load(tmp_path / "conal.pt", weights_only=True)
    assert (saved["format"], saved["kind"]) == ("mtlspec-checkpoint", "conal")
    resumed = search_conal(conal_base, data, config=config, checkpoint=tmp_path, resume=True)
    assert resumed.stages[0].weights == whole.stages[0].weights  # exact floats
    assert resumed.stages[0].history == whole.stages[0].history
    assert resumed.spec == whole.spec


def test_dag_resume_after_a_kill_is_bit_identical(dag_base, data, tmp_path, monkeypatch):
    config = DagConfig(epochs_warmup=1, epochs_search=2, max_steps=2, weighting="rlw")
    whole = dag_search(dag_base, data, config)
    real, calls = dag_stages._epoch, []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the second search epoch: killed before it is saved
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(dag_stages, "_epoch", dying)
    with pytest.raises(KeyboardInterrupt):
        dag_search(dag_base, data, config, checkpoint=tmp_path)
    monkeypatch.setattr(dag_stages, "_epoch", real)
    resumed = dag_search(dag_base, data, config, checkpoint=tmp_path, resume=True)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in whole.history]
    for a, b in zip(resumed.supernet.state_dict().values(), whole.supernet.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    with pytest.raises(MtlspecError, match=r"another dag run .*seed"):
        dag_search(dag_base, data, DagConfig(epochs_warmup=1, epochs_search=2, max_steps=2,
                                             weighting="rlw", seed=3),
                   checkpoint=tmp_path, resume=True)


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@NO_CUDA
@pytest.mark.parametrize("command", [
    ["search", "conal", "--spec", CONAL_SPEC, "--epochs", "1", "--train-size", "8"],
    ["search", "dag", "--spec", "specs/multidigits_dag.mtl", "--train-size", "8"],
])
@pytest.mark.parametrize(("device", "message"), [
    ("cuda", "CUDA is not available"), ("cuda:0", "CUDA is not available"),
    ("tpu", "unknown device 'tpu'"),
])
def test_search_device_errors_come_first(command, device, message, tmp_path):
    result = _cli(*command, "--device", device, "--checkpoint", tmp_path / "ck")
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "ck").exists()  # nothing started


def test_search_cli_weighting_and_device_cpu(tmp_path):
    result = _cli("search", "conal", "--spec", CONAL_SPEC, "--epochs", "1", "--train-size", "32",
                  "--val-size", "32", "--test-size", "16", "--batch-size", "16",
                  "--weighting", "pcgrad", "--device", "cpu", "--retrain", "none", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["weighting"] == {"name": "pcgrad", "options": {}}
    result = _cli("search", "dag", "--spec", "specs/multidigits_dag.mtl", "--weighting", "mgda",
                  "--weighting-option", "normalization=l2", "--device", "cpu",
                  "--train-size", "32", "--test-size", "16", "--max-steps", "1",
                  "--epochs-warmup", "1", "--epochs-search", "1", "--epochs-finetune", "1",
                  "--no-progress", "--json")
    assert result.exit_code == 0, result.output
    result = _cli("search", "dag", "--spec", "specs/multidigits_dag.mtl",
                  "--weighting-option", "a=1")
    assert result.exit_code == 2 and "needs --weighting" in result.output


SCENES_TREE = """model s {
  input image: float[1, 3, 16, 16]
  backbone convnet(depth=2, width=8) { blocks: auto(2) }
  tasks {
    segment: head conv(classes=17)
    depth: head conv(out=1)
  }
  layout [
    {segment, depth}
    {segment, depth}
  ]
}
"""
SCENES_DAG = """dag d {
  input image: float[1, 3, 32, 32]
  central { states: 3; flow: 2; stem: conv(out=8, stride=2); edge: conv3x3 }
  tasks { segment: head conv(classes=17); depth: head conv(out=1) }
  topology segment { in: 1; out: 1 }
  topology depth { in: 1; out: 1 }
}
"""
SCENES = ["--data", "scenes", "--data-option", "size=16", "--train-size", "16",
          "--test-size", "8"]


def test_searches_run_on_dense_scenes(tmp_path):
    tree, dag = tmp_path / "t.mtl", tmp_path / "d.mtl"
    tree.write_text(SCENES_TREE)
    dag.write_text(SCENES_DAG)  # 32x32 spec input, 16x16 data: heads predict at 16x16
    result = _cli("search", "conal", "--spec", tree, *SCENES, "--val-size", "8", "--epochs", "1",
                  "--batch-size", "8", "--retrain", "uniform", "--retrain-epochs", "1", "--json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["retrain"]["test"]) == {"segment", "depth"}
    result = _cli("search", "dag", "--spec", dag, *SCENES, "--max-steps", "1", "--batch-size",
                  "8", "--epochs-warmup", "1", "--epochs-search", "1", "--epochs-finetune", "1",
                  "--no-progress", "--json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["metrics"]) == {"segment", "depth"}


def test_search_data_errors_are_located(tmp_path):
    tree = tmp_path / "t.mtl"
    tree.write_text(SCENES_TREE)
    result = _cli("search", "conal", "--spec", tree, "--data", "multidigits")
    assert result.exit_code == 2 and "task segment is not in data set multidigits" in result.output
    result = _cli("search", "dag", "--spec", "specs/multidigits_dag.mtl", "--data", "nyuv2")
    assert result.exit_code == 2 and "nyuv2:DIR" in result.output
