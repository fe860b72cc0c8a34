"""`--data` for every command that trains or plans: the options and the one resolver.

`train`, `run`, `search conal`, `search dag`, `recommend plan` and `group plan` all take
`--data REF` (a shipped name, `NAME:DIR`, or a user's `pkg.module:callable` with
`--allow-import`) and repeatable `--data-option KEY=VALUE`. `resolve_data` checks the
reference and the spec's task names before anything is trained (a located error at the task's
name, exit 2) and returns what a training is rebuilt from: the reference and plain options,
never a data object (a plan's workers rebuild the data set from them).

torch is imported only when a shipped data set's tasks are looked up (`mtlspec.data.registry`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click

from mtlspec.cli.options import parse_data_options
from mtlspec.errors import MtlspecError

DATA_HELP = ("multidigits, scenes, nyuv2:DIR, cityscapes:DIR, celeba:DIR or pkg.module:callable "
             "(with --allow-import).")


def data_source_options(example: str = "train_size=2000", name: str = "data",
                        default: str | None = "multidigits"
                        ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--data REF` (parameter `name`; `default` None: optional, as for the plan writers) and
    `--data-option KEY=VALUE` (parameter `data_options`, repeatable)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option("--data-option", "data_options", multiple=True,
                               metavar="KEY=VALUE",
                               help=f"Data set argument, e.g. {example} (repeatable).")(command)
        return click.option("--data", name, default=default, show_default=default is not None,
                            help=DATA_HELP)(command)

    return decorate


@dataclass(frozen=True)
class DataChoice:
    """A checked `--data`: the reference and its options (plain data, picklable)."""

    ref: str
    options: dict[str, Any] = field(default_factory=dict)

    def flags(self) -> str:
        """The same choice as command-line flags (for the next command a plan writer prints).

        Example:
            >>> DataChoice("scenes", {"size": 32}).flags()
            '--data scenes --data-option size=32'
        """
        import shlex

        parts = ["--data", shlex.quote(self.ref)]
        for key, value in self.options.items():
            parts += ["--data-option", shlex.quote(f"{key}={value}")]
        return " ".join(parts)


def resolve_data(data: str, data_options: tuple[str, ...] = (), spec: Any = None,
                 **sizes: int | None) -> DataChoice:
    """Check `--data` (and, given a spec, its task names) before anything trains.

    Args:
        data: the `--data` reference.
        data_options: the raw `--data-option` pairs.
        spec: a `Document` (located errors) or a bare spec whose task names must be tasks of a
            shipped data set (a user's callable is checked when it is built).
        **sizes: `train_size=...` and the like from dedicated flags (None: not given); they
            override the same key in `data_options`.

    Raises:
        MtlspecError: an unknown data set, a folder data set without `:DIR`, a generated one
            with a folder, a bad option; SpecError(s) at unknown task names.

    Example:
        >>> resolve_data("scenes", ("size=32",), train_size=8)
        DataChoice(ref='scenes', options={'size': 32, 'train_size': 8})
    """
    options = parse_data_options(data_options)
    options.update({k: v for k, v in sizes.items() if v is not None})
    head, sep, path = data.partition(":")
    from mtlspec.data.catalog import SHIPPED

    shipped = SHIPPED.get(head)
    if shipped is None and not sep:
        from mtlspec.data.registry import dataset_def

        shipped = dataset_def(head)  # a registered name, or an error listing the known ones
    if shipped is not None:
        if shipped.folder and not path:
            raise MtlspecError(f"data set {head} reads a folder: write --data {head}:DIR "
                               f"(expected layout: {shipped.layout})")
        if sep and not shipped.folder:
            raise MtlspecError(f"data set {head} is generated here and reads no folder; write "
                               f"--data {head}")
        if spec is not None:
            from mtlspec.data.spec_check import check_task_names

            check_task_names(spec, shipped.tasks, data)
    return DataChoice(data, options)
