"""The recipe options of `mtlspec train` (optimiser, schedule, selection, seeds, precision,
logging, config file) and how a config file and the command line combine.

`resolve` turns click's raw parameters into one dict of parsed values; a `--config` file
fills every option the command line left at its default (click's `ParameterSource` tells
which were given). No torch here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource

from mtlspec.cli.options import parse_data_options, parse_key_values
from mtlspec.errors import MtlspecError

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

# torch-free copies of mtlspec.train.optim.OPTIMIZERS / SCHEDULES and train.amp.AMP_MODES
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")
AMP_MODES = ("bf16", "fp16")
# config keys whose command-line option has another parameter name
_PARAM_OF = {"weights": "task_weights"}

_OPTIONS = [
    click.option("--config", "config", type=click.Path(dir_okay=False, exists=True),
                 help="A TOML (or YAML) file of train options (keys as the options, with "
                      "underscores); options given here override it."),
    click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="adam",
                 show_default=True),
    click.option("--weight-decay", type=click.FloatRange(min=0), default=0.0,
                 show_default=True),
    click.option("--momentum", type=click.FloatRange(0, 1, max_open=True), default=0.9,
                 show_default=True, help="SGD momentum."),
    click.option("--nesterov", is_flag=True, help="Nesterov momentum (SGD)."),
    click.option("--schedule", type=click.Choice(SCHEDULES), default="constant",
                 show_default=True,
                 help="Learning-rate schedule, stepped each epoch: step multiplies by --gamma "
                      "every --step-size epochs; cosine anneals after --warmup-epochs."),
    click.option("--warmup-epochs", type=click.IntRange(min=0), default=0, show_default=True,
                 help="Linear warm-up epochs (cosine)."),
    click.option("--step-size", type=click.IntRange(min=1), default=100, show_default=True,
                 metavar="EPOCHS", help="Epochs between rate drops (step)."),
    click.option("--gamma", type=click.FloatRange(0, 1, min_open=True), default=0.5,
                 show_default=True, help="Rate factor at each drop (step)."),
    click.option("--min-lr", type=click.FloatRange(min=0), default=0.0, show_default=True,
                 help="Final rate of the cosine schedule."),
    click.option("--select", default=None, metavar="delta|mean|TASK.METRIC",
                 help="Validation quantity that picks the best epoch [default: delta with "
                      "--baseline, else the mean of the tasks' main metrics]."),
    click.option("--best-output", type=click.Path(dir_okay=False),
                 help="Write the best epoch's state dict here [default: -o's name with "
                      ".best, e.g. model.best.pt]."),
    click.option("--seeds", metavar="S1,S2,...",
                 help="Train once per seed (in parallel) and report mean ± std."),
    click.option("--parallel", type=click.IntRange(min=1), default=None,
                 help="Seeds trained at once [default: one per CPU, at most the seeds]."),
    click.option("--amp", type=click.Choice(AMP_MODES), default=None,
                 help="Mixed precision forward passes (bf16 on CPU or GPU; fp16 with a grad "
                      "scaler on GPU)."),
    click.option("--log-dir", type=click.Path(file_okay=False),
                 help="Write TensorBoard event files here (needs mtlspec[tensorboard])."),
]


def recipe_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the recipe options to a command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def parse_seeds(text: str) -> list[int]:
    """`0,1,2` → [0, 1, 2].

    Example:
        >>> parse_seeds("0, 1,2")
        [0, 1, 2]
    """
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise MtlspecError(f"--seeds takes integers separated by commas, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise MtlspecError(f"--seeds needs distinct integers, e.g. 0,1,2; got {text!r}")
    return seeds


def resolve(ctx: click.Context, params: dict[str, Any],
            parse_weights: Callable[[str], dict[str, float]],
            weightings: tuple[str, ...]) -> dict[str, Any]:
    """The run's options: command line over config file over defaults, parsed.

    `weighting_options`, `data_options` become dicts, `task_weights` becomes `weights`
    ({task: weight} or None), `seeds` a list (None: one run with `seed`), `baseline` a list.

    Raises:
        MtlspecError: a bad config file (located), a bad value.
    """
    out = dict(params)
    out["weighting_options"] = parse_key_values(params["weighting_options"],
                                                "--weighting-option")
    out["data_options"] = parse_data_options(params["data_options"])
    task_weights = out.pop("task_weights")
    out["weights"] = parse_weights(task_weights) if task_weights is not None else None
    out["seeds"] = parse_seeds(params["seeds"]) if params["seeds"] else None
    out["baseline"] = list(params["baseline"])
    if params.get("config"):
        from mtlspec.train.config import load_config

        for key, value in load_config(params["config"]).items():
            source = ctx.get_parameter_source(_PARAM_OF.get(key, key))
            if source in (None, ParameterSource.DEFAULT):
                out[key] = value
    if out["weighting"] not in weightings:
        raise MtlspecError(f"unknown weighting {out['weighting']!r}; `mtlspec weightings` "
                           "lists them")
    return out
