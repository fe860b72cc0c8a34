"""`mtlspec train` on dense data: the shipped NYUv2 spec on a fake NYUv2 folder in MTAN's
layout (every standard metric and Δm), the scenes through to a verified ONNX model, and the
shipped specs fit the data sets they are written for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.data.mtan import nyuv2_tasks
from mtlspec.data.registry import dataset_def
from mtlspec.data.scenes import scene_tasks
from mtlspec.data.spec_check import check_spec
from mtlspec.spec import load, validate
from mtlspec.train.metrics import delta_m
from tests.data.fakes import write_mtan
from tests.train.tiny import one_thread

ROOT = Path(__file__).resolve().parents[2]
NYU_METRICS = {"segment": {"miou", "pixel_acc"}, "depth": {"abs_err", "rel_err"},
               "normal": {"mean_angle", "median_angle", "within_11.25", "within_22.5",
                          "within_30"}}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    yield from one_thread()


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_nyuv2_resnet34_on_a_fake_mtan_folder_reports_every_metric_and_delta_m(tmp_path):
    folder = write_mtan(tmp_path / "nyuv2", counts=(4, 2), size=(32, 48))
    baseline = {"segment": {"miou": 0.3, "pixel_acc": 0.6},
                "depth": {"abs_err": 0.6, "rel_err": 0.25},
                "normal": {"mean_angle": 25.0, "median_angle": 20.0, "within_11.25": 0.3,
                           "within_22.5": 0.55, "within_30": 0.65}}
    single = tmp_path / "single.json"
    single.write_text(json.dumps(baseline))
    result = run("train", ROOT / "specs" / "nyuv2_resnet34.mtl", "--data", f"nyuv2:{folder}",
                 "--epochs", "1", "--json", "--baseline", single)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["steps"] == 1 and report["data"] == f"nyuv2:{folder}"
    # the spec says 288x384; the fake folder's 32x48 images are what it trains on
    assert report["input"] == {"spec": [3, 288, 384], "data": [3, 32, 48]}
    for task, names in NYU_METRICS.items():
        row = report["tasks"][task]
        assert set(row["metrics"]) == names == set(report["all_metrics"][task])
        assert row["single"] == baseline[task]
    assert report["tasks"]["segment"]["metric"] == "miou"
    normal = report["all_metrics"]["normal"]
    assert 0 <= normal["within_11.25"] <= normal["within_22.5"] <= normal["within_30"] <= 1
    assert 0 <= normal["median_angle"] <= 180 and 0 <= normal["mean_angle"] <= 180
    assert report["delta"] == pytest.approx(delta_m(report["all_metrics"], baseline))


TINY_SCENES = """model tiny_scenes {
  input image: float[1, 3, 16, 16]
  backbone resnet(stages=2, blocks=1, width=4) { blocks: auto(3) }
  tasks {
    segment: head conv(classes=17)
    depth: head conv(out=1)
    normal: head conv(out=3)
    keypoint: head conv(out=1)
    count: head linear(classes=6)
    shapes: head linear(classes=3)
  }
  layout [
    {segment, depth, normal, keypoint, count, shapes}
    {segment, keypoint, count, shapes} {depth, normal}
    {segment, keypoint} {count, shapes} {depth, normal}
  ]
}
"""


def test_scenes_train_then_build_a_verified_onnx_model(tmp_path):
    spec = tmp_path / "tiny_scenes.mtl"
    spec.write_text(TINY_SCENES)
    weights = tmp_path / "w.pt"
    result = run("train", spec, "--data", "scenes", "--data-option", "size=16", "--train-size",
                 "12", "--data-option", "val_size=4", "--data-option", "test_size=4",
                 "--epochs", "1", "--batch-size", "6", "--augment", "--weighting", "mgda-ub",
                 "-o", weights, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["steps"] == 2 and "input" not in report
    assert set(report["all_metrics"]["shapes"]) == {"label_accuracy"}
    assert set(report["all_metrics"]["keypoint"]) == {"l1_err"}
    built = run("build", spec, "--weights", weights, "-o", tmp_path / "m.onnx", "--json")
    assert built.exit_code == 0, built.output
    assert json.loads(built.stdout)["outputs"] == ["segment", "depth", "normal", "keypoint",
                                                   "count", "shapes"]


@pytest.mark.parametrize(("spec", "data"), [
    ("nyuv2_resnet34", "nyuv2"), ("nyuv2_mobilenet", "nyuv2"), ("nyuv2_dag", "nyuv2"),
    ("taskonomy_1_model", "scenes"), ("taskonomy_2_models", "scenes"),
    ("taskonomy_3_models", "scenes"), ("taskonomy_4_models", "scenes"),
    ("scenes_resnet", "scenes"),
])
def test_the_shipped_dense_specs_fit_their_data_sets(spec, data):
    doc = load(ROOT / "specs" / f"{spec}.mtl")
    validate(doc)
    tasks = scene_tasks(5) if data == "scenes" else nyuv2_tasks()
    assert set(tasks) <= set(dataset_def(data).tasks)
    check_spec(doc, tasks, data_name=data, input_shape=(3, 64, 64))  # raises if not


def test_a_model_at_another_size_than_the_data_is_a_clear_error():
    from mtlspec.compile import compile
    from mtlspec.compile.heads import set_output_size
    from mtlspec.data.registry import load_data
    from mtlspec.errors import MtlspecError
    from mtlspec.spec import parse
    from mtlspec.train.evaluate import model_tasks

    model = compile(validate(parse(TINY_SCENES)))
    data = load_data("scenes", tasks=list(model.task_names), train_size=2, val_size=1,
                     test_size=1, size=24)
    with pytest.raises(MtlspecError, match=r"predicts 16x16 maps but .* are 24x24"):
        model_tasks(model, data)
    assert set_output_size(model, (24, 24)) == 4  # the four conv heads
    assert model_tasks(model, data) == list(model.task_names)
