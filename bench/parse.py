"""How fast is the spec language? (issue: validate all specs < 0.5 s; 5,000-line spec < 1 s)

Measures, on this machine:
  1. `mtlspec validate specs/*.mtl` end to end (a fresh process: interpreter start-up and
     imports included), best of N runs;
  2. parse + validate of generated 5,000-line specs (a grouping spec with one network per task
     subset, a DAG spec with 2,494 tasks and topologies), in process and end to end.

Prints a table and writes JSON (default bench/results/parse.json).
Run: .venv/bin/python bench/parse.py [--runs 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MTLSPEC = str(Path(sys.executable).with_name("mtlspec"))


def big_grouping(lines: int) -> str:
    """A valid grouping spec of about `lines` lines: 13 tasks and one network per task subset,
    as a task-grouping search over every subset would write it."""
    tasks = [f"task{i}" for i in range(13)]
    head = ["grouping big {", "  input image: float[1, 3, 64, 64]", "  tasks {"]
    head += [f"    {t}: head conv(out=1)" for t in tasks]
    head.append("  }")
    nets = []
    for mask in range(1, 2 ** len(tasks)):
        if len(nets) >= lines - len(head) - 2:
            break
        trains = [t for i, t in enumerate(tasks) if mask >> i & 1]
        serves = trains if len(trains) == 1 else []
        nets.append(f"  network n{mask}: torchvision.resnet18(width=1.0) "
                    f"trains {{{', '.join(trains)}}} serves {{{', '.join(serves)}}}")
    return "\n".join([*head, *nets, "  budget { units <= 13 }", "}", ""])


def big_dag(lines: int) -> str:
    """A valid DAG spec of about `lines` lines: half task declarations, half topologies."""
    n = (lines - 12) // 2
    head = ["dag big {", "  input image: float[1, 3, 64, 64]", "  central {", "    states: 64",
            "    flow: 8", "    stem: conv(out=16, stride=2)", "    edge: conv3x3", "  }",
            "  tasks {"]
    head += [f"    t{i}: head conv(out=1)" for i in range(n)]
    head.append("  }")
    topo = []
    for i in range(n):
        a = 1 + i % 48
        topo.append(f"  topology t{i} {{ in: {a}; edges: {a}->{a + 4} {a + 4}->{a + 8} "
                    f"{a}->{a + 8} {a + 8}->{a + 16}; out: {a + 16} {a + 8} }}")
    return "\n".join([*head, *topo, "}", ""])


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run_cli(*args: str) -> None:
    subprocess.run([MTLSPEC, "validate", *args], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench/results/parse.json"))
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from mtlspec.spec import parse_document, validate

    specs = sorted(glob.glob(str(ROOT / "specs/*.mtl")))
    results: dict[str, float | int] = {"specs": len(specs)}
    results["validate_all_specs_cli_s"] = best_of(args.runs, lambda: run_cli(*specs))
    rows = [(f"mtlspec validate specs/*.mtl ({len(specs)} files, new process)",
             results["validate_all_specs_cli_s"], 0.5)]
    with tempfile.TemporaryDirectory() as tmp:
        for kind, make in (("grouping", big_grouping), ("dag", big_dag)):
            text = make(5000)
            path = os.path.join(tmp, f"{kind}.mtl")
            Path(path).write_text(text)
            parse_document(text)  # the parser is built once per process
            lines = text.count("\n")
            inproc = best_of(args.runs, lambda t=text: validate(parse_document(t)))
            cli = best_of(args.runs, lambda p=path: run_cli(p))
            results[f"{kind}_lines"] = lines
            results[f"{kind}_in_process_s"] = inproc
            results[f"{kind}_cli_s"] = cli
            rows.append((f"{lines}-line {kind} spec, parse+validate in process", inproc, 1.0))
            rows.append((f"{lines}-line {kind} spec, mtlspec validate (new process)", cli, 1.0))
    print(f"{'measurement':64} {'best (s)':>9} {'target':>7}")
    for name, seconds, target in rows:
        print(f"{name:64} {seconds:9.3f} {'<' + str(target):>7}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
