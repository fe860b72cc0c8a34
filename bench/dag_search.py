"""DAG topology search on MultiDigits, end to end: search → DAG spec → fine-tune → ONNX.

One search (warm-up + search stages) on specs/multidigits_dag.mtl, then three reductions of
the same searched weights at equal sparsity (flow-based, random, global threshold), each
written as a DAG spec, compiled, initialised from the searched θ and fine-tuned. The
flow-based spec is built with `mtlspec build --weights` (verified ONNX). Baselines, trained
from scratch for as many epochs as warm-up + search + fine-tuning together: one single-task
network per task and one all-shared network (every task on the full central network).

Reports per-task test accuracy, Δ vs single-task (%), parameters (full central network vs
reduced), live edges and sparsity, and each task's depth D / width W / sparsity S.
Prints markdown tables and writes JSON (default bench/results/dag_search.json); the searched
spec and weights go next to it.
Run: .venv/bin/python bench/dag_search.py [--train-size 4000] [--warmup 6] [--search 4]
     [--finetune 6] [--threads 1] [--seed 0]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "specs" / "multidigits_dag.mtl"


def params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def row(name, metrics, tasks, single, n_params, edges, sparsity, seconds) -> dict:
    from mtlspec.train.delta import relative_delta

    delta = relative_delta(metrics, single, tasks) if single else None
    return {"network": name, "metrics": metrics, "delta": delta, "params": n_params,
            "edges": edges, "sparsity": sparsity, "seconds": seconds}


def baselines(central, data, config, epochs: int) -> tuple[dict, dict]:
    """Single-task networks and the all-shared network, trained from scratch."""
    from mtlspec.compile import compile
    from mtlspec.search.dag.report import full_spec
    from mtlspec.train.loop import train

    out, single = {}, {}
    for task in data.tasks:
        model = compile(full_spec(central, [task]))
        start = time.perf_counter()
        result = train(model, data, epochs=epochs, batch_size=config.batch_size,
                       lr=config.lr, seed=config.seed)
        single[task] = result.metrics[task]
        out[f"single-task {task}"] = (model, result, time.perf_counter() - start)
    model = compile(full_spec(central))
    start = time.perf_counter()
    result = train(model, data, epochs=epochs, batch_size=config.batch_size, lr=config.lr,
                   seed=config.seed)
    out["all-shared"] = (model, result, time.perf_counter() - start)
    return out, single


def build_onnx(spec_path: Path, weights: Path, onnx_path: Path) -> tuple[bool, float, str]:
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "mtlspec", "build", str(spec_path), "-o",
                          str(onnx_path), "--weights", str(weights)],
                         capture_output=True, text=True, cwd=ROOT)
    last = (run.stdout + run.stderr).strip().splitlines()
    return run.returncode == 0, time.perf_counter() - start, last[-1] if last else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-size", type=int, default=4000)
    ap.add_argument("--test-size", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=6)
    ap.add_argument("--search", type=int, default=4)
    ap.add_argument("--finetune", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "dag_search.json")
    args = ap.parse_args()
    wall = time.perf_counter()
    import torch

    torch.set_num_threads(args.threads)
    from mtlspec.io import write_atomic
    from mtlspec.search.dag.flow import reduce_all
    from mtlspec.search.dag.report import spec_stats, to_dag_spec
    from mtlspec.search.dag.stages import SearchConfig, finetune, search
    from mtlspec.spec import format, load, validate
    from mtlspec.train.data import load_data

    base = validate(load(BASE))
    config = SearchConfig(epochs_warmup=args.warmup, epochs_search=args.search,
                          epochs_finetune=args.finetune, seed=args.seed)
    data = load_data("multidigits", tasks=[t.name for t in base.tasks], seed=args.seed,
                     train_size=args.train_size, test_size=args.test_size)
    state = search(base, data, config)
    print(f"search (warm-up {args.warmup} + search {args.search} epochs): "
          f"{state.seconds:.1f}s", file=sys.stderr)
    net, central = state.supernet, state.supernet.spec
    archs = net.task_archs()
    from mtlspec.train.loop import evaluate

    supernet_metrics = evaluate(net, data.test, data.tasks)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows, topo, build = [], {}, None
    searched = {}
    for method in ("flow", "random", "threshold"):
        spec = to_dag_spec(central, reduce_all(archs, central.central.flow, method, args.seed),
                           name=f"multidigits_dag_{method}")
        start = time.perf_counter()
        model, result, _ = finetune(spec, net, data, config)
        stats = spec_stats(spec)
        topo[method] = [s.__dict__ for s in stats]
        searched[method] = (model, result, spec, stats, time.perf_counter() - start)
        if method == "flow":
            spec_path = args.out.with_name("multidigits_dag_searched.mtl")
            weights = args.out.with_name("multidigits_dag_searched.pt")
            write_atomic(spec_path, format(spec))
            blob = io.BytesIO()
            torch.save(model.state_dict(), blob)
            write_atomic(weights, blob.getvalue())
            build = build_onnx(spec_path, weights, args.out.with_name("multidigits_dag.onnx"))
    base_runs, single = baselines(central, data, config,
                                  args.warmup + args.search + args.finetune)
    rows.append(row("supernet after search (soft weights)", supernet_metrics, data.tasks,
                    single, net.central_params(), len(net.edge_list), 0.0, state.seconds))
    n_edges = len(net.edge_list)
    for name, (model, result, sec) in base_runs.items():
        rows.append(row(name, result.metrics, data.tasks, single if name == "all-shared"
                        else None, params(model), len(model.plan.edges), 0.0, sec))
    for method, (model, result, spec, _, sec) in searched.items():
        live = len(model.plan.edges)  # edges some task uses live (the ones with weights)
        rows.append(row(f"searched ({method})", result.metrics, data.tasks, single,
                        params(model), live, 1 - live / n_edges, sec))
        rows[-1]["kept"] = sum(len(t.edges) for t in spec.topologies)
    report = {"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows,
              "topologies": topo, "params_full_central": net.central_params(),
              "search_seconds": state.seconds, "build": build,
              "arch": {t: {k: getattr(a, k).round(3).tolist() for k in ("alpha", "beta")}
                       for t, a in archs.items()},
              "wall_seconds": time.perf_counter() - wall, "central_edges": n_edges}
    write_atomic(args.out, json.dumps(report, indent=2))
    print_tables(report, list(data.tasks))


def print_tables(report: dict, tasks: list[str]) -> None:
    head = ["network", *tasks, "Δ vs single (%)", "params", "task edges kept", "edges used",
            "sparsity", "s"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in report["rows"]:
        accs = [f"{r['metrics'][t]:.3f}" if t in r["metrics"] else "—" for t in tasks]
        delta = "—" if r["delta"] is None else f"{r['delta']:+.2f}"
        print(f"| {r['network']} | " + " | ".join(accs) + f" | {delta} | {r['params']:,} | "
              f"{r.get('kept', '—')} | {r['edges']} | {r['sparsity']:.2f} | {r['seconds']:.0f} |")
    print(f"\nfull central network (all {report['central_edges']} edges, 3 heads): "
          f"{report['params_full_central']:,} params")
    print("\n| reduction | task | in | out | live edges | D | W | S |")
    print("|---|---|---|---|---|---|---|---|")
    for method, stats in report["topologies"].items():
        for s in stats:
            ins, outs = (" ".join(map(str, s[k])) for k in ("read_in", "read_out"))
            print(f"| {method} | {s['task']} | {ins} | {outs} | {s['edges']} "
                  f"| {s['depth']} | {s['width']} | {s['sparsity']:.2f} |")
    ok, secs, last = report["build"]
    print(f"\nmtlspec build (flow spec, --weights): {'ok' if ok else 'FAILED'} in {secs:.1f}s: "
          f"{last}")
    print(f"search {report['search_seconds']:.0f}s; wall time {report['wall_seconds']:.0f}s")


if __name__ == "__main__":
    main()
