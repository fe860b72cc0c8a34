"""Where the seed papers cut their backbones, so an imported result lands on the same layers.

A TreeMTL layout or a CoNAL branch point says "tasks share the first b blocks": which layers
those are depends on how the backbone was cut. TreeMTL's two-task tables were measured on
ResNet34 cut after maxpool, layer1, layer2, layer3 and on MobileNetV2 cut after features.3,
10, 13 and 17; CoNAL's five stages are a ResNet's stem and its four layers. `blocks: auto(5)`
balances FLOPs and cuts elsewhere, so a result imported onto it is applied to other layers
than it was measured on: `mismatch` says so (the CLI prints it as a warning). Torch-free.

    >>> from mtlspec.spec import load, validate
    >>> spec = validate(load("specs/nyuv2_resnet34.mtl"))
    >>> mismatch(spec, "treemtl") is None
    True
    >>> auto = spec.model_copy(update={"backbone": spec.backbone.model_copy(
    ...     update={"blocks": ir.AutoBlocks(count=5)})})
    >>> why, hint = mismatch(auto, "treemtl").splitlines()
    >>> why[:73]
    'TreeMTL cuts torchvision.resnet34 into 5 blocks, after maxpool, layer1, l'
    >>> hint
    "hint: write `blocks: [maxpool, layer1, layer2, layer3]` in the base spec's backbone"
"""

from __future__ import annotations

from mtlspec.spec import ir

_RESNET_STAGES = ("maxpool", "layer1", "layer2", "layer3")
_RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
            "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2")

# source → backbone reference → the cut points of the authors' blocks (one block more)
PUBLISHED_CUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "treemtl": {
        "torchvision.resnet34": _RESNET_STAGES,
        "torchvision.mobilenet_v2": ("features.3", "features.10", "features.13", "features.17"),
    },
    # CoNAL's stages (its LibMTL architecture): the stem (conv1 .. maxpool), then layer1..4
    "conal": {f"torchvision.{name}": _RESNET_STAGES for name in _RESNETS},
}
PAPERS = {"treemtl": "TreeMTL", "conal": "CoNAL"}


def _written(blocks: ir.AutoBlocks | ir.CutAfter) -> str:
    if isinstance(blocks, ir.CutAfter):
        return f"`blocks: [{', '.join(blocks.after)}]`"
    return "`blocks: auto`" if blocks.count is None else f"`blocks: auto({blocks.count})`"


def mismatch(spec: ir.TreeSpec, source: str) -> str | None:
    """Why `spec`'s blocks are not the ones `source`'s results were measured on (None: they
    are, or the mapping is not known for this backbone).

    Args:
        spec: a validated tree spec (the base a result is imported onto).
        source: "treemtl" or "conal".
    """
    cuts = PUBLISHED_CUTS[source].get(spec.backbone.ref)
    if cuts is None:
        return None
    blocks = spec.backbone.blocks
    if isinstance(blocks, ir.CutAfter) and tuple(blocks.after) == cuts:
        return None
    return (f"{PAPERS[source]} cuts {spec.backbone.ref} into {len(cuts) + 1} blocks, after "
            f"{', '.join(cuts)}; this spec's {_written(blocks)} cuts elsewhere, so the imported "
            "result is applied to other layers than it was measured on\n"
            f"hint: write `blocks: [{', '.join(cuts)}]` in the base spec's backbone")
