"""The training plan of task grouping (Standley et al.): one network per non-empty task subset.

`mtlspec group` selects networks from a candidate table; this module writes the specs whose
training fills that table. For T tasks that is 2^T − 1 full-width networks (each trains and
serves exactly its subset) and, with `half_size`, T half-width single-task networks (width 0.5,
Standley's cheaper singles). Each is a one-network grouping spec, so it validates, compiles,
costs and trains like any other spec; `mtlspec run` trains them and writes the candidate table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from mtlspec.errors import MtlspecError
from mtlspec.plan.manifest import Entry, Manifest, write_plan
from mtlspec.search.grouping.candidates import default_name
from mtlspec.search.grouping.spec import base_backbone
from mtlspec.spec import format as format_spec
from mtlspec.spec import ir
from mtlspec.spec.validate import validate

HALF_WIDTH = 0.5
MAX_TASKS = 10  # 2^10 − 1 = 1023 networks: beyond that a full grouping plan is not trainable


@dataclass(frozen=True)
class PlannedNetwork:
    """One spec of a grouping plan.

    Attributes:
        id: its name in the plan and the candidate table: the tasks joined by `+`, plus
            `@0.5` for a half-width network (`mtlspec.search.grouping.table.default_name`).
        tasks: the subset it trains and serves, in the base spec's task order.
        width: its width as a fraction of the base backbone (the spec's network `width`
            differs when the base is a `convnet(width=W)` tree: it is then scaled by W/32).
        spec: the one-network grouping spec.
    """

    id: str
    tasks: tuple[str, ...]
    width: float
    spec: ir.GroupingSpec


def subsets(tasks: Sequence[str]) -> list[tuple[str, ...]]:
    """Every non-empty subset of `tasks`, smallest first, each in `tasks` order.

    Example:
        >>> subsets(["a", "b", "c"])
        [('a',), ('b',), ('c',), ('a', 'b'), ('a', 'c'), ('b', 'c'), ('a', 'b', 'c')]
    """
    return [combo for k in range(1, len(tasks) + 1) for combo in combinations(tasks, k)]


def group_plan(base: ir.AnySpec, *, half_size: bool = False) -> list[PlannedNetwork]:
    """The networks a grouping plan trains, as validated one-network grouping specs.

    Args:
        base: a validated tree or grouping spec supplying the input, the task heads and the
            backbone (a grouping spec's first network's backbone and arguments).
        half_size: add a half-width single-task network per task.

    Returns:
        2^T − 1 full-width networks (smallest subsets first), then the T half-width ones.

    Raises:
        MtlspecError: a DAG base, or more than `MAX_TASKS` tasks.

    Example:
        >>> from mtlspec.spec import load
        >>> [n.id for n in group_plan(load("specs/conal_multidigits.mtl").spec)][:4]
        ['left', 'right', 'parity', 'left+right']
    """
    ref, args, scale = base_backbone(base)
    names = [t.name for t in base.tasks]
    if len(names) > MAX_TASKS:
        raise MtlspecError(f"{base.name}: {len(names)} tasks need {2 ** len(names) - 1} "
                           f"networks; a grouping plan takes at most {MAX_TASKS} tasks")
    heads = {t.name: t for t in base.tasks}
    planned = [(subset, 1.0) for subset in subsets(names)]
    if half_size:
        planned += [((name,), HALF_WIDTH) for name in names]
    out = []
    for tasks, width in planned:
        ident = default_name(list(tasks), width)
        suffix = "_".join(tasks) + ("_half" if width != 1.0 else "")
        network = ir.Network(name="A", backbone=ref, args=args, width=width * scale,
                             trains=frozenset(tasks), serves=frozenset(tasks))
        spec = ir.GroupingSpec(name=f"{base.name}_{suffix}", input=base.input,
                               tasks=tuple(heads[t] for t in tasks), networks=(network,))
        out.append(PlannedNetwork(ident, tasks, width, validate(spec)))
    return out


def write_group_plan(base: ir.AnySpec, directory: str | Path, *, half_size: bool = False,
                     base_name: str | None = None) -> Path:
    """Write a grouping plan: one spec file per network and `manifest.json` (kind `grouping`).

    Each entry's cost (GMACs, parameters) comes from the compiler's cost report.

    Args:
        base: as for `group_plan`.
        directory: the plan directory (created if missing).
        half_size: add half-width single-task networks.
        base_name: recorded as the manifest's `base` (the base spec's path); default its name.

    Returns:
        The manifest's path.

    Raises:
        MtlspecError: see `group_plan`; a backbone that cannot be built or width-scaled.

    Example:
        >>> import tempfile
        >>> from mtlspec.plan.manifest import load_manifest
        >>> from mtlspec.spec import load
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = write_group_plan(load("specs/conal_multidigits.mtl").spec, folder)
        ...     [e.id for e in load_manifest(folder).entries][-2:]
        ['right+parity', 'left+right+parity']
    """
    from mtlspec import load_model
    from mtlspec.cost import cost

    networks = group_plan(base, half_size=half_size)
    entries, texts = [], {}
    for net in networks:
        report = cost(load_model(net.spec))
        file = f"{net.id}.mtl"
        entries.append(Entry(id=net.id, spec=file, tasks=list(net.tasks), branch_point=None,
                             width=net.width, gmacs=report.flops / 1e9,
                             params=report.params))
        texts[file] = format_spec(net.spec)
    manifest = Manifest(kind="grouping", base=base_name or base.name,
                        tasks=[t.name for t in base.tasks], blocks=None, entries=entries)
    return write_plan(directory, manifest, texts)
