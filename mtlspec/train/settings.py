"""What a training is set to (`RunSettings`: the data set and the schedule) and `fit`, which
trains one model with them.

Every caller that trains takes one `RunSettings`: `mtlspec train`, the plan runner (where the
settings also decide whether a stored result can be reused), CoNAL's retraining and the DAG
search's fine-tuning. How the run is watched or saved (checkpoint, progress, device) stays a
keyword of `fit`, as it does not change the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from mtlspec.data.protocol import DataSplits
from mtlspec.data.registry import load_data
from mtlspec.train.loop import TrainResult, train
from mtlspec.train.weighting import Weighting


@dataclass(frozen=True)
class RunSettings:
    """The data set and schedule of a training; equal settings give equal results.

    Attributes:
        data: the `--data` reference (`mtlspec.data.load_data`: a shipped name, `NAME:DIR`
            or a user's `pkg.module:callable`).
        data_options: extra `load_data` arguments (e.g. {"train_size": 300}).
        epochs, batch_size, lr, seed: the schedule (Adam, constant rate); `seed` also seeds
            the data splits and order.
        weighting: the loss weighting's name (`mtlspec.train.weighting.make_weighting`).
        augment: random scale-crop and flip of training images and dense targets.
        drop_last: skip each epoch's last, smaller batch.

    Example:
        >>> RunSettings(epochs=2, data_options={"train_size": 300}).as_dict()["data_options"]
        {'train_size': 300}
    """

    data: str = "multidigits"
    data_options: Mapping[str, Any] = field(default_factory=dict)
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    weighting: str = "uniform"
    augment: bool = False
    drop_last: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON data (what a plan's result file records); `augment` and
        `drop_last` only when set, so results recorded before they existed still match."""
        out = asdict(self)
        out["data_options"] = dict(sorted(self.data_options.items()))
        for key in ("augment", "drop_last"):
            if not out[key]:
                del out[key]
        return out

    def load_data(self, tasks: Sequence[str] | None = None, *,
                  allow_import: bool = False) -> DataSplits:
        """The data set's splits for `tasks`, drawn with the settings' seed and options.

        Args:
            tasks: the tasks to keep (None: the data set's own).
            allow_import: the user allowed importing a `pkg.module:callable` data set.

        Raises:
            MtlspecError: unknown data set, a task it does not have, or bad data.
        """
        return load_data(self.data, tasks=tasks, seed=self.seed, allow_import=allow_import,
                         augment=self.augment, **self.data_options)


def fit(model: nn.Module, data: DataSplits, settings: RunSettings, *,
        weighting: Weighting | None = None, **loop: Any) -> TrainResult:
    """Train `model` on `data` with the settings' schedule (`mtlspec.train.loop.train`).

    Args:
        model: a compiled spec (`mtlspec.load_model`) or any multi-task module.
        data: the splits (e.g. `settings.load_data(tasks)`).
        settings: epochs, batch size, learning rate, seed and weighting.
        weighting: a configured `Weighting` to use instead of `settings.weighting` (e.g.
            fixed weights or an MGDA normalisation).
        **loop: how the run is watched or saved: `checkpoint`, `resume`, `progress`,
            `on_step`, `on_epoch`, `max_steps`, `checkpoint_every`, `device`, `workers`;
            and the recipe `train` takes beyond the settings: `optim` (an `OptimSettings`,
            whose rate then wins over `settings.lr`), `select`, `baseline`, `amp`.

    Returns:
        The `TrainResult`.

    Raises:
        MtlspecError: see `train`.

    Example:
        >>> from mtlspec import load_model
        >>> settings = RunSettings(epochs=1, batch_size=32,
        ...                        data_options={"train_size": 64, "val_size": 32,
        ...                                      "test_size": 32})
        >>> model = load_model("specs/conal_multidigits.mtl", seed=settings.seed)
        >>> result = fit(model, settings.load_data(model.task_names), settings)
        >>> result.steps, sorted(result.metrics)
        (2, ['left', 'parity', 'right'])
    """
    chosen = weighting if weighting is not None else settings.weighting
    return train(model, data, weighting=chosen, epochs=settings.epochs,
                 batch_size=settings.batch_size, lr=settings.lr, seed=settings.seed,
                 drop_last=settings.drop_last, **loop)
