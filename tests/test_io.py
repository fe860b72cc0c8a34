"""Atomic writes: temporary files of killed writers are swept, live writers' are kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from mtlspec.io import write_atomic

WRITER = """
import sys, time
from mtlspec import io
def slow_replace(src, dst):
    print("writing", flush=True)
    time.sleep(60)
io.os.replace = slow_replace
io.write_atomic(sys.argv[1], b"new" * 1000)
"""


def _killed_writer(target: Path) -> None:
    """A writer SIGKILLed between writing its temporary file and renaming it."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_a_killed_write_keeps_the_old_file_and_the_next_write_sweeps_its_leftover(tmp_path):
    target = tmp_path / "weights.pt"
    target.write_bytes(b"old")
    _killed_writer(target)
    assert target.read_bytes() == b"old"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".weights.pt.")
    write_atomic(target, b"newer")
    assert target.read_bytes() == b"newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.pt"]


def test_a_live_writer_s_temporary_file_is_left_alone(tmp_path):
    target = tmp_path / "a.json"
    live = tmp_path / f".a.json.{os.getpid()}.abc123.tmp"   # this process is alive
    other = tmp_path / ".b.json.1.abc.tmp"                    # another target's
    live.write_text("in progress")
    other.write_text("not ours")
    write_atomic(target, "{}")
    assert live.exists() and other.exists()


def test_writing_through_a_symlink_replaces_the_target(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
