"""Command groups shared by several modules: `search`, `import`, and groups with a default command.

`mtlspec recommend --spec ...` runs the recommender while `mtlspec recommend plan ...` writes a
training plan; `DefaultGroup` gives one name both behaviours. Subcommands are added by the
modules that own them (`search.add_command(...)`), so each search lives in its own module.
"""

from __future__ import annotations

import click


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


@click.group("search")
def search() -> None:
    """Architecture searches that end in a spec (CoNAL branch search, DAG topology search)."""


@click.group("import")
def import_() -> None:
    """Other tools' search results → deployable specs."""


COMMANDS = [search, import_]
