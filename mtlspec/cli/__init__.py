"""`mtlspec` command line: a thin layer over the pipeline's public functions.

Exit codes: 0 ok, 1 a check failed (budget, parity), 2 bad input or usage, 3 an internal bug.
User errors are printed compiler-style, never as a Python traceback; set MTLSPEC_DEBUG=1 to
see the traceback of an internal error.

Each command lives in its own module of this package, named below and imported on first use;
modules import their heavy dependencies (torch, onnxruntime) inside the command, so `mtlspec
validate` stays fast.
"""

from __future__ import annotations

import gc
import os
import sys

import click

from mtlspec import __version__
from mtlspec.cli.lazy import LazyGroup
from mtlspec.errors import MtlspecError, strip_native_frames

INTERNAL_ERROR = 3


class _Group(LazyGroup):
    """A click group that turns mtlspec errors into exit codes instead of tracebacks."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        found = super().resolve_command(ctx, args)
        if _gc_paused and not gc.isenabled():  # the command's modules are loaded: see `run`
            gc.freeze()
            gc.enable()
        return found

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MtlspecError as err:
            click.echo(strip_native_frames(err.render()), err=True)
            ctx.exit(err.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except MemoryError:
            click.echo(_OUT_OF_MEMORY, err=True)
            ctx.exit(2)
        except BrokenPipeError:
            # `mtlspec ... | head`: the reader went away; nothing left to say.
            sys.stderr.close()
            ctx.exit(0)
        except Exception as err:
            if _out_of_memory(err):
                click.echo(_OUT_OF_MEMORY, err=True)
                ctx.exit(2)
            if os.environ.get("MTLSPEC_DEBUG"):
                raise
            click.echo(
                f"internal error: {type(err).__name__}: {strip_native_frames(str(err))}\n"
                "this is a bug in mtlspec; run again with MTLSPEC_DEBUG=1 for a traceback",
                err=True,
            )
            ctx.exit(INTERNAL_ERROR)


_OUT_OF_MEMORY = ("error: out of memory: the model, input or data is too large for this "
                  "machine; make it smaller (mtlspec refuses estimates past --max-memory)")


def _out_of_memory(err: Exception) -> bool:
    """torch's allocator failures (CPU `can't allocate memory`, CUDA out of memory)."""
    text = str(err)
    return type(err).__name__ == "OutOfMemoryError" or (
        isinstance(err, RuntimeError) and ("can't allocate memory" in text
                                           or "out of memory" in text.lower()))


def _max_memory(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        from mtlspec.limits import ENV, parse_size

        try:
            parse_size(value)
        except MtlspecError as err:
            raise click.BadParameter(str(err)) from None
        os.environ[ENV] = value  # read by mtlspec.limits, also in worker processes


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="mtlspec")
@click.option("--max-memory", metavar="SIZE", callback=_max_memory, expose_value=False,
              is_eager=True, help="Refuse work estimated to need more memory than SIZE "
              "(16G by default; also $MTLSPEC_MAX_MEMORY).")
def main() -> None:
    """Multi-task learning architectures as declarative specs."""


_gc_paused = False


def run() -> None:
    """The `mtlspec` program (console script, `python -m mtlspec`): `main`, with Python's
    cyclic garbage collector paused until the command's modules are loaded, and its last
    pass at exit skipped. Start-up allocates tens of thousands of long-lived objects
    (modules, classes, grammar tables) in which the collector's passes find nothing to free:
    a quarter of `mtlspec validate`'s CPU time (bench/overhead.py). The command itself runs
    with the collector on, over the objects it makes.
    """
    global _gc_paused
    _gc_paused = True
    gc.disable()
    try:
        main()
    finally:
        gc.freeze()  # what is alive now lives until exit: the exit's collection skips it
        gc.enable()


main.lazy.update({
    "validate": "mtlspec.cli.spec_commands:validate_command",
    "datasets": "mtlspec.cli.datasets:datasets_command",
    "fmt": "mtlspec.cli.spec_commands:fmt_command",
    "schema": "mtlspec.cli.spec_commands:schema_command",
    "blocks": "mtlspec.cli.blocks:blocks",
    "cost": "mtlspec.cli.model_commands:cost_command",
    "check": "mtlspec.cli.check:check_command",
    "diff": "mtlspec.cli.diff:diff_command",
    "build": "mtlspec.cli.model_commands:build_command",
    "draw": "mtlspec.cli.draw:draw_command",
    "train": "mtlspec.cli.train:train_command",
    "weightings": "mtlspec.cli.weightings:weightings_command",
    "enumerate": "mtlspec.cli.recommend:enumerate_command",
    "recommend": "mtlspec.cli.recommend:recommend_group",
    "group": "mtlspec.cli.grouping:group",
    "run": "mtlspec.cli.run:run_command",
    "search": "mtlspec.cli.lazy:search",
    "import": "mtlspec.cli.lazy:import_",
})
