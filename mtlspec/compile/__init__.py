"""Spec + backbone blocks → PyTorch multi-task models (this package imports torch).

Every compiled model is an `nn.Module` whose `forward(x)` returns `{task: tensor}` in task
declaration order, and which carries `spec` (the IR) and `task_names`.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from mtlspec.compile.load import load_model
from mtlspec.spec import ir

__all__ = ["DTYPES", "compile", "load_model", "spec_dtype"]

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
        allow_import: allow `"pkg.module:callable"` backbones (`mtlspec.usercode`).
        dtype: the parameters' dtype; default: the spec input's.

    Raises:
        MtlspecError: the spec cannot be built (see the kind's compiler).

    Example:
        >>> from mtlspec.spec import load
        >>> type(compile(load("specs/nyuv2_dag.mtl").spec)).__name__
        'DagModel'
    """
    from mtlspec.limits import check_memory

    shape = spec.input.shape
    check_memory(math.prod(shape) * torch.finfo(spec_dtype(spec)).bits // 8,
                 f"input {spec.input.dtype}[{', '.join(map(str, shape))}]")
    model = _COMPILERS[spec.kind](spec, Path(base_dir), allow_import)
    target = dtype or spec_dtype(spec)
    return model if target == torch.float32 else model.to(target)


# Each kind's compiler, imported when first used (a DAG's ops are built in: no weight paths,
# no user code).
def _tree(spec: ir.TreeSpec, base_dir: Path, allow_import: bool) -> nn.Module:
    from mtlspec.compile.tree import compile_tree

    return compile_tree(spec, base_dir=base_dir, allow_import=allow_import)


def _dag(spec: ir.DagSpec, base_dir: Path, allow_import: bool) -> nn.Module:
    from mtlspec.compile.dag import compile_dag

    return compile_dag(spec)


def _grouping(spec: ir.GroupingSpec, base_dir: Path, allow_import: bool) -> nn.Module:
    from mtlspec.compile.grouping import compile_grouping

    return compile_grouping(spec, allow_import=allow_import)


_COMPILERS = {"model": _tree, "dag": _dag, "grouping": _grouping}
