"""How fast is the spec language? (issue: validate all specs < 0.5 s; 5,000-line spec < 1 s)

Measures, on this machine:
  1. `mtlspec validate specs/*.mtl` end to end (a fresh process: interpreter start-up and
     imports included), best of N runs;
  2. parse + validate of one generated 5,000-line tree spec, in process and end to end.

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


def big_spec(lines: int) -> str:
    """A valid tree spec of about `lines` lines: many tasks, and one layout row per block."""
    tasks = [f"task{i}" for i in range(8)]
    blocks = lines - len(tasks) - 12
    head = ["model big {", "  input image: float[1, 3, 64, 64]",
            f"  backbone convnet(depth={blocks}) {{ blocks: auto({blocks}) }}", "  tasks {"]
    head += [f"    {t}: head linear(classes=10)" for t in tasks]
    head += ["  }", "  layout ["]
    shared = "    {" + ", ".join(tasks) + "}"
    split = "    " + " ".join("{" + t + "}" for t in tasks)
    rows = [shared] * (blocks // 2) + [split] * (blocks - blocks // 2)
    return "\n".join([*head, *rows, "  ]", "  budget { gflops <= 40; params <= 60M }", "}", ""])


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
    text = big_spec(5000)
    with tempfile.TemporaryDirectory() as tmp:
        big = os.path.join(tmp, "big.mtl")
        Path(big).write_text(text)
        parse_document(text)  # build the parser once, as a long-running process would have
        results = {
            "specs": len(specs),
            "validate_all_specs_cli_s": best_of(args.runs, lambda: run_cli(*specs)),
            "big_spec_lines": text.count("\n"),
            "big_spec_in_process_s": best_of(args.runs, lambda: validate(parse_document(text))),
            "big_spec_cli_s": best_of(args.runs, lambda: run_cli(big)),
        }
    rows = [
        (f"mtlspec validate specs/*.mtl ({results['specs']} files, new process)",
         results["validate_all_specs_cli_s"], 0.5),
        (f"{results['big_spec_lines']}-line spec, parse+validate in process",
         results["big_spec_in_process_s"], 1.0),
        (f"{results['big_spec_lines']}-line spec, mtlspec validate (new process)",
         results["big_spec_cli_s"], 1.0),
    ]
    print(f"{'measurement':64} {'best (s)':>9} {'target':>7}")
    for name, seconds, target in rows:
        print(f"{name:64} {seconds:9.3f} {'<' + str(target):>7}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
