"""Shared fixtures and helpers of the backbone tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Run single-threaded: these tests run many small ops, where a second thread mostly waits
    (and stalls badly when another process holds the other core); restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


_POOL = 1 << 20


@contextlib.contextmanager
def pooled_random_init(seed: int = 0) -> Iterator[None]:
    """Make `Tensor.normal_` / `uniform_` (what `torch.nn.init` calls) copy from a random pool.

    Building the whole torchvision registry draws ~4 billion random numbers (about a minute of
    the suite) although composition checks only need generic, finite weights. Inside this
    context each initialised tensor gets a slice of one fixed pool of 2**20 samples, shifted
    to the requested mean/std or range; the architecture and builders are untouched.
    """
    generator = torch.Generator().manual_seed(seed)
    pools = {"normal": torch.randn(_POOL, generator=generator),
             "uniform": torch.rand(_POOL, generator=generator)}
    originals = {"normal_": torch.Tensor.normal_, "uniform_": torch.Tensor.uniform_}
    start = [0]

    def fill(t: torch.Tensor, pool: torch.Tensor, low: float, scale: float) -> torch.Tensor:
        flat, i, s = t.view(-1), 0, start[0]
        offset = torch.tensor(low, dtype=t.dtype)
        with torch.no_grad():
            while i < flat.numel():
                m = min(flat.numel() - i, _POOL - s)
                torch.add(offset, pool[s:s + m], alpha=scale, out=flat[i:i + m])
                i, s = i + m, (s + m) % _POOL
        start[0] = (s + 7919) % _POOL  # the next tensor starts elsewhere in the pool
        return t

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        if not self.is_contiguous() or not self.is_floating_point():
            return originals["normal_"](self, mean, std, generator=generator)
        return fill(self, pools["normal"], mean, std)

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        if not self.is_contiguous() or not self.is_floating_point():
            return originals["uniform_"](self, a, b, generator=generator)
        return fill(self, pools["uniform"], a, b - a)

    torch.Tensor.normal_, torch.Tensor.uniform_ = normal_, uniform_
    try:
        yield
    finally:
        torch.Tensor.normal_, torch.Tensor.uniform_ = originals["normal_"], originals["uniform_"]


@pytest.fixture
def pooled_init():
    """`pooled_random_init` for tests (test modules here are not a package, so no imports)."""
    return pooled_random_init
