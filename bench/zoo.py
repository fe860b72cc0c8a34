"""The model zoo table: every torchvision classifier and the timm zoo through the detector.

For each model: blocks, verify (blocks recompose the backbone, eval and train mode), policy
ok (`partition.check`: no block begins with a norm, none holds no weights, no channels-last
cut tensor of a norm's permute), uncounted ops, output layout, and process CPU time of
build + trace + partition + cost + verify (CPU time, not wall: the machine may be shared).

Run: .venv/bin/python bench/zoo.py [--timm-only | --torchvision-only] [--out FILE] [NAME ...]
Writes JSON (default bench/results/zoo.json). Exit 1 if any model fails.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mtlspec.backbone import blocks_for, build, list_backbones, partition, trace, verify  # noqa: E402
from mtlspec.backbone.partition import check  # noqa: E402
from tests.backbone.test_composition import _size  # noqa: E402
from tests.backbone.test_timm import ZOO, _input  # noqa: E402


def measure(name: str, shape: tuple[int, int, int]) -> dict:
    start = time.process_time()
    row = {"model": name, "input": "x".join(map(str, shape))}
    try:
        bb = blocks_for(name, input_shape=shape)
        ok = verify(bb).ok
        built = build(name, input_shape=(1, *shape))
        traced = trace(built.model, (1, *shape), head=built.head, end=built.end, name=name)
        problems = check(traced.graph, traced.source,
                         partition(traced.graph, traced.source, traced.sink))
        row.update(blocks=len(bb.blocks), verify=ok, policy_ok=not problems,
                   policy_problems=problems, uncounted=bb.uncounted,
                   layout=bb.layout.kind, gmacs=round(bb.flops / 1e9, 3), error=None)
    except Exception as err:  # reported in the table, not raised: one model never hides others
        row.update(blocks=None, verify=False, policy_ok=False, uncounted={}, layout=None,
                   gmacs=None, error=f"{type(err).__name__}: {err}"[:200])
    row["cpu_s"] = round(time.process_time() - start, 2)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--timm-only", action="store_true")
    parser.add_argument("--torchvision-only", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench/results/zoo.json"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.names:
        models = [(n, _input(n.removeprefix("timm.")) if n.startswith("timm.") else
                   (3, _size(n), _size(n))) for n in args.names]
    else:
        models = [] if args.timm_only else [(n, (3, _size(n), _size(n)))
                                            for n in list_backbones() if n != "convnet"]
        models += [] if args.torchvision_only else [(f"timm.{n}", _input(n)) for n in ZOO]
    rows = []
    print(f"{'model':44} {'blocks':>6} {'verify':>6} {'policy':>6} {'layout':>7} "
          f"{'GMACs':>8} {'CPU s':>6}  uncounted / error")
    for name, shape in models:
        row = measure(name, shape)
        rows.append(row)
        extra = row["error"] or (", ".join(f"{k} x{v}" for k, v in row["uncounted"].items())
                                 or "-")
        print(f"{name:44} {row['blocks'] or '-':>6} {row['verify']!s:>6} "
              f"{row['policy_ok']!s:>6} {row['layout'] or '-':>7} "
              f"{row['gmacs'] if row['gmacs'] is not None else '-':>8} {row['cpu_s']:>6}  "
              f"{extra}", flush=True)
    failures = [r["model"] for r in rows
                if r["error"] or not r["verify"] or not r["policy_ok"] or r["uncounted"]]
    print(f"\n{len(rows)} models, {len(failures)} failures{': ' if failures else ''}"
          f"{', '.join(failures)}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "rows": rows}, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
