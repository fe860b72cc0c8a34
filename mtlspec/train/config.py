"""A training config file: one TOML (or YAML) file that records a whole `mtlspec train` run.

Keys are the `train` options' names with underscores (`batch_size`, `weight_decay`, ...);
lists and tables where an option repeats or takes KEY=VALUE pairs::

    data = "multidigits"
    epochs = 30
    weighting = "mgda"
    optimizer = "sgd"
    lr = 0.05
    schedule = "cosine"
    warmup_epochs = 2
    seeds = [0, 1, 2]
    [data_options]
    train_size = 2000

Unknown keys and wrong types are errors located `file:line:col` (the key's line) with a hint,
like spec errors. Options given on the command line override the file. No torch here: the
file is read before anything heavy is imported.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mtlspec.errors import MtlspecError, Span, SpecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class TrainConfig(BaseModel):
    """The options of a training run (all optional: unset ones keep the CLI's defaults).

    Example:
        >>> TrainConfig(optimizer="sgd", lr=0.1, seeds=[0, 1]).model_dump(exclude_unset=True)
        {'optimizer': 'sgd', 'lr': 0.1, 'seeds': [0, 1]}
    """

    model_config = ConfigDict(extra="forbid")

    data: str | None = None
    data_options: dict[str, int | float | str | bool] | None = None
    train_size: int | None = Field(default=None, ge=1)
    augment: bool | None = None
    drop_last: bool | None = None
    workers: int | None = Field(default=None, ge=0)
    weighting: str | None = None
    weighting_options: dict[str, int | float | str | bool] | None = None
    weights: dict[str, float] | None = None
    normalization: Literal["none", "l2", "loss", "loss+"] | None = None
    epochs: int | None = Field(default=None, ge=0)
    batch_size: int | None = Field(default=None, ge=1)
    optimizer: Literal["sgd", "adam", "adamw"] | None = None
    lr: float | None = Field(default=None, gt=0)
    weight_decay: float | None = Field(default=None, ge=0)
    momentum: float | None = Field(default=None, ge=0, lt=1)
    nesterov: bool | None = None
    schedule: Literal["constant", "step", "cosine"] | None = None
    warmup_epochs: int | None = Field(default=None, ge=0)
    step_size: int | None = Field(default=None, ge=1)
    gamma: float | None = Field(default=None, gt=0, le=1)
    min_lr: float | None = Field(default=None, ge=0)
    seed: int | None = None
    seeds: list[int] | None = Field(default=None, min_length=1)
    parallel: int | None = Field(default=None, ge=1)
    select: str | None = None
    baseline: list[str] | None = None
    amp: Literal["bf16", "fp16"] | None = None
    log_dir: str | None = None
    device: str | None = None
    checkpoint: str | None = None
    checkpoint_every: int | None = Field(default=None, ge=1)
    max_steps: int | None = Field(default=None, ge=0)
    output: str | None = None
    best_output: str | None = None


def load_config(path: str | Path) -> dict[str, Any]:
    """The options a config file sets ({option: value}, only those written in it).

    Raises:
        MtlspecError: unreadable file, unknown format, or a `SpecError` located at the bad
            key (syntax errors at the parser's line and column).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "run.toml")
        >>> _ = open(path, "w").write('epochs = 3\\nschedule = "cosine"\\n')
        >>> load_config(path)
        {'epochs': 3, 'schedule': 'cosine'}
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise MtlspecError(f"cannot read config {path}: {err}") from None
    suffix = path.suffix.lower()
    if suffix == ".toml":
        raw = _toml(text, str(path))
    elif suffix in (".yaml", ".yml"):
        raw = _yaml(text, str(path))
    else:
        raise MtlspecError(f"config {path}: write a .toml (or .yaml) file")
    if not isinstance(raw, dict):
        raise SpecError("a training config is a table of option = value", Span.point(1, 1),
                        filename=str(path), source=text)
    try:
        config = TrainConfig.model_validate(raw)
    except ValidationError as err:
        raise _located(err, text, str(path)) from None
    return config.model_dump(exclude_unset=True)


def _toml(text: str, filename: str) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(err))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(err)) or "invalid TOML"
        span = Span.point(int(found[1]), int(found[2])) if found else None
        raise SpecError(f"TOML: {message}", span, 'write key = value, strings in quotes',
                        filename=filename, source=text) from None


def _yaml(text: str, filename: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise MtlspecError("YAML configs need PyYAML (pip install pyyaml); or write TOML"
                           ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        span = Span.point(mark.line + 1, mark.column + 1) if mark is not None else None
        raise SpecError(f"YAML: {getattr(err, 'problem', None) or err}", span,
                        filename=filename, source=text) from None


def _located(err: ValidationError, text: str, filename: str) -> SpecError:
    """The first validation problem, at the line where its key is written."""
    problem = err.errors()[0]
    keys = [str(k) for k in problem["loc"]]
    name = ".".join(keys)
    if problem["type"] == "extra_forbidden":
        known = ", ".join(TrainConfig.model_fields)
        message, hint = f"unknown option {name!r}", f"the options are: {known}"
    else:
        message = f"{name}: {problem['msg'].lower()}"
        hint = "see `mtlspec train --help` for what each option takes"
    return SpecError(message, _key_span(text, keys[-1] if keys else ""), hint,
                     filename=filename, source=text)


def _key_span(text: str, key: str) -> Span | None:
    """Where `key` is first written as `key = ...` (TOML) or `key: ...` (YAML)."""
    pattern = re.compile(rf"^(\s*)[\"']?{re.escape(key)}[\"']?\s*[=:]")
    for number, line in enumerate(text.splitlines(), start=1):
        found = pattern.match(line)
        if found:
            column = len(found[1]) + 1
            return Span(number, column, number, column + len(key))
    return None
