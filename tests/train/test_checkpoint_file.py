"""The one checkpoint format (loop, CoNAL, DAG search): what a bad or foreign file gives."""

from __future__ import annotations

import pytest
import torch

from mtlspec.errors import MtlspecError
from mtlspec.train.checkpoint import load_checkpoint, save_checkpoint
from mtlspec.train.checkpoint_file import load_checkpoint_file, save_checkpoint_file


def test_round_trip_keeps_tensors_and_checks_the_config(tmp_path):
    path = tmp_path / "sub" / "c.pt"
    state = {"w": torch.arange(3.0), "history": [{"epoch": 1}]}
    save_checkpoint_file(path, "dag", {"seed": 0, "spec": "x"}, state)
    back = load_checkpoint_file(path, "dag", {"spec": "x", "seed": 0})  # key order is free
    assert torch.equal(back["w"], state["w"]) and back["history"] == state["history"]
    with pytest.raises(MtlspecError, match=r"another dag run \(seed differ\)"):
        load_checkpoint_file(path, "dag", {"seed": 1, "spec": "x"})
    with pytest.raises(MtlspecError, match="is a dag checkpoint, not a conal checkpoint"):
        load_checkpoint_file(path, "conal")


@pytest.mark.parametrize(("content", "message"), [
    (b"not a torch file", "cannot read checkpoint"),
    (None, "is not an mtlspec checkpoint"),
    ("version", "has checkpoint format version 99"),
])
def test_bad_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "c.pt"
    if content is None:
        torch.save({"model": torch.zeros(1)}, path)  # someone else's checkpoint
    elif content == "version":
        torch.save({"format": "mtlspec-checkpoint", "version": 99, "kind": "train"}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(MtlspecError, match=message):
        load_checkpoint_file(path, "train")


def test_missing_file_and_unsafe_pickles(tmp_path):
    with pytest.raises(MtlspecError, match="nothing to resume"):
        load_checkpoint_file(tmp_path / "none.pt", "conal")
    path = tmp_path / "evil.pt"
    torch.save({"format": "mtlspec-checkpoint", "version": 1, "kind": "train",
                "state": {"x": object()}}, path)  # weights_only refuses arbitrary objects
    with pytest.raises(MtlspecError, match="cannot read checkpoint"):
        load_checkpoint_file(path, "train")


def test_the_training_loop_writes_the_same_format(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"version": 1, "step": 3})
    raw = torch.load(path, weights_only=True)
    assert (raw["format"], raw["kind"]) == ("mtlspec-checkpoint", "train")
    assert load_checkpoint(path)["step"] == 3
