"""CoNAL and CoNAL-Pro: from a base tree spec and a data set to the searched tree spec.

`search_conal` runs one bi-level stage (`stage.run_stage`) over every task's branch point, or
the progressive stages of CoNAL-Pro (`pro.search_pro`), and turns the choices into a spec.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from mtlspec.compile.heads import set_output_size
from mtlspec.errors import MtlspecError
from mtlspec.search.conal.checkpoint import Checkpoint
from mtlspec.search.conal.pro import search_pro
from mtlspec.search.conal.spec import layout_from_branch_points, tree_spec
from mtlspec.search.conal.stage import (
    Progress,
    SearchConfig,
    StageResult,
    make_search_weighting,
    run_checkpointed,
)
from mtlspec.search.conal.supernet import base_blocks, build_supernet
from mtlspec.spec import ir
from mtlspec.train.device import check_device


@dataclass
class ConalResult:
    """What `search_conal` returns: the spec and how it was found."""

    spec: ir.TreeSpec
    branch_points: dict[str, int] | None  # plain CoNAL only
    stages: list[StageResult]
    seconds: float
    config: SearchConfig
    pro: bool = False


def _check_data(base: ir.TreeSpec, data) -> None:
    for task in base.tasks:
        info = data.tasks.get(task.name)
        if info is None:
            raise MtlspecError(f"task `{task.name}` of `{base.name}` is not in the data set "
                               f"(its tasks: {', '.join(data.tasks)})")
        outputs = task.head.args.get("classes", task.head.args.get("out"))
        if outputs is not None and outputs != info.outputs:
            raise MtlspecError(f"task `{task.name}`: the head gives {outputs} outputs but the "
                               f"data set's task has {info.outputs}")


def search_conal(base: ir.TreeSpec, data, *, config: SearchConfig | None = None,
                 pro: bool = False, name: str | None = None, checkpoint: Path | None = None,
                 resume: bool = False, progress: Progress | None = None,
                 allow_import: bool = False, device: str | None = None) -> ConalResult:
    """Search a tree over the base spec's backbone with CoNAL (or CoNAL-Pro).

    Args:
        base: a validated tree spec (its backbone blocks and heads; the layout is ignored).
        data: a `DataSplits` holding every task of the spec.
        config: hyper-parameters (seed, epochs, conflict noticing, ...); default
            `SearchConfig()`.
        pro: progressive search (one stage per block, from the last) → a general tree.
        name: the result's spec name (default `<base>_conal` / `<base>_conal_pro`).
        checkpoint: folder for `conal.pt`, saved atomically after every epoch.
        resume: continue from the checkpoint (same search settings required).
        progress: called after every step.
        allow_import: allow a `"pkg.module:callable"` backbone.
        device: where the supernet trains (cpu, cuda, cuda:1; None: the CPU); not part of
            the settings a resume must match.

    Returns:
        The `ConalResult`; `result.spec` is validated and ready for `format`.

    Raises:
        MtlspecError: a spec task missing from the data or with the wrong output size, a
            non-tree base spec, or an unusable checkpoint.

    Example:
        >>> from mtlspec.spec import load
        >>> from mtlspec.train.data import load_data
        >>> data = load_data("multidigits", tasks=["left", "right", "parity"], train_size=64,
        ...                  val_size=32, test_size=32)
        >>> base = load("specs/conal_multidigits.mtl").spec
        >>> result = search_conal(base, data, config=SearchConfig(epochs=1, steps_per_epoch=2))
        >>> sorted(result.branch_points), result.spec.name
        (['left', 'parity', 'right'], 'conal_multidigits_conal')
    """
    ir.require_kind(base, "model", "CoNAL needs its backbone and heads from")
    config = config if config is not None else SearchConfig()
    device = check_device(device)
    _check_data(base, data)
    make_search_weighting(config, [t.name for t in base.tasks])  # bad names fail up front
    meta = {"base": ir.to_json(base, indent=None), "pro": pro,
            "config": {k: v for k, v in asdict(config).items()}}
    ckpt = Checkpoint(checkpoint, meta, resume)
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    backbone = base_blocks(base, allow_import=allow_import)
    if pro:
        layout, stages = search_pro(base, data, config, backbone, ckpt, progress, device)
        spec = tree_spec(base, layout, name=name or f"{base.name}_conal_pro")
        return ConalResult(spec, None, stages, time.perf_counter() - started, config, True)
    torch.manual_seed(config.seed)
    net = build_supernet(base, backbone=backbone)
    set_output_size(net, tuple(data.input_shape[-2:]))  # dense heads at the data's size
    result = run_checkpointed(ckpt, 0, net, data, config, "conal", progress, device)
    tasks = [t.name for t in base.tasks]
    points = {t: result.choices[t] for t in tasks}
    layout = layout_from_branch_points(tasks, points, len(backbone.blocks))
    spec = tree_spec(base, layout, name=name or f"{base.name}_conal")
    return ConalResult(spec, points, [result], time.perf_counter() - started, config)
