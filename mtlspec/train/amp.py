"""Mixed precision: forward passes and losses under `torch.autocast`, the rest in float32.

`bf16` runs on the CPU and on GPUs; `fp16` on a GPU scales the losses (`torch.amp.GradScaler`)
so that small gradients do not underflow, and skips a step whose gradients overflowed. The
weights stay float32; gradients, Gram matrices (summed in float64) and the min-norm solve never
run under autocast (the Stepper only wraps the forward passes).

Under fp16 loss scaling the per-task gradients are computed from the scaled losses; the
weighting sees them divided by the scale again (a power of two: exact), so its weights are those
of an unscaled step, and the combined gradient, still scaled, is unscaled by the grad scaler
before the update (which it skips when the gradients overflowed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import torch

from mtlspec.errors import MtlspecError

AMP_MODES = ("bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """The precision of a training's forward passes (None: plain float32).

    Raises:
        MtlspecError: an unknown mode, or a device where autocast does not support it.

    Example:
        >>> p = Precision("bf16", torch.device("cpu"))
        >>> with p.autocast():
        ...     y = torch.nn.Linear(4, 2)(torch.ones(1, 4))
        >>> y.dtype, p.scaled(torch.tensor(2.0)).item()
        (torch.bfloat16, 2.0)
    """

    def __init__(self, mode: str | None, device: torch.device, *,
                 scaler: bool | None = None) -> None:
        if mode is not None and mode not in AMP_MODES:
            raise MtlspecError(f"unknown --amp {mode!r}; use {' or '.join(AMP_MODES)}")
        self.mode, self.device = mode, device
        self.scaler: torch.amp.GradScaler | None = None
        if mode is None:
            return
        dtype = _DTYPES[mode]
        if not torch.amp.is_autocast_available(device.type):
            raise MtlspecError(f"--amp {mode}: autocast is not available on {device.type}")
        try:
            with torch.autocast(device.type, dtype=dtype):
                torch.ones(1, 1, device=device) @ torch.ones(1, 1, device=device)
        except (RuntimeError, AssertionError) as err:
            raise MtlspecError(f"--amp {mode} is not supported on {device.type} by this torch "
                               f"({err}); use --amp bf16 or no --amp") from None
        # scaler: None means where fp16 needs it (a GPU); True forces it (tests on the CPU)
        if scaler or (scaler is None and mode == "fp16" and device.type == "cuda"):
            self.scaler = torch.amp.GradScaler(device.type)

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context the forward pass and the losses run in."""
        if self.mode is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=_DTYPES[self.mode])

    def scaled(self, loss: torch.Tensor) -> torch.Tensor:
        """A loss as it is back-propagated: times the grad scaler's scale (unchanged without
        one)."""
        return self.scaler.scale(loss) if self.scaler is not None else loss

    @property
    def factor(self) -> float:
        """The scale `scaled` multiplies by now (1.0 without a grad scaler)."""
        return float(self.scaler.get_scale()) if self.scaler is not None else 1.0

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """The update: unscale, skip on overflow and adapt the scale under fp16."""
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(dict(state))

