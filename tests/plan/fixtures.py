"""A tiny grouping plan and settings shared by the runner tests (local and Ray)."""

from __future__ import annotations

from pathlib import Path

from mtlspec.plan.grouping import write_group_plan
from mtlspec.spec import parse, validate
from mtlspec.train.settings import RunSettings

BASE = """\
model tiny {
  input image: float[1, 1, 8, 16]
  backbone convnet(depth=2, width=4, in_channels=1) { blocks: auto(2) }
  tasks {
    left: head linear(classes=10)
    parity: head linear(classes=2)
  }
  layout [
    {left, parity}
    {left} {parity}
  ]
}
"""

# A few hundred samples and one epoch: each training takes a fraction of a second.
SETTINGS = RunSettings(data="multidigits", epochs=1, batch_size=32,
                       data_options={"train_size": 320, "val_size": 64, "test_size": 64})


def tiny_plan(directory: Path) -> Path:
    """Write the 2-task grouping plan (3 subsets + 2 half-size singles) into `directory`."""
    write_group_plan(validate(parse(BASE)), directory, half_size=True)
    return directory
