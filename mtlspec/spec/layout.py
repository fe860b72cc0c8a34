"""Tree layouts: rows of task partitions, one row per backbone block.

A layout over B blocks is a tuple of B partitions of the task set; row i+1 must refine row i
(a group can only split as the network gets deeper). Branch statements
(`branch after 2: {a, b} | {c}`) are another way to write the same thing; `rows_from_branches`
turns them into rows so both forms give one IR.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Row = frozenset[frozenset[str]]


@dataclass(frozen=True)
class Branch:
    """`branch after DEPTH: {..} | {..}`: after block DEPTH the union of `children` splits."""

    after: int
    children: tuple[frozenset[str], ...]


class BranchError(ValueError):
    """A branch statement that cannot be applied; `index` says which statement."""

    def __init__(self, index: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.index = index
        self.hint = hint


def rows_from_branches(
    tasks: Sequence[str], branches: Sequence[Branch], block_count: int
) -> tuple[Row, ...]:
    """Expand branch statements into one partition per block.

    Args:
        tasks: every task of the spec.
        branches: the statements, in any order (applied by increasing depth).
        block_count: B, the number of backbone blocks.

    Returns:
        B rows; row i (0-based) is the partition in effect for block i+1.

    Raises:
        BranchError: a branch splits a set that is not one group at that depth, goes past the
            last block, or names a task twice.

    Example:
        >>> split = Branch(1, (frozenset("ab"), frozenset("c")))
        >>> rows = rows_from_branches(["a", "b", "c"], [split], 2)
        >>> [sorted(map(sorted, r)) for r in rows]
        [[['a', 'b', 'c']], [['a', 'b'], ['c']]]
    """
    groups: set[frozenset[str]] = {frozenset(tasks)}
    rows: list[Row] = []
    order = sorted(range(len(branches)), key=lambda i: branches[i].after)
    pending = iter(order)
    nxt = next(pending, None)
    for depth in range(block_count):
        while nxt is not None and branches[nxt].after == depth:
            groups = _apply(groups, branches[nxt], nxt)
            nxt = next(pending, None)
        rows.append(frozenset(groups))
    if nxt is not None:
        b = branches[nxt]
        raise BranchError(
            nxt,
            f"branch after {b.after} is past the last block (the backbone has {block_count})",
            f"branch points run from 0 (separate networks) to {block_count - 1}",
        )
    return tuple(rows)


def _apply(groups: set[frozenset[str]], branch: Branch, index: int) -> set[frozenset[str]]:
    seen: set[str] = set()
    for child in branch.children:
        twice = seen & child
        if twice:
            raise BranchError(index, f"task {sorted(twice)[0]} is in two branches of one split")
        seen |= child
    parent = frozenset(seen)
    if parent not in groups:
        # Sorted: iterating a set of sets follows string hashing, which changes every run.
        holders = sorted((g for g in groups if g & parent), key=sorted)
        where = ("; there its tasks are in " + " and ".join(map(show_set, holders))
                 if holders else "")
        raise BranchError(
            index,
            f"branch after {branch.after} splits {show_set(parent)}, "
            f"which is not one group after block {branch.after}{where}",
            "the sets of one branch statement must together make up a group that exists at "
            "that depth",
        )
    return (groups - {parent}) | set(branch.children)


def refines(row: Row, above: Row) -> frozenset[str] | None:
    """None if `row` refines `above`; else the first group of `row` that joins tasks apart above."""
    owner = {task: group for group in above for task in group}
    for group in sorted(row, key=sorted):  # sorted: a set's order changes from run to run
        if len({owner.get(task) for task in group}) > 1:
            return group
    return None


def ordered_groups(row: Iterable[frozenset[str]], task_order: Sequence[str]) -> list[list[str]]:
    """A row's groups in canonical order: by declaration order of tasks, then by name.

    Unknown task names (an invalid spec) sort after every declared task.
    """
    rank = {task: i for i, task in enumerate(task_order)}

    def key(task: str) -> tuple[int, str]:
        return (rank.get(task, len(rank)), task)

    groups = [sorted(group, key=key) for group in row]
    return sorted(groups, key=lambda g: [key(t) for t in g])


def show_set(group: Iterable[str] | None, task_order: Sequence[str] = ()) -> str:
    """`{a, b}` in declaration order (or sorted), for messages."""
    if group is None:
        return "{}"
    names = ordered_groups([frozenset(group)], task_order)[0] if group else []
    return "{" + ", ".join(names) + "}"
