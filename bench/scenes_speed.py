"""How fast the shipped procedural scenes render (issue 15: "generation is fast; state the
items/s").

One item = the image and all seven targets (segment, depth, normal, edge, keypoint, count,
shapes) of one random scene, rendered in this process with numpy (one thread). For each image
size: median items/s over --repeat runs of --items items each (different scenes every run).
The machine's load average is printed with the table: on a busy machine the numbers are low.

Prints a table and writes JSON (default bench/results/scenes_speed.json).
Run: .venv/bin/python bench/scenes_speed.py [--sizes 32,64,128] [--items 200] [--repeat 3]
     [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mtlspec.data.scenes import render_item  # noqa: E402


def measure(size: int, items: int, repeat: int) -> dict:
    rates = []
    for run in range(repeat):
        start = time.perf_counter()
        for i in range(items):
            render_item(run, 0, i, size, 5)
        rates.append(items / (time.perf_counter() - start))
    return {"size": f"{size}x{size}", "items": items, "repeat": repeat,
            "items_per_s": statistics.median(rates), "min": min(rates), "max": max(rates)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="32,64,128")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "scenes_speed.json"))
    args = parser.parse_args()
    render_item(0, 0, 0, 16, 5)  # import and warm-up
    rows = [measure(int(s), args.items, args.repeat) for s in args.sizes.split(",")]
    load = os.getloadavg()
    print(f"scene rendering, one process (load average {load[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"{'size':>9} {'items/s':>9} {'min':>8} {'max':>8}")
    for row in rows:
        print(f"{row['size']:>9} {row['items_per_s']:9.1f} {row['min']:8.1f} {row['max']:8.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "load_average": load, "cpus": os.cpu_count()},
                              indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
