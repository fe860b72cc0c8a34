"""Data: the multi-task data set protocol, the data sets training reads, and the seed papers'
published result tables (`published`). Below train/ and search/ in the layer order.

- `protocol`: items `(x, {task: target}[, {task: missing}])`, `DataSplits`;
- `tasks`: `TaskInfo`, task kinds and `declare`;
- `registry.load_data`: `--data` → splits (multidigits, scenes, nyuv2:DIR, cityscapes:DIR,
  celeba:DIR, pkg.module:callable);
- `serve`: batches through `torch.utils.data.DataLoader`; `augment`: dense augmentation;
- `spec_check`: does a spec fit a data set (task names, head kinds, output sizes).

Importing this package needs no torch; the names below load their module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DataSplits": "mtlspec.data.protocol",
    "MultiTaskDataset": "mtlspec.data.protocol",
    "TaskInfo": "mtlspec.data.tasks",
    "declare": "mtlspec.data.tasks",
    "load_data": "mtlspec.data.registry",
    "list_datasets": "mtlspec.data.registry",
    "dataset_tasks": "mtlspec.data.registry",
    "register_dataset": "mtlspec.data.registry",
    "serve": "mtlspec.data.serve",
    "DenseAugment": "mtlspec.data.augment",
    "check_spec": "mtlspec.data.spec_check",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mtlspec.data' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
