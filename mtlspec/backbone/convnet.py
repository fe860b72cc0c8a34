"""`convnet`: the built-in backbone, a small conv-BN-ReLU stack for fast tests and small images."""

from __future__ import annotations

from torch import Tensor, nn


class ConvNet(nn.Module):
    """`depth` stages of 3x3 conv (no bias) → BatchNorm → ReLU, each `width` channels wide.

    The first stage keeps the resolution, every later one halves it (stride 2, padding 1), so a
    C×H×W input becomes width × ceil(H / 2**(depth-1)) × ceil(W / 2**(depth-1)). Its FLOPs are
    easy to compute by hand, which the tests rely on.

    Args:
        depth: number of stages (≥ 1).
        width: channels of every stage (≥ 1).
        in_channels: channels of the input image (≥ 1).

    Raises:
        ValueError: on a non-positive argument.

    Example:
        >>> import torch
        >>> ConvNet(depth=3, width=8)(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 8, 8, 8])
    """

    def __init__(self, *, depth: int = 4, width: int = 32, in_channels: int = 3) -> None:
        super().__init__()
        for arg, value in (("depth", depth), ("width", width), ("in_channels", in_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"convnet: {arg} must be a positive integer, got {value!r}")
        stages = []
        for i in range(depth):
            stage = nn.Sequential()
            stage.add_module(
                "conv",
                nn.Conv2d(in_channels if i == 0 else width, width, 3, 1 if i == 0 else 2, 1,
                          bias=False),
            )
            stage.add_module("bn", nn.BatchNorm2d(width))
            stage.add_module("relu", nn.ReLU(inplace=True))
            stages.append(stage)
        self.stages = nn.Sequential(*stages)

    def forward(self, x: Tensor) -> Tensor:
        return self.stages(x)
