"""`mtlspec blocks torchvision.resnet152`: process CPU time before this change, after it, and a
second call served by the on-disk cache (issue 19: after ≤ 1/3 of before; cached ≤ 1 s).

Each figure is the CPU time (user + system, resource.getrusage of the child process, not
wall time: the machine may be shared) of one whole `mtlspec blocks` process, best of --runs.
"Before" runs the code of git revision --before (default: the commit this work started from)
extracted to a temporary folder; "after" runs this checkout with --no-cache; "cached" runs
this checkout twice with a fresh cache folder and times the second call.

Run: .venv/bin/python bench/blocks_cache.py [--runs 3] [--before REV] [--model NAME]
Writes bench/results/blocks_cache.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = "from mtlspec.cli import main; main()"


def child_cpu(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def extract(rev: str, folder: Path) -> None:
    """The package of `rev` as an importable folder (grammar/ and exporters/ put in place)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    for part in ("grammar", "exporters"):
        (folder / "mtlspec" / part).symlink_to(folder / part)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", default="cb6be04")
    parser.add_argument("--model", default="torchvision.resnet152")
    parser.add_argument("--out", default=str(ROOT / "bench/results/blocks_cache.json"))
    args = parser.parse_args()
    command = [sys.executable, "-c", CLI, "blocks", args.model]
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        old.mkdir()
        extract(args.before, old)
        cache = Path(tmp) / "cache"
        env = {**os.environ, "MTLSPEC_CACHE_DIR": str(cache)}
        old_env = {**env, "PYTHONPATH": str(old)}
        before, after, cached = [], [], []
        for _ in range(args.runs):  # alternate, so load changes hit all three alike
            before.append(child_cpu(command, old_env, old))
            after.append(child_cpu([*command, "--no-cache"], env, ROOT))
            child_cpu(command, env, ROOT)  # fills the cache (if --no-cache did not)
            cached.append(child_cpu(command, env, ROOT))
    result = {"model": args.model, "before_rev": args.before, "runs": args.runs,
              "before_cpu_s": min(before), "after_cpu_s": min(after),
              "cached_cpu_s": min(cached), "ratio_after_before": min(after) / min(before)}
    print(f"{args.model}: process CPU time, best of {args.runs}")
    print(f"  before ({args.before}): {min(before):6.2f} s")
    print(f"  after (--no-cache):   {min(after):6.2f} s  ({min(after) / min(before):.2f}x)")
    print(f"  second call, cached:  {min(cached):6.2f} s")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
