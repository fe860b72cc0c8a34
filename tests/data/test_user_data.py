"""Your own data (`--data pkg.module:callable`, only with --allow-import) and the checks of a
spec against a data set (located errors, before anything is compiled)."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.data.registry import load_data
from mtlspec.errors import MtlspecError
from tests.train.tiny import one_thread

MODULE = '''
import torch
from mtlspec.data import DataSplits, MultiTaskDataset, declare

def _split(n, seed, extra=False, nan=False):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 8, 8, generator=gen)
    targets = {"mask": (x[:, 0] > 0.5).long(), "bright": (x.mean((1, 2, 3)) > 0.5).long()}
    if extra:
        targets["colour"] = torch.zeros(n)
    if nan:
        targets["mask"] = targets["mask"].float()
        targets["mask"][0, 0, 0] = float("nan")
    return MultiTaskDataset(x, targets)

def make(*, seed=0, n=12, extra=False, nan=False):
    tasks = {"mask": declare("mask", "segmentation", classes=2),
             "bright": declare("bright", "classification", classes=2)}
    return DataSplits(_split(n, seed, extra, nan), _split(4, seed + 1), _split(4, seed + 2),
                      tasks)

def not_splits(**kw):
    return {"train": None}

SIZE = 3
'''

SPEC = """model mine {
  input image: float[1, 3, 8, 8]
  backbone convnet(depth=2, width=8) { blocks: auto(2) }
  tasks {
    mask: head HEAD
    bright: head linear(classes=2)
  }
  layout [
    {mask, bright}
    {mask} {bright}
  ]
}
"""


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    yield from one_thread()


@pytest.fixture
def module(tmp_path, monkeypatch):
    (tmp_path / "my_data.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_data"


def _run(tmp_path, *args, head="conv(classes=2)"):
    spec = tmp_path / "mine.mtl"
    spec.write_text(SPEC.replace("HEAD", head))
    return CliRunner().invoke(main, ["train", str(spec), "--epochs", "1", "--batch-size", "6",
                                     *map(str, args)])


def test_user_data_trains_with_allow_import(module, tmp_path):
    result = _run(tmp_path, "--data", "my_data:make", "--allow-import", "--json",
                  "--data-option", "n=12")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["data"] == "my_data:make" and report["steps"] == 2
    assert set(report["tasks"]["mask"]["metrics"]) == {"miou", "pixel_acc"}
    assert set(report["tasks"]["bright"]["metrics"]) == {"accuracy"}


def test_user_data_needs_allow_import(module, tmp_path):
    result = _run(tmp_path, "--data", "my_data:make")
    assert result.exit_code == 2 and "is user code" in result.output
    assert "--allow-import" in result.output


@pytest.mark.parametrize(("ref", "options", "message"), [
    ("my_data:make", {"extra": True}, "targets for task(s) colour that the data set does not "
                                      "declare"),
    ("my_data:make", {"nan": True}, "train item 0, task mask: class ids must be integers"),
    ("my_data:make", {"size": 3}, "has no option size; its options: n, extra, nan"),
    ("my_data:not_splits", {}, "returned dict, not mtlspec.data.DataSplits"),
    ("my_data:absent", {}, "cannot import data set 'my_data:absent': AttributeError"),
    ("no_such_module:make", {}, "cannot import data set 'no_such_module:make'"),
    ("my_data:SIZE", {}, "--data 'my_data:SIZE': SIZE is not callable"),
])
def test_bad_user_data_is_a_clear_error(module, ref, options, message):
    with pytest.raises(MtlspecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_data(ref, allow_import=True, **options)


@pytest.mark.parametrize(("head", "where", "message"), [
    ("linear(classes=2)", "mine.mtl:5:16: error: task mask is a segmentation task",
     "hint: use a dense head: conv(classes=2) or aspp(classes=2)"),
    ("conv(classes=5)", "mine.mtl:5:21: error: task mask: the head outputs 5",
     "has 2 classes"),
])
def test_a_head_that_cannot_serve_its_task_points_at_the_head(module, tmp_path, head, where,
                                                              message):
    result = _run(tmp_path, "--data", "my_data:make", "--allow-import", head=head)
    assert result.exit_code == 2, result.output
    assert where in result.output and message in result.output
    assert "Traceback" not in result.output


def test_unknown_task_and_wrong_input_channels_are_located(tmp_path):
    spec = tmp_path / "s.mtl"
    spec.write_text(textwrap.dedent("""\
        model s {
          input image: float[1, 1, 16, 16]
          backbone convnet(depth=2, width=8, in_channels=1) { blocks: auto(2) }
          tasks {
            segment: head conv(classes=17)
            colour: head linear(classes=3)
          }
          layout [
            {segment, colour}
            {segment, colour}
          ]
        }
        """))
    result = CliRunner().invoke(main, ["train", str(spec), "--data", "scenes"])
    assert result.exit_code == 2
    assert "s.mtl:6:5: error: task colour is not in data set scenes" in result.output
    spec.write_text(spec.read_text().replace("    colour: head linear(classes=3)\n", "")
                    .replace(", colour}", "}"))
    result = CliRunner().invoke(main, ["train", str(spec), "--data", "scenes", "--data-option",
                                       "train_size=4", "--data-option", "size=16"])
    assert result.exit_code == 2
    assert "s.mtl:2:3: error: the input has 1 channel(s) but data set scenes has 3" in (
        result.output)


def test_a_generated_data_set_takes_no_folder():
    with pytest.raises(MtlspecError, match="reads no folder; write --data scenes"):
        load_data("scenes:/data/x")
