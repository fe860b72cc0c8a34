"""Options several commands share, defined once: same name, same parsing, same help.

Imported by every command module, so it stays light: click only (`mtlspec.spec`, which
loads the IR, is imported where a value is parsed).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from mtlspec.errors import MtlspecError

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

allow_import_option: Decorator = click.option(
    "--allow-import", is_flag=True,
    help="Allow a 'pkg.module:callable' backbone or data set (imports and runs that "
    "code).")


def json_option(what: str = "the report") -> Decorator:
    """`--json` (parameter `as_json`): print `what` as JSON instead of tables."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what} as JSON.")


def device_option(help: str) -> Decorator:
    """`--device DEVICE`: a torch device name (checked where the model is moved)."""
    return click.option("--device", default=None, metavar="DEVICE", help=help)


def search_weighting_options(names: tuple[str, ...], help: str) -> Decorator:
    """`--weighting NAME` (default None: the plain sum of the losses) and its repeatable
    `--weighting-option KEY=VALUE`, as the searches take them (`search conal`, `search dag`)."""
    weighting = click.option("--weighting", type=click.Choice(names), default=None, help=help)
    option = click.option("--weighting-option", "weighting_options", multiple=True,
                          metavar="KEY=VALUE", help="An option of --weighting (repeatable).")
    return lambda command: weighting(option(command))


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
            except (ValueError, OverflowError):
                pass
        if isinstance(out[key], float) and not math.isfinite(out[key]):
            raise MtlspecError(f"--data-option {key}={value}: not a finite number")
    return out


def check_data_memory(spec: Any, options: dict[str, Any]) -> None:
    """Refuse item counts (`train_size`, `val_size`, `test_size`) whose items, at the spec
    input's size in float32, would not fit (`mtlspec.limits`)."""
    from mtlspec.limits import check_memory

    items = sum(v for k, v in options.items() if k.endswith("_size") and isinstance(v, int)
                and not isinstance(v, bool) and k != "size")
    item = math.prod(spec.input.shape[1:])
    check_memory(items * item * 4, f"{items:,} data items of {item:,} values")


def count_option(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """Click callback: a count with a K/M/G suffix (`60M`), as in spec text.

    Example:
        >>> count_option(None, None, "1.5K")
        1500
    """
    if value is None:
        return None
    from mtlspec.spec.numbers import parse_count  # here: `mtlspec.spec` loads the whole IR

    try:
        count = parse_count(value)
    except (ValueError, ArithmeticError) as err:
        raise click.BadParameter(str(err)) from None
    if count > MAX_INT:
        raise click.BadParameter(f"{value!r} is larger than {MAX_INT}")
    return count


# ---------------------------------------------------------------------- number types
MAX_INT = 2**63 - 1  # what torch, numpy and the OS take; larger is a typo, never a request
MAX_SEED = 2**32 - 1  # numpy's seeds


class _Checked:
    """Mixin for click's number types: `check` runs on every converted value."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        out = super().convert(value, param, ctx)  # type: ignore[misc]
        problem = self.check(out)
        if problem:
            self.fail(f"{value!r}: {problem}", param, ctx)  # type: ignore[attr-defined]
        return out

    def check(self, value: Any) -> str | None:
        return None


class FiniteFloat(_Checked, click.FloatRange):
    """A float option that refuses nan and ±inf (and keeps any range it is given).

    Example:
        >>> FiniteFloat(min=0).convert("2.5", None, None)
        2.5
    """

    def check(self, value: Any) -> str | None:
        return None if value is None or math.isfinite(value) else "must be a finite number"


class BoundedInt(_Checked, click.IntRange):
    """An int option within ±MAX_INT (and any range it is given)."""

    def check(self, value: Any) -> str | None:
        if value is not None and abs(value) > MAX_INT:
            return f"must be at most {MAX_INT} in size"
        return None


class Seed(BoundedInt):
    """A random seed: 0 to 2**32 − 1 (what numpy, torch and Python all accept).

    Example:
        >>> Seed().convert("7", None, None)
        7
    """

    def __init__(self) -> None:
        super().__init__(min=0, max=MAX_SEED)


class PositiveInt(BoundedInt):
    """An int ≥ 1."""

    def __init__(self) -> None:
        super().__init__(min=1)


def harden(command: click.Command) -> click.Command:
    """Give every number option of `command` (and its subcommands) the checked types above:
    floats refuse nan/inf, ints are bounded, `--seed` is a seed. Click's own FLOAT and INT
    accept `nan` and 10**100; commands declare them freely and this runs when they load.
    """
    for param in command.params:
        kind = param.type
        if isinstance(kind, _Checked):
            continue
        if param.name in ("seed",) and isinstance(kind, click.types.IntParamType):
            param.type = Seed()
        elif isinstance(kind, click.types.FloatParamType):
            param.type = _retyped(kind, FiniteFloat)
        elif isinstance(kind, click.types.IntParamType):
            param.type = _retyped(kind, BoundedInt)
    for sub in getattr(command, "commands", {}).values():
        harden(sub)
    return command


def _retyped(kind: click.ParamType, checked: type) -> click.ParamType:
    if isinstance(kind, click.types._NumberRangeBase):
        out = checked.__new__(checked)
        out.__dict__.update(kind.__dict__)  # keep the range and how help shows it
        return out
    return checked()


OUTPUT_FORMATS = ("text", "json", "github", "junit")

no_cache_option: Decorator = click.option(
    "--no-cache", is_flag=True,
    help="Compile and cost every spec instead of reading cost reports from the on-disk cache "
    "($MTLSPEC_CACHE_DIR, else ~/.cache/mtlspec); fresh reports are still written to it.")


def output_format_option(json_synonym: bool = True) -> Decorator:
    """`--output-format text|json|github|junit` (parameter `output_format`) and `--output
    FILE` (parameter `output`: the report goes there instead of standard output); with
    `json_synonym`, also `--json` (parameter `as_json`) as a synonym of `--output-format
    json`. `resolve_output_format` combines them."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "--output", "output", type=click.Path(dir_okay=False), default=None,
            metavar="FILE", help="Write the json, github or junit report to FILE (atomically) "
            "instead of standard output.")(command)
        command = click.option(
            "--output-format", "output_format", type=click.Choice(OUTPUT_FORMATS),
            default="text", show_default=True,
            help="text for people; json; github: workflow annotations (::error file=..); "
            "junit: an XML report for CI dashboards.")(command)
        if json_synonym:
            command = click.option("--json", "as_json", is_flag=True,
                                   help="Same as --output-format json.")(command)
        return command

    return decorate


