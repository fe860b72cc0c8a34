"""TensorBoard event files of a training (`--log-dir`), through torch's `SummaryWriter`.

Per step (x axis: the global step): `loss/<task>`, `loss/total`, `weight/<task>`, `lr`, and
for gradient methods `conflict/cos_mean`, `conflict/cos_min`, `conflict/conflict_share`.
Per epoch (x axis: the epoch): `val/<task>/<metric>` for every metric, `epoch/lr` and
`epoch/train_loss/<task>`. TensorBoard is the optional extra `mtlspec[tensorboard]`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mtlspec.errors import MtlspecError
from mtlspec.train.epochs import StepInfo

TENSORBOARD_HINT = "pip install 'mtlspec[tensorboard]'"


class TensorBoardLog:
    """Writes a run's scalars; pass `on_step` / `on_epoch` to `train`.

    Raises:
        MtlspecError: TensorBoard is not installed.
    """

    def __init__(self, log_dir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise MtlspecError(f"--log-dir needs TensorBoard, an optional extra: "
                               f"{TENSORBOARD_HINT}") from None
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def on_step(self, info: StepInfo) -> None:
        add, step = self.writer.add_scalar, info.step
        for task, value in info.losses.items():
            add(f"loss/{task}", value, step)
            add(f"weight/{task}", info.weights[task], step)
        add("loss/total", sum(info.losses.values()), step)
        add("lr", info.lr, step)
        for key, value in (info.conflict or {}).items():
            add(f"conflict/{key}", value, step)

    def on_epoch(self, row: dict[str, Any]) -> None:
        add, epoch = self.writer.add_scalar, row["epoch"]
        for task, metrics in row["val_metrics"].items():
            for name, value in metrics.items():
                add(f"val/{task}/{name}", value, epoch)
        for task, value in row["train_loss"].items():
            add(f"epoch/train_loss/{task}", value, epoch)
        add("epoch/lr", row["lr"], epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
