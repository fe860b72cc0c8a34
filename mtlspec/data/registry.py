"""`load_data`: the one function every training entry calls to turn `--data` into splits.

`--data` takes
    multidigits, scenes          data sets generated here (no download)
    nyuv2:DIR, cityscapes:DIR    MTAN/LibMTL's preprocessed .npy folders
    celeba:DIR                   CelebA's aligned images and attribute lists
    pkg.module:callable          your own (imported only with allow_import), returning
                                 `DataSplits` (see `mtlspec.data.protocol`)
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from torch.utils.data import Subset

from mtlspec import usercode
from mtlspec.data.protocol import DataSplits, MultiTaskDataset
from mtlspec.errors import MtlspecError
from mtlspec.registry import registers_into

DatasetBuilder = Callable[..., DataSplits]
# Shipped data sets, imported on first use (module defining them with `register_dataset`).
_BUILTIN_MODULES = ("mtlspec.data.multidigits", "mtlspec.data.scenes", "mtlspec.data.mtan",
                    "mtlspec.data.celeba")
_SIZE_KEYS = ("train_size", "val_size", "test_size")


@dataclass(frozen=True)
class DatasetDef:
    """A registered data set: its builder, task names, and whether it reads a folder."""

    name: str
    builder: DatasetBuilder
    tasks: tuple[str, ...]
    folder: bool
    description: str
    layout: str  # for folder data sets: the expected files, quoted in errors


_DATASETS: dict[str, DatasetDef] = {}
_loaded = False


_register = registers_into(_DATASETS, "data set",
                           lambda name, builder, **details: DatasetDef(name, builder, **details))


def register_dataset(name: str, *, tasks: Sequence[str] = (), folder: bool = False,
                     description: str = "", layout: str = "") -> Callable[[DatasetBuilder],
                                                                          DatasetBuilder]:
    """Decorator: register `f(*, tasks, seed, **opts)` (or `f(path, *, ...)` when `folder`).

    Raises:
        ValueError: (when decorating) the name is already registered.
    """
    _builtins()  # built-in names first, so a user's duplicate is the one rejected
    return _register(name, tasks=tuple(tasks), folder=folder, description=description,
                     layout=layout)


def _builtins() -> dict[str, DatasetDef]:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)
    return _DATASETS


def list_datasets() -> list[str]:
    """Registered names (folder data sets are written `name:DIR`)."""
    return sorted(_builtins())


def dataset_def(name: str) -> DatasetDef:
    """The registered data set `name` (without any `:DIR`).

    Raises:
        MtlspecError: unknown data set.
    """
    found = _builtins().get(name)
    if found is None:
        shown = [f"{d.name}:DIR" if d.folder else d.name for d in _DATASETS.values()]
        raise MtlspecError(f"unknown data set {name!r}; available: {', '.join(sorted(shown))}, "
                           "or 'pkg.module:callable' with --allow-import")
    return found


def dataset_tasks(name: str) -> tuple[str, ...]:
    """The tasks a registered data set offers (a spec's task names must be among them).

    Example:
        >>> dataset_tasks("multidigits")[:3]
        ('left', 'right', 'parity')
    """
    return dataset_def(name.split(":", 1)[0]).tasks


def parse_ref(ref: str) -> tuple[str, str | None]:
    """`nyuv2:/data/nyu` → ("nyuv2", "/data/nyu"); `scenes` → ("scenes", None); a user's
    `pkg.mod:fn` → ("pkg.mod:fn", None).

    Example:
        >>> parse_ref("cityscapes:data/city")
        ('cityscapes', 'data/city')
    """
    head, sep, rest = ref.partition(":")
    if sep and head in _builtins():
        return head, rest
    return ref, None


def load_data(
    ref: str = "multidigits",
    *,
    tasks: Sequence[str] | None = None,
    seed: int = 0,
    train_size: int | None = None,
    val_size: int | None = None,
    test_size: int | None = None,
    allow_import: bool = False,
    augment: bool | Any = False,
    **options: Any,
) -> DataSplits:
    """Build the splits `ref` names (what `--data` takes).

    Args:
        ref: `multidigits`, `scenes`, `nyuv2:DIR`, `cityscapes:DIR`, `celeba:DIR` or a user's
            `pkg.module:callable`.
        tasks: the tasks to keep, in this order (None: all, or the data set's default).
        seed: seeds generation, splits and anything random in building the data.
        train_size, val_size, test_size: item counts (generated data sets make that many;
            folder data sets keep the first ones).
        allow_import: allow importing a user's `pkg.module:callable`.
        augment: True for `DenseAugment()` on training items, or an augmentation object.
        **options: data-set specific options (`mtlspec datasets` lists them).

    Returns:
        The splits and a `TaskInfo` per kept task.

    Raises:
        MtlspecError: unknown data set or task, a bad option, a missing or malformed folder,
            a user callable without `allow_import` or returning something else.

    Example:
        >>> data = load_data("multidigits", tasks=["left", "parity"], train_size=100)
        >>> x, y = data.train[0]
        >>> tuple(x.shape), sorted(y)
        ((1, 8, 16), ['left', 'parity'])
    """
    sizes = {k: v for k, v in zip(_SIZE_KEYS, (train_size, val_size, test_size), strict=True)
             if v is not None}
    for key, value in sizes.items():
        if value < 1:
            raise MtlspecError(f"{key} must be at least 1, got {value}")
    name, path = parse_ref(ref)
    if name not in _DATASETS and ":" not in ref:
        dataset_def(name)  # an unknown name: raises, listing the known ones
    if name in _DATASETS:
        entry = _DATASETS[name]
        if entry.folder and not path:
            raise MtlspecError(f"data set {name} reads a folder: write --data {name}:DIR "
                               f"(expected layout: {entry.layout})")
        if path is not None and not entry.folder:
            raise MtlspecError(f"data set {name} is generated here and reads no folder; write "
                               f"--data {name}")
        args = (path,) if entry.folder else ()
        data = _call(name, entry.builder, args, tasks, seed, sizes, options)
    else:
        data = _call(ref, _import_user(ref, allow_import), (), tasks, seed, sizes, options)
        data.name = data.name or ref
    data = _finish(data, name if not path else f"{name}:{path}", tasks, sizes)
    if augment:
        from mtlspec.data.augment import DenseAugment

        data.augment = DenseAugment() if augment is True else augment
    return data


def _call(name: str, builder: Callable[..., Any], args: tuple, tasks: Sequence[str] | None,
          seed: int, sizes: dict[str, int], options: dict[str, Any]) -> DataSplits:
    accepted = inspect.signature(builder).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    unknown = sorted(k for k in options if k not in accepted and not takes_any)
    if unknown:
        known = [k for k in accepted if k not in ("tasks", "seed", *_SIZE_KEYS)
                 and accepted[k].kind is accepted[k].KEYWORD_ONLY]
        raise MtlspecError(f"data set {name} has no option {', '.join(unknown)}; its options: "
                           f"{', '.join(known) or 'none'}")
    for key, value in options.items():
        if key in accepted:
            _check_option_type(name, key, value, accepted[key].default)
    kwargs = dict(options)
    for key, value in (("tasks", tasks), ("seed", seed), *sizes.items()):
        if key in accepted or takes_any:
            kwargs[key] = value
    data = builder(*args, **kwargs)
    if not isinstance(data, DataSplits):
        raise MtlspecError(f"data set {name} returned {type(data).__name__}, not "
                           "mtlspec.data.DataSplits(train, val, test, tasks={...})")
    return data


def _check_option_type(name: str, key: str, value: Any, default: Any) -> None:
    """An option's value has the type of the builder's default (an int option gets an
    integer): otherwise the builder would fail deep inside with a TypeError."""
    if default is None or default is inspect.Parameter.empty:
        return
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool) or value in (0, 1), "true or false (1 or 0)"
    elif isinstance(default, int):
        ok, kind = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(default, float):
        ok, kind = isinstance(value, int | float) and not isinstance(value, bool), "a number"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "text"
    else:
        return
    if not ok:
        raise MtlspecError(f"data set {name}: option {key} takes {kind}, got {value!r}")


def _finish(data: DataSplits, name: str, tasks: Sequence[str] | None,
            sizes: dict[str, int]) -> DataSplits:
    """Keep the requested tasks and sizes, then check the first items (unless trusted)."""
    declared = tuple(data.tasks)
    if tasks is not None:
        unknown = [t for t in tasks if t not in data.tasks]
        if unknown:
            raise MtlspecError(f"{name}: unknown task(s) {', '.join(unknown)}; its tasks: "
                               f"{', '.join(data.tasks)}")
        data.tasks = {t: data.tasks[t] for t in tasks}
    for key, split in zip(_SIZE_KEYS, ("train", "val", "test"), strict=True):
        dataset = getattr(data, split)
        if key in sizes and sizes[key] < len(dataset):
            setattr(data, split, dataset.subset(sizes[key])
                    if isinstance(dataset, MultiTaskDataset) else Subset(dataset,
                                                                         range(sizes[key])))
    data.name = data.name or name
    if not data.trusted:
        from mtlspec.data.checks import check_splits

        check_splits(data, declared)
    if data.input_shape is None:
        data.input_shape = tuple(data.train[0][0].shape)
    return data


def _import_user(ref: str, allow_import: bool) -> Callable[..., Any]:
    """The callable a `pkg.module:callable` names (only when the user allowed imports)."""
    fn = usercode.import_object(ref, what="data set", allow=allow_import)
    if not callable(fn):
        raise MtlspecError(f"--data {ref!r}: {ref.partition(':')[2]} is not callable")
    return fn