def resolve_output_format(output_format: str, as_json: bool = False,
                          output: str | None = None) -> str:
    """The one format `--output-format`, `--json` and `--output` ask for.

    Raises:
        click.UsageError: `--json` with another format, or `--output` with text.

    Example:
        >>> resolve_output_format("text", as_json=True)
        'json'
    """
    if as_json and output_format not in ("text", "json"):
        raise click.UsageError(f"--json and --output-format {output_format} disagree")
    chosen = "json" if as_json else output_format
    if output is not None and chosen == "text":
        raise click.UsageError("--output needs --output-format json, github or junit")
    return chosen


def emit_report(text: str, output: str | None) -> None:
    """Print a machine report, or write it to `output` atomically."""
    if output is None:
        if text:  # nothing found: no line at all (GitHub reads every line as a command)
            click.echo(text, nl=not text.endswith("\n"))
        return
    from pathlib import Path

    from mtlspec.io import write_atomic  # raises MtlspecError (exit 2) when it cannot write

    folder = Path(output).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MtlspecError(f"cannot create {folder}: {err.strerror or err}") from None
    write_atomic(output, text if text.endswith("\n") else text + "\n")


DEFAULT_THREADS = 1
"""CPU threads of train, build, blocks and cost unless `--threads`, MTLSPEC_THREADS or
OMP_NUM_THREADS say otherwise: their models are mostly small ops at small batches, where more
threads cost CPU time and, on a shared machine, wall time too (bench/overhead.py measures)."""


def threads_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--threads N` (parameter `threads`; also MTLSPEC_THREADS): see `apply_threads`."""
    return click.option(
        "--threads", type=click.IntRange(min=1), default=None, envvar="MTLSPEC_THREADS",
        show_envvar=True, metavar="N",
        help=f"CPU threads for torch and onnxruntime (default {DEFAULT_THREADS}, or "
        "OMP_NUM_THREADS when set; more help big models on an idle machine).")(command)


def apply_threads(threads: int | None) -> int | None:
    """Give torch (and onnxruntime, which follows torch's count) `threads` CPU threads, else
    `DEFAULT_THREADS` unless OMP_NUM_THREADS is set. Before torch is imported only
    OMP_NUM_THREADS is set (torch reads it on import), so a command that never needs torch
    (a cache hit) still does not import it.

    Returns:
        The thread count set, or None when OMP_NUM_THREADS decides.
    """
    if threads is None and os.environ.get("OMP_NUM_THREADS"):
        return None
    count = threads or DEFAULT_THREADS
    torch = sys.modules.get("torch")
    if torch is None:
        os.environ["OMP_NUM_THREADS"] = str(count)
        return count
    torch.set_num_threads(count)
    with contextlib.suppress(RuntimeError):  # only possible before any inter-op work
        torch.set_num_interop_threads(count)
    return count
