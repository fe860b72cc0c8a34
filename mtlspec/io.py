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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def _sweep_stale(path: Path) -> None:
    """Remove temporary files that an earlier, killed write to `path` left behind.

    Temporary names carry the writer's pid (`.NAME.PID.xxxx.tmp`), so a file is removed only
    when its writer is gone; a concurrent writer's file is never touched.
    """
    prefix = f".{path.name}."
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            rest = entry.name[len(prefix):] if entry.name.startswith(prefix) else ""
            pid, _, tail = rest.partition(".")
            if tail.endswith(".tmp") and (pid.isascii() and pid.isdigit()) and not _alive(int(pid)):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename.

    A failure part-way (disk full, interrupt) leaves any earlier file at `path` untouched, and
    the next write to `path` removes a temporary file a killed write left behind. An existing
    file keeps its permission bits; a symbolic link stays a link and its target is replaced.

    Raises:
        MtlspecError: the folder cannot be written.
    """
    path = Path(path)
    if path.is_symlink():  # write through to the target, atomically; the link stays
        path = Path(os.path.realpath(path))
    _sweep_stale(path)
    blob = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()  # a new file gets the permissions open() would give it
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                                   dir=path.parent)
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
