"""Does a spec fit a data set? Task names, head kinds and output sizes, input channels.

Every problem is a `SpecError` located at the spec text that causes it (the task name, the
head call, its `classes=` / `out=` argument, the input), all reported at once, before anything
is compiled:

    specs/x.mtl:9:15: error: task segment is a segmentation task (one prediction per pixel)
    but head `linear` pools the feature map to one vector per image
        segment: head linear(classes=13)
                      ^~~~~~~~~~~~~~~~~~
    hint: use a dense head: conv(classes=13) or aspp(classes=13)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mtlspec.data.tasks import CLASS_KINDS, TaskInfo
from mtlspec.errors import SpecError, raise_all
from mtlspec.spec.validate import locate

DENSE_HEADS = frozenset({"conv", "aspp"})  # keep the spatial map, upsampled to the input
POOLED_HEADS = frozenset({"linear", "mlp"})  # global average pool first


def check_spec(doc: Any, tasks: Mapping[str, TaskInfo], *, data_name: str = "the data",
               input_shape: tuple[int, ...] | None = None) -> None:
    """Check a (validated) spec against a data set's tasks and input.

    Args:
        doc: a `Document` (`mtlspec.spec.load`) for located errors, or a bare spec.
        tasks: the data set's task declarations.
        data_name: shown in messages (`nyuv2:/data/nyu`).
        input_shape: the data's (C, H, W); only the channel count must match the spec's (the
            data's H x W is used for training when they differ).

    Raises:
        SpecError, SpecErrors: one error per problem.

    Example:
        >>> from mtlspec.spec import parse
        >>> from mtlspec.data.tasks import declare
        >>> spec = parse('''model m {
        ...   input image: float[1, 3, 32, 32]
        ...   backbone convnet(depth=2) { blocks: auto(2) }
        ...   tasks { seg: head linear(classes=5) }
        ...   layout [ {seg}
        ...            {seg} ]
        ... }''')
        >>> try:
        ...     check_spec(spec, {"seg": declare("seg", "segmentation", classes=5)})
        ... except SpecError as err:
        ...     print(err.message[:53])
        task seg is a segmentation task (one prediction per p
    """
    spec = getattr(doc, "spec", doc)
    spans = getattr(doc, "spans", {})
    errors = []

    def error(path: tuple, message: str, hint: str | None = None) -> None:
        errors.append(SpecError(message, locate(path, spans), hint,
                                filename=getattr(doc, "filename", None) or f"<{spec.name}>",
                                source=getattr(doc, "source", None)))

    for i, task in enumerate(spec.tasks):
        info = tasks.get(task.name)
        if info is None:
            error(("tasks", i, "name"), f"task {task.name} is not in data set {data_name}",
                  f"its tasks: {', '.join(tasks)}")
            continue
        _check_head(task.head, info, ("tasks", i, "head"), error)
    if input_shape is not None:
        channels = spec.input.shape[1]
        if channels != input_shape[0]:
            error(("input",), f"the input has {channels} channel(s) but data set {data_name} "
                  f"has {input_shape[0]}",
                  f"write `input {spec.input.name}: {spec.input.dtype}[1, {input_shape[0]}, "
                  f"{input_shape[1]}, {input_shape[2]}]`")
    raise_all(errors)


def check_task_names(doc: Any, offered: Sequence[str], data_name: str) -> None:
    """Check only that every task of the spec is one of `offered` (before loading the data).

    Raises:
        SpecError, SpecErrors: one error per unknown task, at its name.
    """
    spec = getattr(doc, "spec", doc)
    spans = getattr(doc, "spans", {})
    raise_all(SpecError(f"task {task.name} is not in data set {data_name}",
                        locate(("tasks", i, "name"), spans),
                        f"its tasks: {', '.join(offered)}",
                        filename=getattr(doc, "filename", None) or f"<{spec.name}>",
                        source=getattr(doc, "source", None))
              for i, task in enumerate(spec.tasks) if task.name not in offered)


def _suggest(info: TaskInfo, heads: tuple[str, ...]) -> str:
    key = "classes" if info.kind in CLASS_KINDS else "out"
    return " or ".join(f"{h}({key}={info.outputs})" for h in heads)


def _check_head(head: Any, info: TaskInfo, path: tuple, error: Any) -> None:
    if info.dense and head.name in POOLED_HEADS:
        error(path, f"task {info.name} is a {info.kind} task (one prediction per pixel) but "
              f"head `{head.name}` pools the feature map to one vector per image",
              f"use a dense head: {_suggest(info, ('conv', 'aspp'))}")
        return
    if not info.dense and head.name in DENSE_HEADS:
        error(path, f"task {info.name} is a {info.kind} task (one prediction per image) but "
              f"head `{head.name}` predicts per pixel",
              f"use a pooled head: {_suggest(info, ('linear', 'mlp'))}")
        return
    key = "classes" if "classes" in head.args else "out"
    given = head.args.get(key)
    if given is not None and given != info.outputs:
        what = {"classification": "classes", "segmentation": "classes",
                "multi-label": "labels"}.get(info.kind, "channels")
        want = "classes" if info.kind in CLASS_KINDS else "out"
        error((*path, "args", key), f"task {info.name}: the head outputs {given} but data set "
              f"task {info.name} ({info.kind}) has {info.outputs} {what}",
              f"write {want}={info.outputs}")
