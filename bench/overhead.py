"""Fixed overhead of whole `mtlspec` processes (issue 19), before vs after, as ratios to floors.

For each command: process CPU time (user + system of the child, resource.getrusage
RUSAGE_CHILDREN) and wall time, for two source trees (`--before`, default `main`, and
`--after`, default `HEAD`, each a `git archive` extract in a temporary folder, run with
PYTHONPATH pointing there) and for the command's floor: `python -c "import ..."` of what the
command truly needs. Rounds alternate before / after / floor (order rotated every round) and
medians are reported, so a machine that other work loads affects all three alike. Ratios are
median CPU ÷ median floor CPU.

Commands and floors:

- validate specs/*.mtl — floor `import lark; from pydantic import BaseModel` (`import lark,
  pydantic` alone is printed too: pydantic loads BaseModel lazily, so it imports next to nothing);
- group --table standley:setting1 --sweep 1:5:0.5 — floor `import numpy, click`;
- cost specs/nyuv2_resnet34.mtl --no-cache — floor `import torch, torchvision`;
- blocks torchvision.resnet152 --no-cache — same floor;
- build specs/nyuv2_resnet34.mtl — floor torch, torchvision, onnx, onnxruntime;
- train specs/conal_multidigits.mtl, 1 epoch of 256 items — floor `import torch`.

Both trees are byte-compiled first (a pip install is), and the children run without
PYTHONDONTWRITEBYTECODE; each tree gets its own cache folder, warmed by one untimed run (lark
tables), while `--no-cache` keeps cost and blocks computing.

With `--cpp main.cpp` (the authors' network selection, github.com/tstandley/taskgrouping,
network_selection/main.cpp; not part of this repository), it is built with g++ -O2 next to a
small driver that runs their `compute_and_print` (budgets 1 to T by 0.5, exactly our `--sweep
1:T:0.5`) on one table, and compared with `mtlspec group --sweep` on the same table: Standley's
setting 1 and seeded random tables of T = 7..10 tasks (every task subset, plus half-width
single-task networks, in their TSV layout). Their reader sizes the first row for five tasks
only; the driver build patches that one line (`vector<double> infs(nline.size(), inf)`).
C++ runs longer than --cpp-timeout are reported as "> timeout".

`--threads 1,2` instead times the `--only` commands of the after tree at each
MTLSPEC_THREADS count (what backs the default of one thread).

Run: .venv/bin/python bench/overhead.py [--rounds 5] [--only validate,group] [--cpp main.cpp]
     .venv/bin/python bench/overhead.py --threads 1,2 --only train,build [--rounds 3]
Writes bench/results/overhead.json (overhead_threads.json). Figures measured on a shared
machine are noisy: read the ratios, taken in the same run, rather than the seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(str(p) for p in (ROOT / "specs").glob("*.mtl"))
TORCH = "import torch, torchvision"

# name → (mtlspec arguments, floor imports)
COMMANDS: dict[str, tuple[list[str], str]] = {
    "validate": (["validate", *SPECS], "import lark; from pydantic import BaseModel"),
    "validate (floor: import lark, pydantic)": (["validate", *SPECS], "import lark, pydantic"),
    "group --sweep": (["group", "--table", "standley:setting1", "--sweep", "1:5:0.5"],
                      "import numpy, click"),
    "cost": (["cost", str(ROOT / "specs/nyuv2_resnet34.mtl"), "--no-cache"], TORCH),
    "blocks resnet152": (["blocks", "torchvision.resnet152", "--no-cache"], TORCH),
    "build": (["build", str(ROOT / "specs/nyuv2_resnet34.mtl"), "-o", "{tmp}/model.onnx"],
              TORCH + ", onnx, onnxruntime"),
    "train 1 epoch": (["train", str(ROOT / "specs/conal_multidigits.mtl"), "--epochs", "1",
                       "--train-size", "256", "--data-option", "val_size=128",
                       "--data-option", "test_size=128"], "import torch"),
}


def extract(ref: str, into: Path) -> Path:
    """`git archive REF` unpacked into `into`, laid out as installed (grammar/ and
    exporters/ inside the package), byte-compiled."""
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True,
                          capture_output=True).stdout
    into.mkdir(parents=True)
    archive = into / "tree.tar"
    archive.write_bytes(blob)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()
    for sub in ("grammar", "exporters"):
        (into / "mtlspec" / sub).symlink_to(into / sub, target_is_directory=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(into)], check=True,
                   stdout=subprocess.DEVNULL)
    return into


def timed(cmd: list[str], env: dict[str, str], cwd: Path,
          timeout: float | None = None) -> tuple[float, float] | None:
    """(CPU s, wall s) of one child process (it must exit 0); None if it ran past timeout.
    `cwd` must not hold a `mtlspec` package: `python -m` puts it first on sys.path."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def child_env(tree: Path | None, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "MTLSPEC_THREADS", "OMP_NUM_THREADS")}
    env["MTLSPEC_CACHE_DIR"] = str(cache)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return env


