"""Options several commands share, defined once: same name, same parsing, same help.

Imported by every command module, so it stays light (click only; parsers from `mtlspec.spec`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from mtlspec.errors import MtlspecError
from mtlspec.spec.numbers import parse_count

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

allow_import_option: Decorator = click.option(
    "--allow-import", is_flag=True,
    help="Allow a 'pkg.module:callable' backbone (imports and runs that code).")


def json_option(what: str = "the report") -> Decorator:
    """`--json` (parameter `as_json`): print `what` as JSON instead of tables."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what} as JSON.")


def device_option(help: str) -> Decorator:
    """`--device DEVICE`: a torch device name (checked where the model is moved)."""
    return click.option("--device", default=None, metavar="DEVICE", help=help)


def data_option(name: str = "data") -> Decorator:
    """`--data NAME` (parameter `name`): a registered data set, multidigits by default."""
    return click.option("--data", name, default="multidigits", show_default=True,
                        help="Data set name (`mtlspec.train.data.list_datasets()`).")


def parse_key_values(pairs: tuple[str, ...], flag: str) -> dict[str, str]:
    """`("alpha=0.5", "rep_grad = true")` → {"alpha": "0.5", "rep_grad": "true"}: the raw
    text of a repeatable KEY=VALUE option (the reader converts each value to its type).

    Raises:
        MtlspecError: an item is not KEY=VALUE (the message names `flag`).

    Example:
        >>> parse_key_values(("alpha=0.5", "rep_grad = true"), "--weighting-option")
        {'alpha': '0.5', 'rep_grad': 'true'}
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = (part.strip() for part in pair.partition("="))
        if not eq or not key:
            raise MtlspecError(f"{flag} takes KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def parse_data_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`("overlap=2", "val_size=500")` → {"overlap": 2, "val_size": 500} (ints, floats, text).

    Raises:
        MtlspecError: an item is not KEY=VALUE.

    Example:
        >>> parse_data_options(("overlap=2", "name = x", "ratio=0.5"))
        {'overlap': 2, 'name': 'x', 'ratio': 0.5}
    """
    out: dict[str, Any] = {}
    for key, value in parse_key_values(pairs, "--data-option").items():
        out[key] = value
        for kind in (int, float):
            try:
                out[key] = kind(value)
                break
            except ValueError:
                pass
    return out


def data_options_option(example: str = "train_size=2000") -> Decorator:
    """`--data-option KEY=VALUE` (repeatable; parameter `data_options`, the raw pairs for
    `parse_data_options`, parsed where the command reads its data)."""
    return click.option("--data-option", "data_options", multiple=True, metavar="KEY=VALUE",
                        help=f"Data set argument, e.g. {example} (repeatable).")


def count_option(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """Click callback: a count with a K/M/G suffix (`60M`), as in spec text.

    Example:
        >>> count_option(None, None, "1.5K")
        1500
    """
    if value is None:
        return None
    try:
        return parse_count(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None
