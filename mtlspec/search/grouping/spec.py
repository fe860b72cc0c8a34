"""A task-grouping selection as a grouping spec, ready to validate, format, compile and export."""

from __future__ import annotations

import difflib
import inspect
import re
import string
from typing import Any

from mtlspec.errors import MtlspecError
from mtlspec.search.grouping.candidates import CandidateTable
from mtlspec.search.grouping.selection import Selection
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
    `width` is the candidate's width (a half-size network gets 0.5), times the base's own
    scale when a tree base is written `convnet(width=W)` (see `base_backbone`).

    Args:
        selection: from `select`.
        table: the table the selection was reported on (for its tasks and cost unit).
        base: a spec supplying the input, the task heads (in its order) and the backbone (a
            grouping spec's first network, or a tree spec's backbone). Without one: a
            256×256 image, `torchvision.resnet18`, and `conv(out=1)` heads.
        name: the spec's name; default the base spec's name, else `grouping_<budget>`.
        budget: written as `budget { units <= B }` (or `gmacs <= B` for GMACs tables).

    Returns:
        The validated spec.

    Raises:
        MtlspecError: the base spec is a DAG, or its tasks differ from the table's.

    Example:
        >>> from mtlspec.search.grouping.selection import select
        >>> from mtlspec.search.grouping.table import load_table
        >>> from mtlspec.spec import load
        >>> table = load_table("standley:setting1")
        >>> base = load("specs/taskonomy_grouping_2_5.mtl").spec
        >>> spec = to_spec(select(table, 2.5), table, base=base)
        >>> [(n.name, n.width) for n in spec.networks]
        [('A', 1.0), ('B', 1.0), ('C', 0.5)]
    """
    tasks, backbone, args, inp, scale = _from_base(base, table)
    order = {t.name: i for i, t in enumerate(tasks)}
    choices = sorted(selection.choices, key=lambda c: (
        -c.candidate.width, sorted(order[t] for t in c.candidate.loss), c.candidate.name))
    networks = tuple(
        ir.Network(name=_letters(i), backbone=backbone, args=args,
                   width=c.candidate.width * scale,
                   trains=frozenset(c.candidate.loss), serves=frozenset(c.serves))
        for i, c in enumerate(choices))
    limits = None
    if budget is not None:
        key = "units" if table.cost_unit == "units" else "gmacs"
        limits = ir.Budget(**{key: float(budget)})
    spec = ir.GroupingSpec(name=name or _default_name(base, budget), input=inp, tasks=tasks,
                           networks=networks, budget=limits)
    return validate(spec)


def _from_base(
    base: ir.AnySpec | None, table: CandidateTable
) -> tuple[tuple[ir.Task, ...], str, dict, ir.TensorInput, float]:
    if base is None:
        tasks = tuple(ir.Task(name=t, head=DEFAULT_HEAD) for t in table.tasks)
        return tasks, DEFAULT_BACKBONE, {}, DEFAULT_INPUT, 1.0
    if base.kind not in _BACKBONE_OF:
        raise MtlspecError(f"the base spec `{base.name}` is a DAG spec, which has no backbone "
                           "for the networks; use a grouping or model spec")
    backbone, args, scale = base_backbone(base)
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
    return base.tasks, backbone, args, base.input, scale


def base_backbone(base: ir.AnySpec) -> tuple[str, dict[str, Any], float]:
    """The base's backbone, its arguments, and the network width that equals the base's size.

    A grouping network's `width` scales the backbone as registered, and its arguments may not
    hold `width` (that is the network's field). A tree base written `convnet(width=16)` is
    therefore planned as `convnet` at network width 16/32 (the convnet's default is 32), so
    every planned network is the base's backbone scaled by the plan's width (1 or 0.5).

    Raises:
        MtlspecError: a DAG base (its central network is no backbone).

    Example:
        >>> from mtlspec.spec import load
        >>> base_backbone(load("specs/conal_multidigits.mtl").spec)
        ('convnet', {'depth': 5, 'in_channels': 1}, 1.0)
    """
    backbone_of = _BACKBONE_OF.get(base.kind)
    if backbone_of is None:
        raise MtlspecError(f"{base.name}: a grouping needs a tree or grouping spec as its base "
                           "(for its input, task heads and backbone); a DAG spec has no "
                           "backbone")
    return backbone_of(base)


def _tree_backbone(base: ir.TreeSpec) -> tuple[str, dict[str, Any], float]:
    ref, args, scale = base.backbone.ref, dict(base.backbone.args), 1.0
    if ref == "convnet" and "width" in args:
        from mtlspec.backbone.convnet import ConvNet  # torch: only for this backbone

        default = inspect.signature(ConvNet).parameters["width"].default
        scale = float(args.pop("width")) / default
    return ref, args, scale


def _grouping_backbone(base: ir.GroupingSpec) -> tuple[str, dict[str, Any], float]:
    if not base.networks:
        return DEFAULT_BACKBONE, {}, 1.0
    first = base.networks[0]
    return first.backbone, dict(first.args), first.width


# Spec kind → where its backbone comes from (a DAG has none).
_BACKBONE_OF = {"model": _tree_backbone, "grouping": _grouping_backbone}


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