def run_commands(names: list[str], trees: dict[str, Path], rounds: int,
                 tmp: Path) -> dict[str, dict]:
    envs = {label: child_env(tree, tmp / f"cache-{label}") for label, tree in trees.items()}
    floor_env = child_env(None, tmp / "cache-floor")
    results = {}
    for name in names:
        args, floor = COMMANDS[name]
        args = [a.replace("{tmp}", str(tmp)) for a in args]
        cmds = {label: [sys.executable, "-m", "mtlspec", *args] for label in trees}
        for label in trees:  # warm: byte code, lark tables; not timed
            timed(cmds[label], envs[label], tmp)
        samples: dict[str, list[tuple[float, float]]] = {k: [] for k in [*trees, "floor"]}
        order = [*trees, "floor"]
        for r in range(rounds):
            for label in order[r % 3:] + order[:r % 3]:
                if label == "floor":
                    got = timed([sys.executable, "-c", floor], floor_env, tmp)
                else:
                    got = timed(cmds[label], envs[label], tmp)
                samples[label].append(got)
        med = {k: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v))
               for k, v in samples.items()}
        results[name] = {"floor": floor, "cpu": {k: m[0] for k, m in med.items()},
                         "wall": {k: m[1] for k, m in med.items()},
                         "ratio": {k: med[k][0] / med["floor"][0] for k in trees}}
        print_row(name, results[name], list(trees))
    return results


def print_row(name: str, r: dict, labels: list[str]) -> None:
    cells = [f"{r['cpu']['floor']:6.2f}"]
    for label in labels:
        cells.append(f"{r['cpu'][label]:7.2f} ({r['ratio'][label]:5.2f}x) "
                     f"{r['wall'][label]:6.2f}")
    print(f"{name:40s} " + "  ".join(cells), flush=True)


def run_threads(names: list[str], tree: Path, counts: list[int], rounds: int,
                tmp: Path) -> dict[str, dict]:
    """CPU and wall time of commands of the `after` tree at each MTLSPEC_THREADS count
    (alternating), to back the default thread count."""
    results = {}
    for name in names:
        args = [a.replace("{tmp}", str(tmp)) for a in COMMANDS[name][0]]
        cmd = [sys.executable, "-m", "mtlspec", *args]
        envs = {n: {**child_env(tree, tmp / "cache-after"), "MTLSPEC_THREADS": str(n)}
                for n in counts}
        samples: dict[int, list] = {n: [] for n in counts}
        for r in range(rounds):
            for n in counts[r % len(counts):] + counts[:r % len(counts)]:
                samples[n].append(timed(cmd, envs[n], tmp))
        row = {str(n): {"cpu": statistics.median(c for c, _ in v),
                        "wall": statistics.median(w for _, w in v)} for n, v in samples.items()}
        results[name] = row
        print(f"{name:20s} " + "   ".join(
            f"{n} thread(s): CPU {row[str(n)]['cpu']:6.2f} s wall {row[str(n)]['wall']:6.2f} s"
            for n in counts), flush=True)
    return results


# --- the authors' C++ ------------------------------------------------------------------

DRIVER = """#define main authors_main
#include "main.cpp"
#undef main
int main(int argc, char **argv) {
    auto perfs = get_model_performances(argv[1]);
    auto totals = compute_and_print(perfs, perfs, false);
    for (double t : totals) cout << t << ' ';
    cout << endl;
    return 0;
}
"""


def build_cpp(source: Path, tmp: Path) -> Path:
    text = source.read_text()
    fixed = text.replace("vector<double> infs({inf,inf,inf,inf,inf});",
                         "vector<double> infs(nline.size(), inf);")
    if fixed == text:
        raise SystemExit("main.cpp: the five-task line to patch was not found")
    (tmp / "main.cpp").write_text(fixed)
    (tmp / "driver.cpp").write_text(DRIVER)
    binary = tmp / "select"
    subprocess.run(["g++", "-O2", "-o", str(binary), str(tmp / "driver.cpp")], check=True,
                   cwd=tmp)
    return binary


def random_table(tasks: int, seed: int) -> str:
    """Standley's TSV layout: a row of half-width single-task losses, then one row per task
    subset (a full-size network), blank cells for tasks it does not predict."""
    rng = random.Random(seed)
    base = [rng.uniform(0.05, 0.5) for _ in range(tasks)]
    rows = ["\t".join(f"{b * rng.uniform(1.0, 1.2):.5f}" for b in base)]
    for subset in range(1, 2 ** tasks):
        cells = [f"{base[t] * rng.uniform(0.85, 1.15):.5f}" if subset >> t & 1 else ""
                 for t in range(tasks)]
        rows.append("\t".join(cells))
    return "\n".join(rows) + "\n"


