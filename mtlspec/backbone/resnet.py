"""`resnet`: a small built-in ResNet for small images and dense tasks.

A 3x3 conv-BN-ReLU stem keeps the resolution; then `stages` stages of `blocks` basic residual
blocks (`BasicBlock`), `width` channels in the first stage and twice as many in
each next one, every stage after the first halving the resolution. So a 64x64 image with 4
stages ends as an 8x8 map: dense heads upsample from there. No pooling, no classifier: the
detector cuts it between residual blocks.
"""

from __future__ import annotations

from torch import Tensor, nn


class BasicBlock(nn.Module):
    """ResNet's basic residual block: conv3x3-BN-ReLU-conv3x3-BN, plus the input (through
    `downsample` when given), then ReLU.

    Same submodule names, parameters and forward as torchvision's `BasicBlock` (so state dicts
    and traced node names are the same), defined here because importing anything from
    torchvision imports all of it, `torch._dynamo` and sympy included: seconds of start-up.

    Example:
        >>> import torch
        >>> BasicBlock(8, 8)(torch.zeros(1, 8, 4, 4)).shape
        torch.Size([1, 8, 4, 4])
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class SmallResNet(nn.Module):
    """Stem plus `stages` x `blocks` basic residual blocks (see the module docstring).

    Args:
        stages: number of stages (>= 1).
        blocks: residual blocks per stage (>= 1).
        width: channels of the first stage (>= 1); stage s has width * 2**s.
        in_channels: channels of the input image.

    Raises:
        ValueError: on a non-positive argument.

    Example:
        >>> import torch
        >>> SmallResNet(stages=3, width=8)(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 32, 8, 8])
    """

    def __init__(self, *, stages: int = 4, blocks: int = 1, width: int = 16,
                 in_channels: int = 3) -> None:
        super().__init__()
        for arg, value in (("stages", stages), ("blocks", blocks), ("width", width),
                           ("in_channels", in_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"resnet: {arg} must be a positive integer, got {value!r}")
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        channels = width
        for s in range(stages):
            planes, stride = width * 2 ** s, 1 if s == 0 else 2
            for b in range(blocks):
                down = None
                if b == 0 and (stride != 1 or channels != planes):
                    down = nn.Sequential(nn.Conv2d(channels, planes, 1, stride, bias=False),
                                         nn.BatchNorm2d(planes))
                layers.append(BasicBlock(channels, planes, stride if b == 0 else 1, down))
                channels = planes
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(self.stem(x))
