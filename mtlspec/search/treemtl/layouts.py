"""The TreeMTL layout design space: count, enumerate, rank and unrank layouts; layout ↔ spec rows.

A layout for T tasks (numbered 0..T-1, the spec's declaration order) and B blocks is a tuple of
B rows; each row is a partition of the tasks and refines the row above (TreeMTL's `Layout`).
Equivalently, every pair of tasks (i, j) has a **branch point** b_ij ∈ 0..B: the number of
leading blocks the two share (0 = separate networks, B = shared to the end). Branch points are
an ultrametric (b_ik ≥ min(b_ij, b_jk)) and determine the layout; the fast paths below work on
arrays of them, one column per pair (i < j) in `pairs(T)` order.

**Canonical order and ids.** Every layout is split, recursively, into: A, the set of row 1 that
holds the smallest task; the layout of rows 2..B restricted to A; and the layout of rows 1..B
restricted to the other tasks. Layouts are ordered by |A| descending, then by A's members
(lexicographic, as `itertools.combinations` lists them), then by the rows below A, then by the
rest. So id 0 is the all-shared layout and id count−1 is the all-separate one, and an id means
the same layout everywhere. `rank` and `unrank` walk this recursion with the counts (no
enumeration); `count` is the dynamic program

    f(n, 0) = f(0, b) = 1,   f(n, b) = Σ_k C(n−1, k−1) · f(k, b−1) · f(n−k, b)

(T=9, B=5: 1,051,951,026 layouts, in microseconds). `chunks` streams the space in id order as
numpy arrays of branch points with bounded memory.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator, Sequence

import numpy as np

from mtlspec.errors import MtlspecError

Layout = tuple[tuple[frozenset[int], ...], ...]
MAX_TASKS = 16  # branch points are uint8 and pair tables grow as T²; more is not a tree search


@functools.cache
def count(tasks: int, blocks: int) -> int:
    """The number of layouts for `tasks` tasks and `blocks` blocks (exact, by DP).

    Example:
        >>> count(3, 5), count(9, 5)
        (51, 1051951026)
    """
    if tasks <= 0 or blocks <= 0:
        return 1
    return sum(math.comb(tasks - 1, k - 1) * count(k, blocks - 1) * count(tasks - k, blocks)
               for k in range(1, tasks + 1))


def check_size(tasks: int, blocks: int) -> None:
    """Raise MtlspecError unless 1 ≤ tasks ≤ MAX_TASKS and 1 ≤ blocks ≤ 255."""
    if not 1 <= tasks <= MAX_TASKS:
        raise MtlspecError(f"a layout needs 1 to {MAX_TASKS} tasks, not {tasks}")
    if not 1 <= blocks <= 255:
        raise MtlspecError(f"a layout needs 1 to 255 blocks, not {blocks}")


@functools.cache
def pairs(tasks: int) -> tuple[tuple[int, int], ...]:
    """The task pairs (i < j) in column order of branch-point arrays."""
    return tuple(itertools.combinations(range(tasks), 2))


def _pair_index(n: int) -> np.ndarray:
    index = np.full((n, n), -1, dtype=np.int64)
    for k, (i, j) in enumerate(pairs(n)):
        index[i, j] = index[j, i] = k
    return index


def _top_choices(n: int, b: int) -> Iterator[tuple[int, tuple[int, ...], int]]:
    """(k, A, offset) in canonical order: A (local labels, holds 0) of size k, first id."""
    offset = 0
    for k in range(n, 0, -1):
        size = count(k, b - 1) * count(n - k, b)
        for others in itertools.combinations(range(1, n), k - 1):
            yield k, (0, *others), offset
            offset += size


def unrank(tasks: int, blocks: int, layout_id: int) -> Layout:
    """The layout with this id (see the module docstring for the order).

    Raises:
        MtlspecError: the id is outside 0..count−1.

    Example:
        >>> unrank(3, 2, 0)
        ((frozenset({0, 1, 2}),), (frozenset({0, 1, 2}),))
    """
    check_size(tasks, blocks)
    total = count(tasks, blocks)
    if not 0 <= layout_id < total:
        raise MtlspecError(f"layout id {layout_id} is out of range: T={tasks}, B={blocks} "
                           f"has ids 0..{total - 1}")
    bp = np.zeros((tasks, tasks), dtype=np.int64)
    _unrank_into(list(range(tasks)), blocks, 0, layout_id, bp)
    return from_matrix(bp, blocks)


def _unrank_into(members: list[int], b: int, depth: int, rid: int, bp: np.ndarray) -> None:
    n = len(members)
    if n <= 1 or b == 0:
        return
    for k, chosen, offset in _top_choices(n, b):  # noqa: B007 (used after the break)
        size = count(k, b - 1) * count(n - k, b)
        if rid < offset + size:
            break
    left_id, right_id = divmod(rid - offset, count(n - k, b))
    group = [members[i] for i in chosen]
    rest = [m for m in members if m not in group]
    for x, y in itertools.combinations(group, 2):
        bp[x, y] = bp[y, x] = depth + 1
    _unrank_into(group, b - 1, depth + 1, left_id, bp)
    _unrank_into(rest, b, depth, right_id, bp)


def rank(layout: Layout) -> int:
    """The id of a layout (inverse of `unrank`).

    Raises:
        MtlspecError: not a valid layout (see `check`).

    Example:
        >>> rank(unrank(4, 3, 42))
        42
    """
    check(layout)
    bp = to_matrix(layout)
    return _rank_of(list(range(bp.shape[0])), len(layout), 0, bp)


def _rank_of(members: list[int], b: int, depth: int, bp: np.ndarray) -> int:
    n = len(members)
    if n <= 1 or b == 0:
        return 0
    first = members[0]
    group = [m for m in members if m == first or bp[first, m] > depth]
    rest = [m for m in members if m not in group]
    local = tuple(i for i, m in enumerate(members) if m in group)
    k, offset = next((k, off) for k, chosen, off in _top_choices(n, b) if chosen == local)
    return (offset + _rank_of(group, b - 1, depth + 1, bp) * count(n - k, b)
            + _rank_of(rest, b, depth, bp))


def check(layout: Layout) -> None:
    """Raise MtlspecError unless rows partition one task set 0..T−1 and each refines the last."""
    if not layout:
        raise MtlspecError("a layout needs at least one row")
    tasks = set().union(*layout[0])
    if tasks != set(range(len(tasks))):
        raise MtlspecError(f"layout tasks must be 0..T-1, got {sorted(tasks)}")
    check_size(len(tasks), len(layout))
    owner: dict[int, frozenset[int]] = {}
    for i, row in enumerate(layout, 1):
        seen = [t for group in row for t in group]
        if sorted(seen) != sorted(tasks) or any(not g for g in row):
            raise MtlspecError(f"layout row {i} is not a partition of the tasks "
                               f"0..{len(tasks) - 1}")
        for group in row:
            if owner and len({owner[t] for t in group}) > 1:
                raise MtlspecError(f"layout row {i} does not refine row {i - 1}: "
                                   f"{sorted(group)} joins tasks that row {i - 1} keeps apart")
        owner = {t: g for g in row for t in g}


def to_matrix(layout: Layout) -> np.ndarray:
    """T×T branch points: entry (i, j) = number of leading rows where i and j share a set."""
    tasks = len(layout[0]) and len(set().union(*layout[0]))
    bp = np.zeros((tasks, tasks), dtype=np.int64)
    for depth, row in enumerate(layout, 1):
        for group in row:
            members = sorted(group)
            for x, y in itertools.combinations(members, 2):
                if bp[x, y] == depth - 1:
                    bp[x, y] = bp[y, x] = depth
    return bp


def from_matrix(bp: np.ndarray, blocks: int) -> Layout:
    """The layout of a T×T branch-point matrix (an ultrametric with values 0..blocks)."""
    tasks = bp.shape[0]
    rows = []
    for depth in range(blocks):
        groups: list[list[int]] = []
        for t in range(tasks):
            for g in groups:
                if bp[g[0], t] > depth:
                    g.append(t)
                    break
            else:
                groups.append([t])
        rows.append(tuple(frozenset(g) for g in groups))
    return tuple(rows)


def branch_points(layout: Layout) -> tuple[int, ...]:
    """The layout's branch point of every pair, in `pairs(T)` order."""
    bp = to_matrix(layout)
    return tuple(int(bp[i, j]) for i, j in pairs(bp.shape[0]))