def run_cpp(binary: Path, after: Path, rounds: int, timeout: float, tmp: Path) -> list[dict]:
    from mtlspec.data import published

    setting1, _ = published.locate("standley:setting1", kind="grouping")
    tables = [("setting 1 (T=5)", setting1, 5, None)]
    for tasks in range(7, 11):
        path = tmp / f"random_{tasks}.txt"
        path.write_text(random_table(tasks, seed=tasks))
        names = ",".join(f"t{i}" for i in range(tasks))
        tables.append((f"random T={tasks}", path, tasks, names))
    env = child_env(after, tmp / "cache-after")
    out = []
    for label, path, tasks, names in tables:
        ours = [sys.executable, "-m", "mtlspec", "group", "--table", str(path), "--sweep",
                f"1:{tasks}:0.5"] + (["--format", "standley", "--tasks", names] if names else [])
        theirs = [str(binary), str(path)]
        timed(ours, env, tmp)
        samples: dict[str, list] = {"mtlspec": [], "c++": []}
        for r in range(rounds):
            for who in (["mtlspec", "c++"] if r % 2 == 0 else ["c++", "mtlspec"]):
                if who == "c++" and samples["c++"] and samples["c++"][-1] is None:
                    continue  # timed out once: do not wait again
                cmd, limit = (ours, None) if who == "mtlspec" else (theirs, timeout)
                samples[who].append(timed(cmd, env, tmp, limit))
        mine = statistics.median(c for c, _ in samples["mtlspec"])
        cpp_runs = [s for s in samples["c++"] if s is not None]
        cpp = statistics.median(c for c, _ in cpp_runs) if len(cpp_runs) == len(
            samples["c++"]) else None
        row = {"table": label, "tasks": tasks, "mtlspec_cpu": mine, "cpp_cpu": cpp,
               "cpp_over_mtlspec": cpp / mine if cpp is not None else None,
               "cpp_timeout": timeout}
        shown = (f"{cpp:8.3f} s  C++/mtlspec {cpp / mine:8.1f}x" if cpp is not None
                 else f"> {timeout:.0f} s (timed out)  C++/mtlspec > {timeout / mine:.0f}x")
        print(f"{label:18s} mtlspec {mine:6.3f} s   C++ -O2 {shown}", flush=True)
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", default="main", help="git ref of the 'before' tree")
    parser.add_argument("--after", default="HEAD", help="git ref of the 'after' tree")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated subset of: {', '.join(COMMANDS)}")
    parser.add_argument("--cpp", type=Path, default=None,
                        help="the authors' network_selection/main.cpp: compare group with it")
    parser.add_argument("--cpp-timeout", type=float, default=120.0)
    parser.add_argument("--threads", default=None, metavar="1,2",
                        help="instead: time the --only commands (after tree) at these "
                        "MTLSPEC_THREADS counts")
    args = parser.parse_args()
    names = list(COMMANDS) if args.only is None else [
        n for n in COMMANDS if any(n.startswith(o.strip()) for o in args.only.split(","))]
    with tempfile.TemporaryDirectory(prefix="mtlspec-overhead-") as folder:
        tmp = Path(folder)
        if args.threads:
            counts = [int(n) for n in args.threads.split(",")]
            report = {"threads": run_threads(names, extract(args.after, tmp / "after"),
                                             counts, args.rounds, tmp)}
            out = ROOT / "bench" / "results" / "overhead_threads.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=2) + "\n")
            print(f"wrote {out.relative_to(ROOT)}")
            return
        trees = {"before": extract(args.before, tmp / "before"),
                 "after": extract(args.after, tmp / "after")}
        print(f"CPU s median of {args.rounds} (ratio to floor) wall s; "
              f"before={args.before} after={args.after}")
        print(f"{'command':40s} {'floor':>6s}  {'before':>24s}  {'after':>24s}")
        report = {"rounds": args.rounds, "before": args.before, "after": args.after,
                  "commands": run_commands(names, trees, args.rounds, tmp)}
        if args.cpp is not None:
            print("\ngroup --sweep 1:T:0.5 vs the authors' C++ (process CPU time, median)")
            binary = build_cpp(args.cpp, tmp)
            report["cpp"] = run_cpp(binary, trees["after"], args.rounds, args.cpp_timeout,
                                    tmp)
    out = ROOT / "bench" / "results" / "overhead.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
