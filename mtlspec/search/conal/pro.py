"""CoNAL-Pro: a progressive search, one stage per backbone block from the last to the first.

Our reading of the paper's progressive extension (it leaves the details open):
- Stage for block p (p = B, B-1, ..., 1) trains a supernet whose blocks 1..p-1 are all-shared,
  whose block p exists once all-shared and once per *unit*, and whose blocks p+1..B are the
  subtree already decided by earlier stages. The units are the groups of row p+1 (at the first
  stage, p = B: one unit per task).
- Each unit u has α_u over two branch points: p (keep the all-shared block p) and p-1 (use its
  own copy of block p); its tasks' outputs are mixed over the two, as in plain CoNAL.
- Conflict noticing (Eq. 5) acts on the all-shared blocks 1..p.
- Units that keep the shared block form one subgroup at row p; the others stay as they are.
  Rows only merge going up, so every row refines the one above: a valid general tree.
- A stage with a single unit is skipped (the row above can only be that group).
- Each stage starts from the base backbone's initial weights (fresh heads, seeded by the seed
  and the stage), trains `config.epochs` epochs, and is checkpointed like plain CoNAL.
"""

from __future__ import annotations

import torch

from mtlspec.backbone import BackboneBlocks
from mtlspec.compile.heads import set_output_size
from mtlspec.search.conal.checkpoint import Checkpoint
from mtlspec.search.conal.stage import Progress, SearchConfig, StageResult, run_checkpointed
from mtlspec.search.conal.supernet import Partition, Unit, build_supernet
from mtlspec.spec import ir


def merge_row(units: Partition, keep: list[tuple[str, ...]], order: list[str]) -> Partition:
    """Row p: the units that kept the shared block merged into one group, others unchanged.

    Example:
        >>> merge_row((("a",), ("b",), ("c",)), [("a",), ("c",)], ["a", "b", "c"])
        (('a', 'c'), ('b',))
    """
    rank = {t: i for i, t in enumerate(order)}
    merged = tuple(sorted((t for u in keep for t in u), key=rank.__getitem__))
    rest = [u for u in units if u not in keep]
    groups = ([merged] if merged else []) + rest
    return tuple(sorted(groups, key=lambda g: rank[g[0]]))


def search_pro(base: ir.TreeSpec, data, config: SearchConfig, backbone: BackboneBlocks,
               ckpt: Checkpoint, progress: Progress | None, device=None
               ) -> tuple[tuple[ir.Row, ...], list[StageResult]]:
    """Run the stages; return the layout (rows 1..B) and each searched stage's result.

    Args:
        base: the validated base tree spec.
        data: a `DataSplits` with every task.
        config: hyper-parameters (epochs per stage).
        backbone: the base spec's blocks.
        ckpt: the search's checkpoint (stages already finished are not rerun).
        progress: called after every step.
        device: where the supernets train (None: the CPU).

    Returns:
        (layout, stage results).
    """
    order = [t.name for t in base.tasks]
    count = len(backbone.blocks)
    rows: list[Partition] = []
    units: Partition = tuple((t,) for t in order)
    results: list[StageResult] = []
    for stage, block in enumerate(range(count, 0, -1)):
        if len(units) == 1:
            rows.insert(0, units)
            continue
        torch.manual_seed(config.seed + stage)
        net = build_supernet(base, units=[Unit(u, (block - 1, block)) for u in units],
                             depth=block, tail=rows, backbone=backbone)
        set_output_size(net, tuple(data.input_shape[-2:]))
        result = run_checkpointed(ckpt, stage, net, data, config, f"block {block}", progress,
                                  device)
        results.append(result)
        keep = [u for u in units if result.choices["+".join(u)] == block]
        units = merge_row(units, keep, order)
        rows.insert(0, units)
    layout = tuple(frozenset(frozenset(g) for g in row) for row in rows)
    return layout, results
