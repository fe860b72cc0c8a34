"""End to end on MultiDigits: training plans → runs → recommender / grouping → trained specs → ONNX.

Recommender: `recommend plan` → `run` (local pool, once with --workers 1 and once with 2, the
same plan: the speed-up, and both must give the same pairs.csv) → `recommend` under a budget
→ train a handful of layouts (the top ones, all-shared, all-separate, random ones) to measure
their score Σ w_t Δ_t (test split, Δ vs the plan's single-task networks) → `recommend
--evaluate` (Pearson/Spearman of predicted vs measured) → train the top spec → `build` (ONNX,
verified with onnxruntime).

Grouping: `group plan --half-size` → `run` → candidates.csv → `group --budget` → grouping spec
→ train → `build`.

    python bench/run_e2e.py [--epochs 3] [--train-size 2000] [--budget-models 2]

Prints a table and writes bench/results/run_e2e.json (work files under bench/results/e2e/;
`--only PART` writes run_e2e_PART.json and e2e_PART/).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "specs" / "multidigits_tree.mtl"
OUT = ROOT / "bench" / "results"
MTLSPEC = [sys.executable, "-m", "mtlspec"]


def sh(*args: str, env: dict | None = None) -> tuple[float, str]:
    """Run an mtlspec command; return (seconds, stdout). Fails loudly on a non-zero exit."""
    start = time.perf_counter()
    done = subprocess.run([*MTLSPEC, *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"mtlspec {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return seconds, done.stdout


def run_args(args: argparse.Namespace) -> list[str]:
    return ["--data", "multidigits", "--epochs", str(args.epochs), "--data-option",
            f"train_size={args.train_size}"]


def pairs_part(args: argparse.Namespace, work: Path, figures: dict) -> Path:
    plans = {k: work / f"pairs_w{k}" for k in (1, 2)}
    for k, plan in plans.items():
        sh("recommend", "plan", "--spec", str(BASE), "-o", str(plan))
        figures[f"pairs_run_w{k}_s"], _ = sh("run", str(plan), "--workers", str(k),
                                            *run_args(args))
        # Σ training seconds ÷ wall: trainings in flight on average; Σ itself grows when
        # parallel trainings slow each other down (2 cores shared with other work)
        busy = sum(json.loads(p.read_text())["seconds"] for p in (plan / "results").iterdir())
        figures[f"pairs_train_sum_w{k}_s"] = busy
    figures["pairs_trainings"] = len(json.loads((plans[2] / "manifest.json").read_text())
                                     ["entries"])
    same = (plans[1] / "pairs.csv").read_text() == (plans[2] / "pairs.csv").read_text()
    figures["pairs_identical_w1_w2"] = same
    figures["speedup_w2_over_w1"] = figures["pairs_run_w1_s"] / figures["pairs_run_w2_s"]
    return plans[2]


def layouts_to_measure(ranking: dict, tasks: int, blocks: int, extra: int) -> list[int]:
    from mtlspec.search.treemtl import layouts as lay

    ids = [row["layout"] for row in ranking["top"][:3]]
    separate = lay.rank(lay.from_branch_points(tasks, blocks, [0] * (tasks * (tasks - 1) // 2)))
    rng = random.Random(0)
    pool = [i for i in range(lay.count(tasks, blocks)) if i not in {0, separate, *ids}]
    return list(dict.fromkeys([*ids, 0, separate, *rng.sample(pool, extra)]))


def measure_layouts(args, plan: Path, ranking: dict, work: Path, figures: dict) -> Path:
    """Train each chosen layout; write oracle.csv (layout, measured Σ w_t Δ_t on test)."""
    from mtlspec.plan import ExecutorOptions, Job, RunSettings, execute, run_job
    from mtlspec.search.treemtl import layouts as lay
    from mtlspec.spec import format as format_spec
    from mtlspec.spec import load, validate

    base = validate(load(BASE))
    tasks = [t.name for t in base.tasks]
    weights = dict(zip(tasks, ranking["weights"], strict=True))
    single = {t: json.loads((plan / "results" / f"{t}.json").read_text())["test"][t]
              for t in tasks}
    settings = RunSettings(epochs=args.epochs, data_options={"train_size": args.train_size})
    jobs = []
    for ident in layouts_to_measure(ranking, len(tasks), ranking["blocks"], args.extra):
        spec = validate(lay.to_spec(base, lay.unrank(len(tasks), ranking["blocks"], ident),
                                    name=f"layout{ident}"))
        jobs.append(Job(id=str(ident), spec_text=format_spec(spec), spec_name=f"{ident}.mtl",
                        settings=settings))
    start = time.perf_counter()
    rows = []
    for job, out in execute(run_job, jobs, ExecutorOptions(workers=2), preload=("torch",)):
        if isinstance(out, BaseException):
            raise out
        delta = {t: (out["test"][t] - single[t]) / single[t] * 100 for t in tasks}
        rows.append({"layout": int(job.id), "score": sum(weights[t] * delta[t] for t in tasks),
                     **{f"test_{t}": out["test"][t] for t in tasks}})
    figures["measure_layouts_s"] = time.perf_counter() - start
    rows.sort(key=lambda r: r["layout"])
    figures["measured_layouts"] = rows
    oracle = work / "oracle.csv"
    with oracle.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["layout", "score"])
        writer.writerows([[r["layout"], f"{r['score']:.6f}"] for r in rows])
    return oracle


def train_and_build(spec: Path, args, work: Path, tag: str, figures: dict) -> None:
    weights, onnx = work / f"{tag}.pt", work / f"{tag}.onnx"
    figures[f"{tag}_train_s"], out = sh("train", str(spec), "--epochs", str(args.epochs),
                                        "--train-size", str(args.train_size), "-o",
                                        str(weights), "--json", env={"OMP_NUM_THREADS": "2"})
    report = json.loads(out)
    figures[f"{tag}_test"] = report.get("test", report.get("metrics"))
    figures[f"{tag}_build_s"], _ = sh("build", str(spec), "--weights", str(weights), "-o",
                                      str(onnx))
    figures[f"{tag}_onnx_bytes"] = onnx.stat().st_size


def recommender(args, work: Path, figures: dict) -> None:
    plan = pairs_part(args, work, figures)
    top = work / "recommend"
    figures["recommend_s"], out = sh("recommend", "--spec", str(BASE), "--pairs",
                                     str(plan / "pairs.csv"), "--max-models",
                                     str(args.budget_models), "--top", "5", "-o", str(top),
                                     "--json")
    ranking = json.loads(out)
    figures["recommended"] = [{k: r[k] for k in ("rank", "layout", "gmacs", "score", "spec")}
                              for r in ranking["top"]]
    figures["weights"] = ranking["weights"]
    oracle = measure_layouts(args, plan, ranking, work, figures)
    _, out = sh("recommend", "--spec", str(BASE), "--pairs", str(plan / "pairs.csv"),
                "--evaluate", str(oracle), "--top", "1", "--json")
    figures["evaluation"] = json.loads(out)["evaluation"]
    best = top / ranking["top"][0]["spec"]
    figures["top_spec"] = best.read_text()
    train_and_build(best, args, work, "top", figures)


def grouping(args, work: Path, figures: dict) -> None:
    plan = work / "group"
    sh("group", "plan", "--spec", str(BASE), "--half-size", "-o", str(plan))
    figures["group_trainings"] = len(json.loads((plan / "manifest.json").read_text())
                                     ["entries"])
    figures["group_run_w2_s"], _ = sh("run", str(plan), "--workers", "2", *run_args(args))
    spec = work / "grouping.mtl"
    _, out = sh("group", "--table", str(plan / "candidates.csv"), "--eval",
                str(plan / "candidates_test.csv"), "--budget", str(args.budget_models),
                "--base-spec", str(BASE), "-o", str(spec), "--json")
    chosen = json.loads(out)
    figures["grouping"] = {k: chosen[k] for k in ("cost", "table", "eval", "networks")}
    figures["grouping_spec"] = spec.read_text()
    train_and_build(spec, args, work, "grouping", figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--budget-models", type=float, default=2.0)
    parser.add_argument("--extra", type=int, default=5, help="random layouts to measure")
    parser.add_argument("--only", choices=["recommend", "group", "speedup"], default=None,
                        help="one part (speedup: the pairs plan with 1 and 2 workers only)")
    args = parser.parse_args()
    suffix = f"_{args.only}" if args.only else ""
    work = OUT / f"e2e{suffix}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    figures: dict = {"cpus": os.cpu_count(), "epochs": args.epochs,
                     "train_size": args.train_size, "load_before": os.getloadavg()[0]}
    start = time.perf_counter()
    if args.only == "speedup":
        pairs_part(args, work, figures)
    if args.only in (None, "recommend"):
        recommender(args, work, figures)
    if args.only in (None, "group"):
        grouping(args, work, figures)
    figures["total_s"] = time.perf_counter() - start
    figures["load_after"] = os.getloadavg()[0]
    figures["json"] = f"bench/results/run_e2e{suffix}.json"
    (ROOT / figures["json"]).write_text(json.dumps(figures, indent=2) + "\n")
    report(figures)


def report(f: dict) -> None:
    print(f"MultiDigits end to end: {f['epochs']} epochs, {f['train_size']} training pairs, "
          f"{f['cpus']} CPUs (load {f['load_before']:.1f} → {f['load_after']:.1f}: shared)")
    if "pairs_run_w1_s" in f:
        print(f"pairs plan: {f['pairs_trainings']} trainings; --workers 1 "
              f"{f['pairs_run_w1_s']:.1f} s (Σ trainings {f['pairs_train_sum_w1_s']:.1f} s), "
              f"--workers 2 {f['pairs_run_w2_s']:.1f} s (Σ trainings "
              f"{f['pairs_train_sum_w2_s']:.1f} s); speed-up {f['speedup_w2_over_w1']:.2f}x; "
              f"identical pairs.csv: {f['pairs_identical_w1_w2']}")
    if "recommend_s" in f:
        print(f"recommend: {f['recommend_s']:.1f} s; top: " + ", ".join(
            f"#{r['rank']} layout {r['layout']} ({r['gmacs'] * 1e3:.3f} MMACs, "
            f"score {r['score']:.2f})" for r in f["recommended"]))
        ev = f["evaluation"]
        print(f"measured {len(f['measured_layouts'])} layouts in {f['measure_layouts_s']:.1f} s:"
              f" Pearson {ev.get('pearson', float('nan')):.3f}, "
              f"Spearman {ev.get('spearman', float('nan')):.3f}")
        for r in f["measured_layouts"]:
            print(f"  layout {r['layout']:>4}: measured score {r['score']:+.3f}")
        print(f"top spec: train {f['top_train_s']:.1f} s, build+verify {f['top_build_s']:.1f} s,"
              f" test {f['top_test']}")
    if "group_run_w2_s" in f:
        g = f["grouping"]
        print(f"grouping plan: {f['group_trainings']} trainings, --workers 2 "
              f"{f['group_run_w2_s']:.1f} s; chosen (cost {g['cost']:g}): {g['networks']}; "
              f"val total {g['table']:.4f}, test total {g['eval']:.4f}")
        print(f"grouping spec: train {f['grouping_train_s']:.1f} s, build+verify "
              f"{f['grouping_build_s']:.1f} s, test {f['grouping_test']}")
    print(f"total {f['total_s']:.1f} s; wrote {f['json']}")


if __name__ == "__main__":
    main()
