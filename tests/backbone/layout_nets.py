"""Backbones (user code, `tests.backbone.layout_nets:NAME`) that end in each output layout."""

from __future__ import annotations

import torch
from torch import nn


class _Stem(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 2, 1)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Pooled(nn.Module):
    """Pools itself: N×C (like a timm model built with num_classes=0)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _Stem()

    def forward(self, x):
        return self.stem(x).mean((2, 3))


class ChannelsLast(nn.Module):
    """Ends channels-last, N×H×W×C (like timm's Swin), with H ≠ C."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _Stem()
        self.proj = nn.Linear(8, 5)

    def forward(self, x):
        return self.proj(self.stem(x).permute(0, 2, 3, 1))


class Tokens(nn.Module):
    """Patch tokens with a class token in front: N×(1 + h·w)×C (like a ViT)."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 6, 4, 4)
        self.cls = nn.Parameter(torch.randn(1, 1, 6))
        self.norm = nn.LayerNorm(6)

    def forward(self, x):
        tokens = self.patch(x).flatten(2).transpose(1, 2)
        return self.norm(torch.cat([self.cls.expand(x.shape[0], -1, -1), tokens], 1))


class Odd(nn.Module):
    """Ends in a 5-D tensor: no layout heads can read."""

    def forward(self, x):
        return x.unsqueeze(1)


def pooled() -> nn.Module:
    return Pooled()


def channels_last() -> nn.Module:
    return ChannelsLast()


def tokens() -> nn.Module:
    return Tokens()


def odd() -> nn.Module:
    return Odd()
