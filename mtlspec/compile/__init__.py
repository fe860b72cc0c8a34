"""Spec + backbone blocks → PyTorch multi-task models (this package imports torch).

Every compiled model is an `nn.Module` whose `forward(x)` returns `{task: tensor}` in task
declaration order, and which carries `spec` (the IR) and `task_names`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mtlspec.spec import ir

# The spec's input element types (spec.catalog.DTYPES) as torch dtypes.
DTYPES = {"float": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def spec_dtype(spec: ir.AnySpec) -> torch.dtype:
    """The torch dtype a spec's input declares (`float` is float32)."""
    return DTYPES[spec.input.dtype]


def compile(  # the stage's public function is named after it (DESIGN §1)
    spec: ir.AnySpec, *, base_dir: str | Path = ".", allow_import: bool = False,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """Build the multi-task model of a validated spec of any kind.

    The model's parameters have the spec input's dtype (`input image: float16[...]` gives a
    float16 model that takes float16 input), unless `dtype` says otherwise: training keeps
    float32 master weights (`dtype=torch.float32`), and a trained float32 state dict loads
    into the spec-dtype model with `load_state_dict` (the copy casts).

    Args:
        spec: a validated spec.
        base_dir: folder that weight paths in the spec are relative to.
        allow_import: allow `"pkg.module:callable"` backbones even if the spec does not.
        dtype: the parameters' dtype; default: the spec input's.

    Raises:
        MtlspecError: the spec cannot be built (see the kind's compiler).

    Example:
        >>> model = compile(load("specs/conal_multidigits.mtl").spec)  # doctest: +SKIP
    """
    if isinstance(spec, ir.TreeSpec):
        from mtlspec.compile.tree import compile_tree

        model = compile_tree(spec, base_dir=base_dir, allow_import=allow_import)
    elif isinstance(spec, ir.DagSpec):
        from mtlspec.compile.dag import compile_dag

        model = compile_dag(spec)
    else:
        from mtlspec.compile.grouping import compile_grouping

        model = compile_grouping(spec, allow_import=allow_import)
    target = dtype or spec_dtype(spec)
    return model if target == torch.float32 else model.to(target)
