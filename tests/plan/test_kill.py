"""Stopping `mtlspec run` leaves nothing behind: SIGTERM ends it with 143 after stopping its
workers; after SIGKILL the workers (and the forkserver, the resource tracker) notice and exit.
Processes are found by walking /proc (children by parent pid), recorded before the kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
ROOT = Path(__file__).resolve().parents[2]
MTLSPEC = [sys.executable, "-m", "mtlspec"]


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(b")", 1)[1].split()
        if fields[0] != b"Z":
            out.setdefault(int(fields[1]), []).append(int(entry.name))
    return out


def descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def living(pids: set[int]) -> set[int]:
    return {p for p in pids if p in {c for kids in _children().values() for c in kids}}


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plan")
    subprocess.run([*MTLSPEC, "group", "plan", "--spec", str(ROOT / "specs/conal_multidigits.mtl"),
                    "-o", str(folder)], check=True, cwd=ROOT, capture_output=True)
    return folder


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_run_leaves_no_process(plan: Path, sig: int):
    proc = subprocess.Popen([*MTLSPEC, "run", str(plan), "--workers", "2", "--epochs", "1000",
                             "--force"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    family: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(family) < 3:  # forkserver, workers, tracker
            time.sleep(0.5)
            family |= descendants(proc.pid)
        assert len(family) >= 3, f"the run started no workers: {proc.stderr.read()!r}"
        time.sleep(1)
        family |= descendants(proc.pid)
        os.kill(proc.pid, sig)
        code = proc.wait(timeout=30)
        assert code == (143 if sig == signal.SIGTERM else -signal.SIGKILL)
        deadline = time.monotonic() + 10
        while living(family) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert living(family) == set()
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in living(family | descendants(proc.pid)):  # a failed test cleans up
            os.kill(pid, signal.SIGKILL)
