"""A module's parameter memory, measured before it is allocated: built once on the meta
device (shapes only, no storage), counted, and checked against `mtlspec.limits`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from mtlspec.errors import MtlspecError
from mtlspec.limits import check_memory


def check_build(build: Callable[[], nn.Module], what: str, bytes_per_value: int = 4) -> None:
    """Build `build()` on the meta device and refuse it when its parameters and buffers
    would not fit (`mtlspec.limits.check_memory`). A builder that cannot run on the meta
    device is let through: the real build reports its own errors.

    Example:
        >>> check_build(lambda: nn.Linear(1000, 1000), "a head")
        >>> try:
        ...     check_build(lambda: nn.Linear(2**20, 2**20), "head `a`")
        ... except MtlspecError as err:
        ...     print(str(err).split(";")[0])
        head `a` (1,099,512,676,352 parameters) needs at least 4.0 TiB
    """
    try:
        with torch.device("meta"):
            probe = build()
    except MtlspecError:
        raise
    except Exception:
        return
    if not isinstance(probe, nn.Module):
        return
    values = sum(t.numel() for t in (*probe.parameters(), *probe.buffers()))
    check_memory(values * bytes_per_value, f"{what} ({values:,} parameters)")
