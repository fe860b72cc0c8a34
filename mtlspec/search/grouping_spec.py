"""A task-grouping selection as a grouping spec, ready to validate, format, compile and export."""

from __future__ import annotations

import difflib
import re
import string

from mtlspec.errors import MtlspecError
from mtlspec.search.grouping import Selection
from mtlspec.search.grouping_table import CandidateTable
from mtlspec.spec import ir
from mtlspec.spec.validate import validate

DEFAULT_INPUT = ir.TensorInput(name="image", shape=(1, 3, 256, 256))
DEFAULT_BACKBONE = "torchvision.resnet18"
DEFAULT_HEAD = ir.Call(name="conv", args={"out": 1})


def to_spec(
    selection: Selection,
    table: CandidateTable,
    *,
    base: ir.AnySpec | None = None,
    name: str | None = None,
    budget: float | None = None,
) -> ir.GroupingSpec:
    """The chosen networks as a grouping spec: one `network` per choice, trains/serves sets.

    Networks are named A, B, C, … with full-width networks first, each group in task order;
    `width` is the candidate's width (a half-size network gets 0.5).

    Args:
        selection: from `select`.
        table: the table the selection was reported on (for its tasks and cost unit).
        base: a spec supplying the input, the task heads (in its order) and the backbone (a
            grouping spec's first network, or a tree spec's backbone). Without one: a
            256×256 image, `torchvision.resnet18`, and `conv(out=1)` heads.
        name: the spec's name; default the base spec's name, else `grouping_<budget>`.
        budget: written as `budget { units <= B }` (or `gflops <= B` for GFLOPs tables).

    Returns:
        The validated spec.

    Raises:
        MtlspecError: the base spec is a DAG, or its tasks differ from the table's.

    Example:
        >>> spec = to_spec(select(table, 2.5), table, base=load_spec("s.mtl"))  # doctest: +SKIP
        >>> [n.name for n in spec.networks]  # doctest: +SKIP
        ['A', 'B', 'C']
    """
    tasks, backbone, args, inp = _from_base(base, table)
    order = {t.name: i for i, t in enumerate(tasks)}
    choices = sorted(selection.choices, key=lambda c: (
        -c.candidate.width, sorted(order[t] for t in c.candidate.loss), c.candidate.name))
    networks = tuple(
        ir.Network(name=_letters(i), backbone=backbone, args=args, width=c.candidate.width,
                   trains=frozenset(c.candidate.loss), serves=frozenset(c.serves))
        for i, c in enumerate(choices))
    limits = None
    if budget is not None:
        key = "units" if table.cost_unit == "units" else "gflops"
        limits = ir.Budget(**{key: float(budget)})
    spec = ir.GroupingSpec(name=name or _default_name(base, budget), input=inp, tasks=tasks,
                           networks=networks, budget=limits)
    return validate(spec)


def _from_base(
    base: ir.AnySpec | None, table: CandidateTable
) -> tuple[tuple[ir.Task, ...], str, dict, ir.TensorInput]:
    if base is None:
        tasks = tuple(ir.Task(name=t, head=DEFAULT_HEAD) for t in table.tasks)
        return tasks, DEFAULT_BACKBONE, {}, DEFAULT_INPUT
    if isinstance(base, ir.GroupingSpec):
        first = base.networks[0] if base.networks else None
        backbone = first.backbone if first else DEFAULT_BACKBONE
        args = dict(first.args) if first else {}
    elif isinstance(base, ir.TreeSpec):
        backbone, args = base.backbone.ref, dict(base.backbone.args)
    else:
        raise MtlspecError(f"the base spec `{base.name}` is a DAG spec, which has no backbone "
                           "for the networks; use a grouping or model spec")
    names = [t.name for t in base.tasks]
    for task in table.tasks:
        if task not in names:
            close = difflib.get_close_matches(task, names, n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise MtlspecError(f"{table.source}: unknown task column `{task}`: the base spec "
                               f"`{base.name}` declares {', '.join(names)}{hint}")
    missing = [t for t in names if t not in table.tasks]
    if missing:
        raise MtlspecError(f"{table.source}: the table has no column for task `{missing[0]}` "
                           f"of the base spec `{base.name}`")
    return base.tasks, backbone, args, base.input


def _letters(i: int) -> str:
    """A, B, …, Z, AA, AB, … (spreadsheet column names)."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = string.ascii_uppercase[r] + out
    return out


def _default_name(base: ir.AnySpec | None, budget: float | None) -> str:
    if base is not None:
        return base.name
    if budget is None:
        return "grouping"
    return "grouping_" + re.sub(r"[^A-Za-z0-9]", "_", f"{budget:g}")