def from_branch_points(tasks: int, blocks: int, values: Sequence[int]) -> Layout:
    """The layout whose pair branch points (in `pairs(T)` order) are `values`."""
    bp = np.zeros((tasks, tasks), dtype=np.int64)
    for (i, j), v in zip(pairs(tasks), values, strict=True):
        bp[i, j] = bp[j, i] = int(v)
    return from_matrix(bp, blocks)


@functools.cache
def _full(n: int, b: int) -> np.ndarray:
    """Every layout of n tasks, b blocks as branch points (rows in id order); read-only."""
    if n <= 1 or b == 0:
        rows = np.zeros((1, math.comb(max(n, 0), 2)), dtype=np.uint8)
    else:
        rows = np.concatenate(list(_stream(n, b, count(n, b))))
    rows.setflags(write=False)
    return rows


def _columns(n: int, chosen: tuple[int, ...]):
    """Where the columns of A's layout, the rest's layout and the cross pairs go."""
    rest = [i for i in range(n) if i not in chosen]
    index = _pair_index(n)
    into_a = np.array([index[chosen[i], chosen[j]] for i, j in pairs(len(chosen))], dtype=np.int64)
    into_r = np.array([index[rest[i], rest[j]] for i, j in pairs(len(rest))], dtype=np.int64)
    return into_a, into_r


