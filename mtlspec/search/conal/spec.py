"""Branch points → tree specs, and the CoNAL authors' result format → tree specs.

A task's branch point p is the number of leading backbone blocks it shares with the all-shared
trunk (0: a network of its own from the input, B: every block shared). In the layout, row i
(block i+1) groups every task whose branch point is > i into one set; the others stand alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mtlspec.errors import MtlspecError
from mtlspec.spec import ir
from mtlspec.spec.validate import validate


def layout_from_branch_points(tasks: Sequence[str], points: Mapping[str, int],
                              blocks: int) -> tuple[ir.Row, ...]:
    """The layout of an all-shared trunk with each task leaving at its branch point.

    Args:
        tasks: every task, declaration order.
        points: task → branch point in 0..blocks.
        blocks: B, the number of backbone blocks (layout rows).

    Returns:
        B rows; row i holds {tasks with point > i} (if any) and a singleton per other task.

    Raises:
        ValueError: a task without a point, or a point outside 0..B.

    Example:
        >>> rows = layout_from_branch_points(["a", "b", "c"], {"a": 2, "b": 1, "c": 0}, 2)
        >>> [sorted(sorted(g) for g in row) for row in rows]
        [[['a', 'b'], ['c']], [['a'], ['b'], ['c']]]
    """
    for task in tasks:
        if not 0 <= points[task] <= blocks:
            raise ValueError(f"branch point {points[task]} of {task} is outside 0..{blocks}")
    rows = []
    for i in range(blocks):
        shared = frozenset(t for t in tasks if points[t] > i)
        alone = [frozenset([t]) for t in tasks if points[t] <= i]
        rows.append(frozenset(([shared] if shared else []) + alone))
    return tuple(rows)


def tree_spec(base: ir.TreeSpec, layout: Sequence[ir.Row], *, name: str | None = None
              ) -> ir.TreeSpec:
    """The base spec with a new layout (and name), validated.

    The base's input, backbone, heads and budget are kept; `weights` is dropped (a state dict
    of another layout does not fit) while `init` (backbone weights) is kept.

    Raises:
        MtlspecError: the result does not validate (a bug in the caller's layout).
    """
    spec = base.model_copy(update={"layout": tuple(layout), "name": name or base.name,
                                   "weights": None})
    return validate(spec)


def block_count(base: ir.TreeSpec) -> int:
    """B: the base spec's layout rows (validation ties them to its block count)."""
    return len(base.layout)


def read_arch(source: str | Path | Mapping) -> dict[int, int]:
    """Read the CoNAL authors' result: {"task index": shared stages, ...}.

    Raises:
        MtlspecError: unreadable file, bad JSON, not an object, non-integer keys or values.
    """
    where = "the architecture" if isinstance(source, Mapping) else str(source)
    if isinstance(source, Mapping):
        data = source
    elif str(source).lower().endswith((".yml", ".yaml")):
        raise MtlspecError(
            f"{source} is YAML: CoNAL's .yml files configure training, they hold no searched "
            "architecture; `import conal` reads the arch.json a CoNAL search writes, e.g. "
            '{"0": 5, "1": 3} (task index → stages shared)')
    else:
        from mtlspec.inputs import load_json

        data = load_json(source, "architecture")
    if not isinstance(data, Mapping):
        raise MtlspecError(f"{where}: expected a JSON object such as {{\"0\": 5, \"1\": 3}} "
                           f"(task index → shared stages), got {type(data).__name__}")
    out: dict[int, int] = {}
    for key, value in data.items():
        text_key = str(key).strip()
        if not (text_key.isascii() and text_key.isdigit()):
            raise MtlspecError(f"{where}: key {key!r} is not a task index (0, 1, 2, ...)")
        if isinstance(value, bool) or not isinstance(value, int):
            raise MtlspecError(f"{where}: task {key}: shared stages must be an integer, "
                               f"got {value!r}")
        if int(text_key) in out:
            raise MtlspecError(f"{where}: task index {int(text_key)} appears twice")
        out[int(text_key)] = value
    return out


def import_conal(arch: str | Path | Mapping, base: ir.TreeSpec, *,
                 tasks: Sequence[str] | None = None, name: str | None = None) -> ir.TreeSpec:
    """A CoNAL result in the authors' format as a tree spec over the base spec's backbone.

    Args:
        arch: path to the JSON file, or its parsed object: task index → the number of
            leading backbone stages the task shares (0 = fully private, B = fully shared).
        base: a validated tree spec supplying input, backbone (B blocks) and heads.
        tasks: the task name of each index, in index order (default: the base's task order).
        name: the new spec's name (default: the base's).

    Returns:
        The validated tree spec.

    Raises:
        MtlspecError: bad JSON, a missing or extra task index, a value outside 0..B, an
            unknown or repeated task name, or a base spec that is not a tree.

    Example:
        >>> from mtlspec.spec import load
        >>> base = load("specs/conal_multidigits.mtl").spec
        >>> spec = import_conal({"0": 5, "1": 5, "2": 3}, base, tasks=["left", "right", "parity"])
        >>> [len(row) for row in spec.layout]  # parity leaves after block 3
        [1, 1, 1, 2, 2]
    """
    ir.require_kind(base, "model", "a CoNAL result takes its backbone and heads from")
    shares = read_arch(arch)
    declared = [t.name for t in base.tasks]
    names = list(tasks) if tasks is not None else declared
    _check_names(names, declared, base.name)
    where = "the architecture" if isinstance(arch, Mapping) else str(arch)
    missing = [i for i in range(len(names)) if i not in shares]
    extra = sorted(i for i in shares if i >= len(names))
    if extra:
        raise MtlspecError(f"{where}: task index {extra[0]} has no task: {len(names)} tasks "
                           f"({', '.join(names)}) take indices 0..{len(names) - 1}")
    if missing:
        raise MtlspecError(f"{where}: no entry for task index {missing[0]} "
                           f"(`{names[missing[0]]}`)")
    blocks = block_count(base)
    for i, value in sorted(shares.items()):
        if not 0 <= value <= blocks:
            raise MtlspecError(f"{where}: task {i} (`{names[i]}`) shares {value} stages, but "
                               f"`{base.name}` has {blocks} blocks: use 0..{blocks}")
    points = {names[i]: value for i, value in shares.items()}
    return tree_spec(base, layout_from_branch_points(declared, points, blocks), name=name)


def _check_names(names: Sequence[str], declared: Sequence[str], base: str) -> None:
    if len(set(names)) != len(names):
        raise MtlspecError(f"--tasks names a task twice: {', '.join(names)}")
    unknown = [t for t in names if t not in declared]
    if unknown:
        raise MtlspecError(f"unknown task `{unknown[0]}`: the base spec `{base}` declares "
                           f"{', '.join(declared)}")
    left = [t for t in declared if t not in names]
    if left:
        raise MtlspecError(f"the base spec `{base}` also declares `{left[0]}`; list every task "
                           "in --tasks (one per index of the architecture)")
