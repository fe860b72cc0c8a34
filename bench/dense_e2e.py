"""Dense multi-task learning end to end on the shipped scenes (issue 15 item 7), ≥ 2 seeds.

Methods, all on bench/scenes_small.mtl's backbone and heads (segment, depth, normal at 32x32):
  single-task   one network per task (the plan's single-task entries; the Δm reference)
  all-shared    every block shared, uniform weights; and with MGDA-UB
  TreeMTL       `recommend plan` → `run` (local pool) → `recommend` under --max-models →
                train the top spec (uniform)
  CoNAL         `search conal` (plain sum) → retrain the found tree (uniform)
  DAG           `search dag` on a small central network (states 4, flow 2) → its fine-tune
For each: each task's main metric (segment mIoU ↑, depth abs error ↓, normal mean angle ↓),
Δm % vs the same seed's single-task models over every metric of every task (Maninis et al.;
positive = better), params and MACs (`mtlspec.cost`, heads included; single-task: summed),
wall time (training, plus search/plan where there is one). Mean ± std over seeds.
Also the recommender's predicted score vs the measured Δm of its top --rank-k layouts
(Spearman per seed).

Prints a markdown table and writes JSON (default bench/results/dense_e2e.json).
Run: .venv/bin/python bench/dense_e2e.py [--seeds 0,1] [--size 32] [--train-size 192]
     [--epochs 4] [--search-epochs 2] [--workers 2] [--rank-k 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BASE = ROOT / "bench" / "scenes_small.mtl"
DAG = """dag scenes_dag {
  input image: float[1, 3, SIZE, SIZE]
  central { states: 4; flow: 2; stem: conv(out=16, stride=2); edge: conv3x3 }
  tasks {
    segment: head conv(classes=17, hidden=16)
    depth: head conv(out=1, hidden=16)
    normal: head conv(out=3, hidden=16)
  }
  topology segment { in: 1; out: 1 }
  topology depth { in: 1; out: 1 }
  topology normal { in: 1; out: 1 }
}
"""
MAIN = {"segment": "miou", "depth": "abs_err", "normal": "mean_angle"}

from click.testing import CliRunner  # noqa: E402

from mtlspec import load_model  # noqa: E402
from mtlspec.cli import main as cli  # noqa: E402
from mtlspec.compile import compile  # noqa: E402
from mtlspec.cost import cost  # noqa: E402
from mtlspec.plan import ExecutorOptions, RunSettings, pairs_plan, run_plan, write_plan  # noqa: E402
from mtlspec.search.conal import SearchConfig, search_conal  # noqa: E402
from mtlspec.search.dag.stages import SearchConfig as DagConfig  # noqa: E402
from mtlspec.search.dag.stages import run_dag_search  # noqa: E402
from mtlspec.search.treemtl.recommender import cost_model  # noqa: E402
from mtlspec.spec import load, parse, validate  # noqa: E402
from mtlspec.train.delta import relative_delta  # noqa: E402
from mtlspec.train.prepare import fit_to_data  # noqa: E402
from mtlspec.train.settings import fit  # noqa: E402


def _train(spec, data, settings: RunSettings, weighting: str = "uniform") -> dict:
    model = load_model(spec, seed=settings.seed, dtype=torch.float32)
    fit_to_data(spec, model, data)
    started = time.perf_counter()
    result = fit(model, data, settings, weighting=None if weighting == "uniform" else
                 _weighting(weighting, settings.seed))
    report = cost(model)
    return {"test": result.all_metrics, "params": report.params, "macs": report.flops,
            "seconds": time.perf_counter() - started}


def _weighting(name: str, seed: int):
    from mtlspec.train.weighting import make_weighting

    return make_weighting(name, seed=seed)


def _all_shared(base):
    rows = tuple(frozenset({frozenset(t.name for t in base.tasks)}) for _ in base.layout)
    return validate(base.model_copy(update={"layout": rows, "name": "all_shared"}))


def _delta(test: dict, single: dict, tasks: dict, skipped: set, main: bool = False) -> float:
    """Δm % over every metric (`main`: each task's main metric only) whose single-task value
    is not 0 (Δ is undefined there: a tiny run's single-task normal model can have no pixel
    within 11.25°); skipped ones are noted."""
    if main:
        test = {t: {MAIN[t]: v[MAIN[t]]} for t, v in test.items()}
        single = {t: {MAIN[t]: v[MAIN[t]]} for t, v in single.items()}
    base = {}
    for task, values in single.items():
        base[task] = {m: v for m, v in values.items() if v != 0}
        skipped.update(f"{task}.{m}" for m, v in values.items() if v == 0)
    return relative_delta(test, base, tasks)


def _spearman(a: list[float], b: list[float]) -> float | None:
    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        for k, i in enumerate(order):
            r[i] = float(k)
        return r
    if len(a) < 2:
        return None
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.mean(ra), statistics.mean(rb)
    num = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    den = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return num / den if den else None


def _treemtl(base, settings, data, args, tmp: Path) -> tuple[list[dict], dict]:
    plan = tmp / "plan"
    started = time.perf_counter()
    manifest, texts = pairs_plan(base, cost_model(base), base_name=str(BASE))
    write_plan(plan, manifest, texts)
    report = run_plan(plan, settings, ExecutorOptions(workers=args.workers), progress=False)
    if report.failed:
        raise SystemExit(f"plan failed: {report.failed}")
    plan_s = time.perf_counter() - started
    results = {e.id: json.loads((plan / "results" / f"{e.id}.json").read_text())
               for e in manifest.entries}
    out = tmp / "rec"
    done = CliRunner().invoke(cli, ["recommend", "--spec", str(BASE), "--pairs",
                                    str(plan / "pairs.csv"), "--max-models", str(args.max_models),
                                    "--top", str(args.rank_k), "-o", str(out), "--json"])
    if done.exit_code != 0:
        raise SystemExit(done.output)
    ranking = json.loads(done.stdout)["top"]
    rows = [_train(validate(load(out / entry["spec"])), data, settings) for entry in ranking]
    rows[0]["seconds"] += plan_s  # the top spec's row carries the plan's trainings
    rows[0]["layout"] = ranking[0]["text"]
    singles = {r["tasks"][0]: r for r in results.values() if len(r["tasks"]) == 1}
    return rows, {"plan_seconds": plan_s, "trainings": len(results),
                  "predicted": [e["score"] for e in ranking],
                  "layouts": [e["text"] for e in ranking], "singles": singles}


def _single_row(base, singles: dict) -> dict:
    row = {"test": {}, "params": 0, "macs": 0, "seconds": 0.0}
    for task in base.tasks:
        record = singles[task.name]
        row["test"][task.name] = record["all_test"][task.name]
        row["seconds"] += record["seconds"]
        spec = validate(base.model_copy(update={
            "tasks": (task,), "name": f"single_{task.name}",
            "layout": tuple(frozenset({frozenset({task.name})}) for _ in base.layout)}))
        report = cost(compile(spec))
        row["params"] += report.params
        row["macs"] += report.flops
    return row


def run_seed(seed: int, args, tmp: Path) -> tuple[dict, dict]:
    torch.set_num_threads(args.threads)
    base = validate(load(BASE))
    options = {"size": args.size, "train_size": args.train_size, "val_size": args.val_size,
               "test_size": args.test_size}
    settings = RunSettings(data="scenes", data_options=options, epochs=args.epochs,
                           batch_size=args.batch_size, seed=seed)
    tasks = [t.name for t in base.tasks]
    data = settings.load_data(tasks)
    rows: dict[str, dict] = {}
    ranked, rank = _treemtl(base, settings, data, args, tmp / f"s{seed}")
    # the plan's single-task entries are the baselines (same settings, same seed)
    rows["single-task"] = _single_row(base, rank.pop("singles"))
    single = rows["single-task"]["test"]
    skipped: set[str] = set()
    rank["measured"] = [_delta(r["test"], single, data.tasks, skipped) for r in ranked]
    rank["spearman"] = _spearman(rank["predicted"], rank["measured"])
    rows["all-shared"] = _train(_all_shared(base), data, settings)
    rows["all-shared + MGDA-UB"] = _train(_all_shared(base), data, settings, "mgda-ub")
    rows["TreeMTL top-1"] = ranked[0]
    started = time.perf_counter()
    found = search_conal(base, data, config=SearchConfig(epochs=args.search_epochs,
                                                        batch_size=args.batch_size, seed=seed))
    search_s = time.perf_counter() - started
    conal = _train(found.spec, data, settings)
    conal["seconds"] += search_s
    conal["layout"] = str(found.branch_points)
    rows["CoNAL"] = conal
    dag_base = validate(parse(DAG.replace("SIZE", str(args.size))))
    config = DagConfig(epochs_warmup=1, epochs_search=args.search_epochs,
                       epochs_finetune=args.epochs, batch_size=args.batch_size, seed=seed)
    started = time.perf_counter()
    dag = run_dag_search(dag_base, data, config)
    report = cost(dag.model)
    rows["DAG search"] = {"test": dag.finetune.all_metrics, "params": report.params,
                          "macs": report.flops, "seconds": time.perf_counter() - started}
    for row in rows.values():
        row["delta"] = _delta(row["test"], single, data.tasks, skipped)
        row["delta_main"] = _delta(row["test"], single, data.tasks, skipped, main=True)
    rank["delta_skipped"] = sorted(skipped)
    return rows, rank


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--train-size", type=int, default=192)
    parser.add_argument("--val-size", type=int, default=64)
    parser.add_argument("--test-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--search-epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-models", type=float, default=2.0)
    parser.add_argument("--rank-k", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "dense_e2e.json")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    started = time.perf_counter()
    per_seed, ranks = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            per_seed[seed], ranks[seed] = run_seed(seed, args, Path(tmp))
    print_table(per_seed, ranks, args, time.perf_counter() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                    "per_seed": per_seed, "rank": ranks}, indent=2,
                                   default=float) + "\n")
    print(f"wrote {args.out}")


def _ms(values: list[float], digits: int = 3) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def print_table(per_seed: dict, ranks: dict, args, total: float) -> None:
    methods = list(next(iter(per_seed.values())))
    print(f"\nDense scenes {args.size}x{args.size}, train {args.train_size} / val "
          f"{args.val_size} / test {args.test_size}, {args.epochs} epochs, seeds "
          f"{args.seeds}; test split, mean ± std over seeds ({total:.0f} s in all)\n")
    print("| method | segment mIoU ↑ | depth abs err ↓ | normal mean angle ↓ | Δm % ↑ (all "
          "metrics) | Δm % ↑ (main metrics) | params | MMACs | wall s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for m in methods:
        rows = [per_seed[s][m] for s in per_seed]
        cells = [_ms([r["test"][t][MAIN[t]] for r in rows], 2 if t == "normal" else 3)
                 for t in ("segment", "depth", "normal")]
        print(f"| {m} | {' | '.join(cells)} | {_ms([r['delta'] for r in rows], 2)} | "
              f"{_ms([r['delta_main'] for r in rows], 2)} | "
              f"{rows[0]['params']:,} | {rows[0]['macs'] / 1e6:.2f} | "
              f"{_ms([r['seconds'] for r in rows], 1)} |")
    print("\nTreeMTL recommender: predicted score of its top layouts vs measured Δm % "
          "(trained as above)")
    for seed, rank in ranks.items():
        pairs = ", ".join(f"{lay}: {p:+.2f} → {m:+.2f}" for lay, p, m in
                          zip(rank["layouts"], rank["predicted"], rank["measured"], strict=True))
        print(f"- seed {seed}: Spearman {rank['spearman']}; {pairs}")
        if rank["delta_skipped"]:
            print(f"  (Δm leaves out metrics whose single-task value is 0: "
                  f"{', '.join(rank['delta_skipped'])})")
    for seed in per_seed:
        print(f"- seed {seed}: TreeMTL top-1 layout {per_seed[seed]['TreeMTL top-1']['layout']};"
              f" CoNAL branch points {per_seed[seed]['CoNAL']['layout']}")


if __name__ == "__main__":
    main()
