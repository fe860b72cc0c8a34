"""The TreeMTL loop end to end on the shipped dense scenes, through the CLI:
`recommend plan` → `run` → `recommend` → `train` → `build` (issue 15's "done when").

Tiny on purpose (two dense tasks, 16x16 images, two blocks, one epoch) so it runs in well under
a minute on a CPU; bench/dense_e2e.py runs the same loop at a size where the numbers mean more.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mtlspec.cli import main

SPEC = """model tiny_scenes {
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
DATA = ["--data", "scenes", "--data-option", "size=16", "--data-option", "train_size=16",
        "--data-option", "val_size=8", "--data-option", "test_size=8"]


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_recommend_plan_run_recommend_train_build_on_scenes(tmp_path: Path):
    base = tmp_path / "base.mtl"
    base.write_text(SPEC)
    plan = tmp_path / "plan"
    planned = run("recommend", "plan", "--spec", base, "-o", plan, *DATA[:4])
    assert "next: mtlspec run" in planned.output and "--data scenes" in planned.output
    manifest = json.loads((plan / "manifest.json").read_text())
    assert len(manifest["entries"]) == 2 + 2  # two single-task specs, one pair at B = 1, 2

    report = json.loads(run("run", plan, *DATA, "--epochs", "1", "--batch-size", "8",
                            "--json").output)
    assert not report["failed"] and len(report["trained"]) == 4
    record = json.loads((plan / "results" / "segment+depth@1.json").read_text())
    # the table reads each task's main metric; every dense metric is kept in the result
    assert record["metric_names"] == {"segment": "miou", "depth": "abs_err"}
    assert record["directions"] == {"segment": "max", "depth": "min"}
    assert {"miou", "pixel_acc"} <= set(record["all_val"]["segment"])
    assert {"abs_err", "rel_err"} <= set(record["all_test"]["depth"])
    assert record["val"]["segment"] == record["all_val"]["segment"]["miou"]

    out = tmp_path / "rec"
    ranking = json.loads(run("recommend", "--spec", base, "--pairs", plan / "pairs.csv",
                             "--max-models", "2", "--top", "2", "-o", out, "--json").output)
    assert [row["rank"] for row in ranking["top"]] == [1, 2]
    top = out / ranking["top"][0]["spec"]

    weights = tmp_path / "top.pt"
    trained = json.loads(run("train", top, *DATA, "--epochs", "1", "--batch-size", "8",
                             "-o", weights, "--json").output)
    assert set(trained["tasks"]) == {"segment", "depth"}
    assert {"miou", "pixel_acc"} <= set(trained["all_metrics"]["segment"])
    onnx = tmp_path / "top.onnx"
    run("build", top, "--weights", weights, "-o", onnx)
    assert onnx.stat().st_size > 0
