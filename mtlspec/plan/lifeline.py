"""Nothing left behind when `mtlspec run` is stopped: SIGTERM stops the pool, and workers
exit by themselves when the process that started them dies (even by SIGKILL).

- `terminate_on_sigterm`: while a pool runs, SIGTERM raises `Terminated` (a SystemExit with
  code 143, 128 + SIGTERM) in the main thread; the executor's `finally` then stops the
  workers and the process exits with 143.
- `watch_parent`: a pool worker's initializer. On Linux, `prctl(PR_SET_PDEATHSIG)` kills the
  worker with its parent (the forkserver, or the main process under spawn); a daemon thread
  also polls the main process (the forkserver outlives it by a moment) and exits the worker
  once it is gone or a zombie.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1


class Terminated(SystemExit):
    """SIGTERM arrived: unwind (stopping workers on the way) and exit with 143."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises `Terminated` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends us at once
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def watch_parent(main_pid: int) -> None:
    """Pool initializer: end this worker when `main_pid` (the pool's owner) dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    threading.Thread(target=_poll, args=(main_pid,), daemon=True,
                     name="mtlspec-parent-watch").start()


def _poll(main_pid: int) -> None:
    stop = threading.Event()
    while not stop.wait(POLL_SECONDS):
        if not alive(main_pid):
            os._exit(1)  # no cleanup to do: results are written by the parent only


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, dead but not yet reaped, counts as gone).

    Example:
        >>> alive(os.getpid())
        True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True
