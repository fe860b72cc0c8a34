"""Backbones: registry → trace → cut points → blocks (TreeMTL's branching-point detector).

The compiler calls `blocks_for`; the stages are public for tests, benches and tools:

    build (registry) → trace → partition → select → split → block_costs

Importing this package imports torch; `mtlspec.spec` stays torch-free.
"""

from mtlspec.backbone.block_costs import Cost, block_costs
from mtlspec.backbone.blocks import BackboneBlocks, BlockInfo, Verification, blocks_for, verify
from mtlspec.backbone.errors import BackboneError
from mtlspec.backbone.partition import Partition, cut_points, partition
from mtlspec.backbone.registry import (
    EXCLUDED,
    Backbone,
    build,
    list_backbones,
    load_weights,
    register_backbone,
)
from mtlspec.backbone.select import balanced_groups, regroup, select_named
from mtlspec.backbone.split import split
from mtlspec.backbone.trace import Traced, trace

__all__ = [
    "EXCLUDED",
    "Backbone",
    "BackboneBlocks",
    "BackboneError",
    "BlockInfo",
    "Cost",
    "Partition",
    "Traced",
    "Verification",
    "balanced_groups",
    "block_costs",
    "blocks_for",
    "build",
    "cut_points",
    "list_backbones",
    "load_weights",
    "partition",
    "register_backbone",
    "regroup",
    "select_named",
    "split",
    "trace",
    "verify",
]
