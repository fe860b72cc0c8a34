"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from mtlspec.errors import MtlspecError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename.

    A failure part-way (disk full, interrupt) leaves any earlier file at `path` untouched.
    An existing file keeps its permission bits.

    Raises:
        MtlspecError: the folder cannot be written.
    """
    path = Path(path)
    blob = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()  # a new file gets the permissions open() would give it
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    except OSError as err:
        raise MtlspecError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise MtlspecError(f"cannot write {path}: {err.strerror or err}") from None
        raise


def save_torch(path: str | Path, obj: object) -> None:
    """`torch.save(obj)` to `path` atomically (a kill mid-write keeps the previous file).

    Args:
        path: the file; missing parent folders are created.
        obj: tensors and plain containers (what `torch.load(weights_only=True)` reads back).

    Raises:
        MtlspecError: the folder cannot be created or written.
    """
    import io

    import torch  # here, so `mtlspec validate` never imports torch

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MtlspecError(f"cannot create {path.parent}: {err.strerror or err}") from None
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_atomic(path, buffer.getvalue())
