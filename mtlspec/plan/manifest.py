"""Training plans: the specs a user must train, and a `manifest.json` that lists them.

A plan folder holds one spec file per entry and `manifest.json` (version 1)::

    {"version": 1, "kind": "pairs" | "grouping", "base": "specs/base.mtl",
     "tasks": ["segment", "normal", "depth"], "blocks": 5,
     "entries": [{"id": "segment", "spec": "segment.mtl", "tasks": ["segment"],
                  "branch_point": 0, "width": 1.0, "gmacs": 11.3, "params": 26000000}, ...]}

`gmacs` is the spec's compute in 10^9 MACs (fvcore's convention; manifests written before
the unit was named say `gflops`, read as the same figure). Paths in `spec` are relative to the
folder. `write_plan` and `load_manifest` are generic (any
`kind`); `mtlspec.plan.pairs` writes the recommender's plan and `mtlspec.plan.grouping` the
task grouping's. `load_manifest` returns the one typed `Manifest` everything downstream reads
(the runner, the result tables).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from mtlspec.errors import MtlspecError
from mtlspec.io import write_atomic

MANIFEST = "manifest.json"
_SAFE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+@=-]*\Z")  # an id names results/<id>.json


MAX_ID = 200  # `results/<id>.json` stays within the 255-byte file name limit
ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_+@.=-]*$"  # task names, `+`, `@branch`, `@0.5`


class Entry(BaseModel):
    """One spec to train."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    # An id names the result file (`results/<id>.json`): checked before any training, so a
    # 300-character id cannot train and then fail to be written.
    id: str = Field(min_length=1, max_length=MAX_ID, pattern=ID_PATTERN)
    spec: str = Field(min_length=1, max_length=1000)
    tasks: list[str] = Field(min_length=1)
    branch_point: int | None = Field(default=None, ge=0, le=10_000)
    width: float = Field(default=1.0, gt=0, le=1e6)
    gmacs: float = Field(validation_alias=AliasChoices("gmacs", "gflops"), ge=0)
    params: int = Field(ge=0, le=2**63 - 1)


class Manifest(BaseModel):
    """A plan's manifest (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    kind: Literal["pairs", "grouping"]
    base: str
    tasks: list[str] = Field(min_length=1)
    blocks: int | None = None
    entries: list[Entry]


def write_plan(directory: str | Path, manifest: Manifest, specs: Mapping[str, str]) -> Path:
    """Write each spec file and then `manifest.json` into `directory` (created), atomically.

    Args:
        directory: the plan folder.
        manifest: the manifest; every entry's `spec` must be a key of `specs`.
        specs: relative file name → spec text.

    Returns:
        The manifest's path.

    Raises:
        MtlspecError: an entry without spec text, a file name leaving the folder, or the
            folder cannot be written.

    Example:
        >>> import tempfile
        >>> entry = Entry(id="a", spec="a.mtl", tasks=["a"], gmacs=0.1, params=10)
        >>> manifest = Manifest(kind="grouping", base="b.mtl", tasks=["a"], entries=[entry])
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = write_plan(folder, manifest, {"a.mtl": "grouping a { }\\n"})
        ...     load_manifest(folder) == manifest
        True
    """
    root = Path(directory)
    for entry in manifest.entries:
        if entry.spec not in specs:
            raise MtlspecError(f"plan entry {entry.id}: no spec text for {entry.spec}")
    for name in specs:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise MtlspecError(f"plan file name {name!r} must stay inside the plan folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MtlspecError(f"cannot create {root}: {err.strerror or err}") from None
    for name, text in specs.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(root / name, text)
    path = root / MANIFEST
    write_atomic(path, manifest.model_dump_json(indent=2) + "\n")
    return path


def load_manifest(directory: str | Path) -> Manifest:
    """Read and check `manifest.json` of a plan folder (or the file itself).

    Args:
        directory: the folder `mtlspec recommend plan` or `mtlspec group plan` wrote, or its
            `manifest.json`.

    Returns:
        The manifest.

    Raises:
        MtlspecError: no manifest, invalid JSON, a field of the wrong type (named), duplicate
            ids, an entry's task outside the plan's tasks, a spec file that is missing, an id
            that is not a safe file name, or a spec path outside the folder.

    Example:
        >>> load_manifest("no/such/plan")
        Traceback (most recent call last):
        ...
        mtlspec.errors.MtlspecError: no/such/plan holds no manifest.json; write a plan first \
with `mtlspec recommend plan` or `mtlspec group plan`
    """
    path = Path(directory)
    if not path.is_file():
        if not (path / MANIFEST).is_file():
            raise MtlspecError(f"{path} holds no manifest.json; write a plan first with "
                               "`mtlspec recommend plan` or `mtlspec group plan`")
        path = path / MANIFEST
    from mtlspec.inputs import parse_json, read_text

    data = parse_json(read_text(path, "manifest"), str(path))
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'manifest'}: {e['msg']}"
            for e in err.errors()[:5])
        raise MtlspecError(f"{path}: invalid manifest: {problems}") from None
    _check_entries(manifest, path)
    return manifest


def _check_entries(manifest: Manifest, path: Path) -> None:
    seen: set[str] = set()
    for entry in manifest.entries:
        if entry.id in seen:
            raise MtlspecError(f"{path}: entry id {entry.id!r} is used twice")
        seen.add(entry.id)
        unknown = sorted(set(entry.tasks) - set(manifest.tasks))
        if unknown:
            raise MtlspecError(f"{path}: entry {entry.id}: unknown task {unknown[0]}")
        if not (path.parent / entry.spec).is_file():
            raise MtlspecError(f"{path}: entry {entry.id}: spec file {entry.spec} is missing")
    folder = path.parent.resolve()
    for entry in manifest.entries:
        if not _SAFE_ID.match(entry.id):
            raise MtlspecError(f"{path}: entry id `{entry.id}` is not a safe file name")
        if folder not in (path.parent / entry.spec).resolve().parents:
            raise MtlspecError(f"{path}: entry `{entry.id}`: spec `{entry.spec}` lies "
                               "outside the plan directory")
