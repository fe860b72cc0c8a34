"""Moved to `mtlspec.data` (the data layer); these names stay importable from here.

`mtlspec.data.registry.load_data` builds every data set (`--data`), `mtlspec.data.multidigits`
holds MultiDigits.
"""

from mtlspec.data.multidigits import (
    MULTIDIGITS_DEFAULT,
    MULTIDIGITS_TASKS,
    MultiDigits,
    compose_pair,
    multidigits,
)
from mtlspec.data.protocol import DataSplits, MultiTaskDataset
from mtlspec.data.registry import (
    DatasetBuilder,
    dataset_tasks,
    list_datasets,
    load_data,
    register_dataset,
)
from mtlspec.data.tasks import TaskInfo

__all__ = [
    "MULTIDIGITS_DEFAULT", "MULTIDIGITS_TASKS", "DataSplits", "DatasetBuilder", "MultiDigits",
    "MultiTaskDataset", "TaskInfo", "compose_pair", "dataset_tasks", "list_datasets",
    "load_data", "multidigits", "register_dataset",
]
