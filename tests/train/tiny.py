"""Small specs and data shared by the training tests (kept tiny: 2 shared CPU cores)."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import torch
from torch import nn

from mtlspec.spec import parse, validate
from mtlspec.train.data import load_data

SPEC = """model tiny {
  input image: float[1, 1, 8, 16]
  backbone convnet(depth=3, width=8, in_channels=1) { blocks: auto(3) }
  tasks {
    left: head linear(classes=10)
    right: head linear(classes=10)
    sum: head linear(out=1)
  }
  layout [
    ROWS
  ]
}
"""
LAYOUTS = {
    "trunk1": "{left, right, sum}\n{left, right} {sum}\n{left} {right} {sum}",
    "trunk2": "{left, right, sum}\n{left, right, sum}\n{left} {right} {sum}",
    "shared": "{left, right, sum}\n{left, right, sum}\n{left, right, sum}",
    "split": "{left, right} {sum}\n{left} {right} {sum}\n{left} {right} {sum}",
    "separate": "{left} {right} {sum}\n{left} {right} {sum}\n{left} {right} {sum}",
}


def tiny_spec(layout: str = "trunk1", **replace: str) -> str:
    text = SPEC.replace("ROWS", LAYOUTS[layout])
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def tiny_model(layout: str = "trunk1", seed: int = 0):
    from mtlspec.compile import compile

    torch.manual_seed(seed)
    return compile(validate(parse(tiny_spec(layout))))


def one_thread() -> Iterator[None]:
    """For a module-scoped fixture: 1 torch thread (2 cores shared by several test runs),
    restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@functools.lru_cache(maxsize=1)
def tiny_data():
    """128 training items of left, right and sum (read-only: tests must not modify it)."""
    return load_data("multidigits", tasks=["left", "right", "sum"], seed=0, train_size=128,
                     val_size=32, test_size=48)


class DropoutNet(nn.Module):
    """Not a compiled spec: a plain module with dropout (so resume must restore the RNG)."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(128, 32), nn.ReLU(), nn.Dropout(0.3))
        self.heads = nn.ModuleDict({"left": nn.Linear(32, 10), "sum": nn.Linear(32, 1)})

    def forward(self, x):
        z = self.trunk(x)
        return {t: h(z) for t, h in self.heads.items()}

    def shared_split(self):
        return self.trunk, lambda z: {t: h(z) for t, h in self.heads.items()}
