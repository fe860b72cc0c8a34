"""Command groups: lazily loaded subcommands, `search`, `import`, and default-command groups.

Subcommands are named here as "module:attribute" and imported on first use (`LazyGroup`), so
`mtlspec validate` does not import the training and search commands, and each command lives in
the module that owns it. `mtlspec recommend --spec ...` runs the recommender while `mtlspec
recommend plan ...` writes a training plan; `DefaultGroup` gives one name both behaviours.
"""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """A group whose subcommands are imported when first asked for.

    Args:
        lazy: subcommand name → "package.module:attribute" of its click command.
    """

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in self.lazy:
            from mtlspec.cli.options import harden  # nan, inf and 10**100 refused everywhere

            module, attribute = self.lazy[name].split(":")
            self.add_command(harden(getattr(importlib.import_module(module), attribute)), name)
        return super().get_command(ctx, name)


class DefaultGroup(click.Group):
    """A group that runs `default` when the first argument names none of its subcommands.

    Example: with `default="recommend"`, `mtlspec recommend --top 3` runs the `recommend`
    subcommand while `mtlspec recommend plan -o plan/` runs `plan`.
    """

    def __init__(self, *args, default: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.default = default

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = [self.default, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.commands[self.default].format_usage(ctx, formatter)


@click.group("search", cls=LazyGroup, lazy={
    "conal": "mtlspec.cli.conal:search_conal_command",
    "dag": "mtlspec.cli.dag_search:search_dag_command",
})
def search() -> None:
    """Architecture searches that end in a spec (CoNAL branch search, DAG topology search)."""


@click.group("import", cls=LazyGroup, lazy={
    "conal": "mtlspec.cli.conal:import_conal_command",
    "treemtl": "mtlspec.cli.recommend:import_treemtl_command",
})
def import_() -> None:
    """Other tools' search results → deployable specs."""