def _stream(n: int, b: int, limit: int) -> Iterator[np.ndarray]:
    """Chunks (≤ about `limit` rows) of n-task, b-block branch points in id order."""
    if n <= 1 or b == 0:
        yield np.zeros((1, math.comb(n, 2)), dtype=np.uint8)
        return
    width = math.comb(n, 2)
    for k, chosen, _ in _top_choices(n, b):
        into_a, into_r = _columns(n, chosen)
        n_right = count(n - k, b)
        lefts = (_full(k, b - 1),) if count(k, b - 1) <= limit else _stream(k, b - 1, limit)
        for left in lefts:
            if n_right <= limit:
                right = _full(n - k, b)
                step = max(1, limit // n_right)
                for start in range(0, len(left), step):
                    part = left[start:start + step]
                    out = np.zeros((len(part) * n_right, width), dtype=np.uint8)
                    out[:, into_a] = np.repeat(part + 1, n_right, axis=0)
                    out[:, into_r] = np.tile(right, (len(part), 1))
                    yield out
            else:
                for row in left:
                    for right in _stream(n - k, b, limit):
                        out = np.zeros((len(right), width), dtype=np.uint8)
                        out[:, into_a] = row + 1
                        out[:, into_r] = right
                        yield out


def chunks(tasks: int, blocks: int, *, chunk_size: int = 65536) -> Iterator[np.ndarray]:
    """Stream every layout in id order as uint8 arrays of branch points (one row per layout).

    Chunks hold about `chunk_size` rows (a chunk may be smaller); memory stays bounded by a
    few chunks whatever the size of the space. Row r of the k-th chunk has id = rows before it.

    Example:
        >>> sum(len(c) for c in chunks(4, 3))
        154
    """
    check_size(tasks, blocks)
    if tasks == 1:
        yield np.zeros((1, 0), dtype=np.uint8)
        return
    yield from _stream(tasks, blocks, max(int(chunk_size), 1))


def layouts(tasks: int, blocks: int) -> Iterator[Layout]:
    """Every layout in id order (a streaming generator: id = position).

    Example:
        >>> next(layouts(2, 2))
        ((frozenset({0, 1}),), (frozenset({0, 1}),))
    """
    for chunk in chunks(tasks, blocks):
        for row in chunk:
            yield from_branch_points(tasks, blocks, row)


def branch_depth(values: np.ndarray, tasks: int) -> np.ndarray:
    """Per layout and task t ≥ 1: max_{s<t} b_st, the depth where t leaves every earlier task.

    Row d of a layout holds one set per task t with depth(t) ≤ d (task 0 always counts), so
    the layout's cost is Σ_t Σ_{d ≥ depth(t)} cost(block d): see `recommend.layout_costs`.
    Returns shape (N, T) with column 0 all zero.
    """
    index = _pair_index(tasks)
    out = np.zeros((len(values), tasks), dtype=np.uint8)
    for t in range(1, tasks):
        out[:, t] = values[:, index[t, :t]].max(axis=1)
    return out


def to_rows(layout: Layout, tasks: Sequence[str]) -> tuple[frozenset[frozenset[str]], ...]:
    """The spec IR rows of a layout, task i named `tasks[i]`."""
    return tuple(frozenset(frozenset(tasks[t] for t in g) for g in row) for row in layout)


def from_rows(rows: Sequence[frozenset[frozenset[str]]], tasks: Sequence[str]) -> Layout:
    """The layout of spec IR rows (tasks numbered by their position in `tasks`).

    Raises:
        MtlspecError: a row names an unknown task or the rows are not a layout.
    """
    index = {t: i for i, t in enumerate(tasks)}
    try:
        layout = tuple(tuple(sorted((frozenset(index[t] for t in g) for g in row), key=min))
                       for row in rows)
    except KeyError as err:
        raise MtlspecError(f"layout names unknown task {err.args[0]!r}") from None
    check(layout)
    return layout


def describe(layout: Layout, tasks: Sequence[str] | None = None) -> str:
    """One-line text: rows separated by ` | `, e.g. `{a, b} | {a} {b}`."""
    def name(t: int) -> str:
        return tasks[t] if tasks is not None else str(t)

    return " | ".join(" ".join("{" + ", ".join(name(t) for t in sorted(g)) + "}"
                               for g in sorted(row, key=min)) for row in layout)


def to_spec(base, layout: Layout, *, name: str | None = None, budget=None):
    """A tree spec (IR) with `base`'s input, backbone and heads and this layout.

    Args:
        base: a `TreeSpec`; its layout is replaced, its task order numbers the layout's tasks.
        layout: a layout over len(base.tasks) tasks with as many rows as the base's blocks.
        name: the spec's name (default: the base's); budget: an `ir.Budget` or None (kept).

    Raises:
        MtlspecError: task count or block count differ from the base's.

    Example:
        >>> from mtlspec.spec import load
        >>> spec = to_spec(load("specs/nyuv2_resnet34.mtl").spec, unrank(3, 5, 0))
        >>> [len(row) for row in spec.layout]  # layout 0: every block shared
        [1, 1, 1, 1, 1]
    """
    from mtlspec.spec import ir

    ir.require_kind(base, "model", "a TreeMTL layout takes its backbone and heads from")
    check(layout)
    names = [t.name for t in base.tasks]
    tasks = len(set().union(*layout[0]))
    if tasks != len(names):
        raise MtlspecError(f"the layout has {tasks} tasks but {base.name} has {len(names)}")
    blocks = base.backbone.block_count
    if blocks is None:
        raise MtlspecError(
            f"{base.name}: the backbone uses `blocks: auto` (every detected block); write "
            "`blocks: auto(B)` or a cut list so layouts have a fixed number of rows")
    if blocks != len(layout):
        raise MtlspecError(f"the layout has {len(layout)} rows but {base.name}'s backbone "
                           f"has {blocks} blocks")
    update = {"layout": to_rows(layout, names), "name": name or base.name}
    if budget is not None:
        update["budget"] = budget
    return base.model_copy(update=update)


def from_spec(spec) -> Layout:
    """The layout of a tree spec (tasks numbered in declaration order)."""
    return from_rows(spec.layout, [t.name for t in spec.tasks])
