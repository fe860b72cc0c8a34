"""`--device`: a torch device name checked once, before any work starts.

Every training entry (`train`, `run`, `search conal`, `search dag`) takes `--device cpu|cuda|
cuda:N`; an unknown name, or CUDA on a machine without it, is a clear error (exit 2) raised
before the first job, not a traceback from inside a worker.
"""

from __future__ import annotations

import torch

from mtlspec.errors import MtlspecError


def check_device(name: str | torch.device | None) -> torch.device:
    """The torch device `name` names, if this machine has it (None: the CPU).

    Raises:
        MtlspecError: not a device name, not cpu/cuda, CUDA unavailable, or a CUDA index
            beyond the devices present.

    Example:
        >>> check_device("cpu"), check_device(None)
        (device(type='cpu'), device(type='cpu'))
        >>> try:
        ...     check_device("tpu")
        ... except MtlspecError as err:
        ...     print(err)
        unknown device 'tpu': use cpu, cuda or cuda:N
    """
    if name is None:
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise MtlspecError(f"unknown device {name!r}: use cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise MtlspecError(f"device {name!r}: mtlspec trains on cpu or cuda")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise MtlspecError(f"device {name!r}: CUDA is not available on this machine "
                               "(use --device cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise MtlspecError(f"device {name!r}: this machine has "
                               f"{torch.cuda.device_count()} CUDA device(s)")
    return device
