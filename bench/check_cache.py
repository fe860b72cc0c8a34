"""`mtlspec check specs/nyuv2_resnet34.mtl`: process CPU time with an empty cache (cold: torch
imported, ResNet34 traced, blocks counted, model compiled and costed) and with the cache a
previous run left (warm: the spec is parsed and its cost report read; no torch).

Each figure is the CPU time (user + system of the child process, resource.getrusage; not wall
time, the machine may be shared, though a loaded machine still inflates CPU time through cache
and memory contention) of one whole `mtlspec check` process, best and median of --runs. Cold
runs use a fresh cache folder each; warm runs reuse the folder one cold run filled. Wall time
is printed too, for reference. CI jobs get the warm figure when they restore the cache folder
(README, "Budgets in CI").

Run: .venv/bin/python bench/check_cache.py [--runs 5] [--spec specs/nyuv2_resnet34.mtl]
Writes bench/results/check_cache.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = "from mtlspec.cli import main; main()"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU s, wall s) of one child process; it must exit 0."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--spec", default="specs/nyuv2_resnet34.mtl")
    parser.add_argument("--out", default=str(ROOT / "bench/results/check_cache.json"))
    args = parser.parse_args()
    command = [sys.executable, "-c", CLI, "check", args.spec]
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):  # alternate, so load changes hit both alike
            env = {**os.environ, "MTLSPEC_CACHE_DIR": str(Path(tmp) / f"cache{run}")}
            cold.append(timed(command, env))
            warm.append(timed(command, env))
    cpu = {name: [c for c, _ in runs] for name, runs in (("cold", cold), ("warm", warm))}
    wall = {name: [w for _, w in runs] for name, runs in (("cold", cold), ("warm", warm))}
    result = {"spec": args.spec, "runs": args.runs, "cpu_count": os.cpu_count(),
              "load_average": os.getloadavg(),
              **{f"{name}_cpu_s": {"best": min(v), "median": statistics.median(v), "all": v}
                 for name, v in cpu.items()},
              **{f"{name}_wall_s": {"best": min(v), "median": statistics.median(v)}
                 for name, v in wall.items()}}
    result["speedup_best_cpu"] = min(cpu["cold"]) / min(cpu["warm"])
    print(f"mtlspec check {args.spec}: process CPU time over {args.runs} runs "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"{'':6} {'best CPU s':>10} {'median CPU s':>12} {'median wall s':>13}")
    for name in ("cold", "warm"):
        print(f"{name:6} {min(cpu[name]):10.2f} {statistics.median(cpu[name]):12.2f} "
              f"{statistics.median(wall[name]):13.2f}")
    print(f"warm is {result['speedup_best_cpu']:.1f}x less CPU than cold (best of each)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
