"""How fast is the branching-point detector? (issue: < 1 s per backbone, FLOPs counting excluded)

Measures, on this machine, for resnet34, mobilenet_v2, resnet152 and densenet201 at 3x224x224:
  1. detection = trace (fx symbolic trace, classifier cut off, shape propagation, networkx
     graph) + partition (cut points, then merging of weight-free blocks); model building and
     FLOPs counting are not timed;
  2. the cut-point search alone, against a BASELINE WRITTEN FOR THIS BENCH: a straightforward
     recursive networkx min-cut detector in the style of TreeMTL's (one `minimum_node_cut`
     between the ends, split at a size-one cut, recurse on both halves), run on the same graph;
     both must find the same cut points.

Times are the best of N runs (other processes share this machine's cores). Prints a table and
writes JSON (default bench/results/detector.json).
Run: .venv/bin/python bench/detector.py [--runs 3] [--out FILE] [--input 3x224x224] [NAME ...]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import networkx as nx
import torch

from mtlspec.backbone import build, cut_points, partition, trace

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["torchvision.resnet34", "torchvision.mobilenet_v2", "torchvision.resnet152",
           "torchvision.densenet201"]
TARGET_S = 1.0


def recursive_min_cut_baseline(graph: nx.DiGraph, source, sink) -> list:
    """BASELINE (bench only): cut points by recursive networkx minimum node cuts.

    Restrict to vertices on some source→sink path; if no single vertex separates the ends
    (direct edge, or minimum cut larger than one) there is no cut point between them;
    otherwise split at the cut vertex and recurse on both sides.
    """
    live = (nx.descendants(graph, source) | {source}) & (nx.ancestors(graph, sink) | {sink})
    g = graph.subgraph(live)
    found: list = []

    def solve(s, t) -> None:
        between = g.subgraph((nx.descendants(g, s) & nx.ancestors(g, t)) | {s, t})
        if len(between) <= 2 or between.has_edge(s, t):
            return
        cut = nx.minimum_node_cut(between, s, t)
        if len(cut) != 1:
            return
        (v,) = cut
        solve(s, v)
        found.append(v)
        solve(v, t)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(g)))
    solve(source, sink)
    return found


def best_of(runs: int, fn):
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure(name: str, shape: tuple[int, ...], runs: int) -> dict:
    built = build(name, input_shape=shape)
    trace_s, traced = best_of(runs, lambda: trace(built.model, shape, head=built.head, name=name))
    g, s, t = traced.graph, traced.source, traced.sink
    partition_s, part = best_of(runs, lambda: partition(g, s, t))
    ours_s, ours = best_of(runs, lambda: cut_points(g, s, t))
    base_s, base = best_of(max(1, runs // 3), lambda: recursive_min_cut_baseline(g, s, t))
    return {
        "backbone": name, "nodes": g.number_of_nodes(), "edges": g.number_of_edges(),
        "raw_cut_points": len(part.raw_cuts), "blocks": len(part),
        "trace_s": trace_s, "partition_s": partition_s, "detect_s": trace_s + partition_s,
        "cut_points_s": ours_s, "baseline_s": base_s, "speedup": base_s / ours_s,
        "baseline_agrees": base == ours, "meets_target": trace_s + partition_s < TARGET_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=DEFAULT)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--input", default="3x224x224")
    parser.add_argument("--out", default=str(ROOT / "bench/results/detector.json"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    shape = (1, *(int(d) for d in args.input.split("x")))
    build("torchvision.resnet18")  # warm up imports so the first row is not charged for them
    rows = []
    header = (f"{'backbone':26} {'nodes':>5} {'cuts':>4} {'blocks':>6} {'trace s':>8} "
              f"{'part. s':>8} {'detect s':>8} {'<1 s':>4} {'cuts s':>8} {'baseline s':>10} "
              f"{'speedup':>8} {'same':>4}")
    print(header)
    print("-" * len(header))
    for name in args.names:
        r = measure(name, shape, args.runs)
        rows.append(r)
        print(f"{name:26} {r['nodes']:5d} {r['raw_cut_points']:4d} {r['blocks']:6d} "
              f"{r['trace_s']:8.3f} {r['partition_s']:8.4f} {r['detect_s']:8.3f} "
              f"{'yes' if r['meets_target'] else 'NO':>4} {r['cut_points_s']:8.4f} "
              f"{r['baseline_s']:10.3f} {r['speedup']:7.0f}x "
              f"{'yes' if r['baseline_agrees'] else 'NO':>4}", flush=True)
    print("detect = trace + partition (FLOPs counting excluded); cuts s = our cut-point search; "
          "baseline = recursive networkx min-cut written for this bench, on the same graph")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "input_shape": list(shape), "runs": args.runs, "target_s": TARGET_S,
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "machine": platform.platform(), "python": platform.python_version(), "results": rows,
    }, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
