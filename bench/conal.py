"""CoNAL end to end on MultiDigits: search → spec → retrain (RLW) → `mtlspec build` (verified ONNX).

Compares, on the test split (left digit, right digit, parity; accuracy):
  single-task   one network per task (uniform loss; the Δ reference)
  all-shared    every block shared, uniform weights
  all-shared + MGDA-UB
  CoNAL         searched from specs/conal_multidigits.mtl's backbone, retrained with RLW
  (--ablation)  CoNAL without conflict noticing; (--pro) CoNAL-Pro, both retrained with RLW
Δ (%) is the mean relative change against single-task (positive = better). Params and MACs
are `mtlspec.cost` figures of the compiled model (fvcore: one multiply-add = one MAC). Also
prints the share of negative-cosine task-gradient pairs per shared block (the CoNAL paper's
Table 1) for the trained all-shared and CoNAL models, on validation batches.

Prints markdown tables and writes JSON (default bench/results/conal.json).
Run: .venv/bin/python bench/conal.py [--search-epochs 6] [--epochs 8] [--train-size 3000]
     [--ablation] [--pro] [--threads 1] [--out FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BASE = ROOT / "specs" / "conal_multidigits.mtl"

from mtlspec.compile import compile  # noqa: E402
from mtlspec.cost import cost  # noqa: E402
from mtlspec.io import write_atomic  # noqa: E402
from mtlspec.search.conal.conflicts import dataset_batches, gradient_conflicts  # noqa: E402
from mtlspec.search.conal.search import SearchConfig, search_conal  # noqa: E402
from mtlspec.search.conal.spec import layout_from_branch_points, tree_spec  # noqa: E402
from mtlspec.spec import format, load, validate  # noqa: E402
from mtlspec.train.data import load_data  # noqa: E402
from mtlspec.train.delta import relative_delta  # noqa: E402
from mtlspec.train.loop import train  # noqa: E402
from mtlspec.train.losses import loss_for  # noqa: E402


def _train(spec, data, weighting: str, args) -> tuple[object, dict]:
    torch.manual_seed(args.seed)
    model = compile(spec)
    started = time.perf_counter()
    result = train(model, data, weighting=weighting, epochs=args.epochs,
                   batch_size=args.batch_size, seed=args.seed)
    report = cost(model)
    return model, {"test": result.metrics, "val": result.val_metrics, "params": report.params,
                   "flops": report.flops, "seconds": time.perf_counter() - started}


def _single(base, data, args) -> dict:
    """One single-task network per task; params and FLOPs summed over the tasks."""
    out = {"test": {}, "val": {}, "params": 0, "flops": 0, "seconds": 0.0}
    for task in base.tasks:
        spec = validate(base.model_copy(update={
            "tasks": (task,), "name": f"single_{task.name}", "budget": None,
            "layout": tuple(frozenset({frozenset({task.name})}) for _ in base.layout)}))
        _, row = _train(spec, data, "uniform", args)  # the loop trains the model's tasks
        for key in ("test", "val"):
            out[key].update(row[key])
        for key in ("params", "flops", "seconds"):
            out[key] += row[key]
    return out


def _sizes(args) -> dict:
    return {"seed": args.seed, "train_size": args.train_size, "val_size": args.val_size,
            "test_size": args.test_size}


def _conflicts(model, data) -> list[dict]:
    losses = {t: loss_for(data.tasks[t]) for t in data.tasks}
    rows = gradient_conflicts(model, dataset_batches(data.val, batches=8, batch_size=64),
                              losses)
    return [{"module": r.name, "ratio": r.ratio, "pairs": r.pairs} for r in rows]


def _conal(base, data, args, tmp: Path, *, pro=False, noticing=True, build=False) -> dict:
    config = SearchConfig(epochs=args.search_epochs, batch_size=args.batch_size,
                          conflict_noticing=noticing, seed=args.seed)
    started = time.perf_counter()
    found = search_conal(base, data, config=config, pro=pro)
    search_s = time.perf_counter() - started
    model, row = _train(found.spec, data, "rlw", args)
    row.update(search_seconds=search_s, branch_points=found.branch_points,
               spec=format(found.spec), search_conflicts=[
                   dict(zip(("module", "ratio", "frozen_steps"), (i + 1, r, f), strict=True))
                   for i, (r, f) in enumerate(zip(found.stages[0].stats.ratio(),
                                                  found.stages[0].stats.frozen, strict=True))])
    if build:
        row["build"] = _build(found.spec, model, tmp)
        row["conflicts"] = _conflicts(model, data)
    return row


def _build(spec, model, tmp: Path) -> dict:
    """Write spec + weights, then run `mtlspec build` (export + onnxruntime verification)."""
    spec_path, weights, onnx = tmp / "conal.mtl", tmp / "conal.pt", tmp / "conal.onnx"
    write_atomic(spec_path, format(spec))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    write_atomic(weights, buffer.getvalue())
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mtlspec", "build", str(spec_path), "--weights",
                           str(weights), "-o", str(onnx)], capture_output=True, text=True,
                          cwd=ROOT)
    tail = (done.stdout + done.stderr).strip().splitlines()
    return {"exit_code": done.returncode, "seconds": time.perf_counter() - started,
            "verify": next((line for line in tail if line.startswith("verify")), ""),
            "onnx_bytes": onnx.stat().st_size if onnx.exists() else 0}


def _table(rows: dict, tasks: list[str], single: dict, infos) -> str:
    head = ["model", *tasks, "Δ vs single (%)", "params", "MMACs", "train s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in rows.items():
        delta = relative_delta(row["test"], single["test"], infos)
        seconds = row["seconds"] + row.get("search_seconds", 0.0)
        cells = [name, *(f"{row['test'][t]:.4f}" for t in tasks), f"{delta:+.2f}",
                 f"{row['params']:,}", f"{row['flops'] / 1e6:.3f}", f"{seconds:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search-epochs", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-size", type=int, default=3000)
    parser.add_argument("--val-size", type=int, default=500)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--pro", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "conal.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # tiny convs: more threads only add contention
    started = time.perf_counter()
    base = validate(load(str(BASE)))
    tasks = [t.name for t in base.tasks]
    data = load_data("multidigits", tasks=tasks, **_sizes(args))
    shared_spec = tree_spec(base, layout_from_branch_points(tasks, dict.fromkeys(tasks, 5), 5),
                            name="all_shared")
    rows: dict[str, dict] = {}
    single = _single(base, data, args)
    rows["single-task (×3)"] = single
    shared_model, rows["all-shared"] = _train(shared_spec, data, "uniform", args)
    rows["all-shared"]["conflicts"] = _conflicts(shared_model, data)
    _, rows["all-shared + MGDA-UB"] = _train(shared_spec, data, "mgda-ub", args)
    with tempfile.TemporaryDirectory() as tmp:
        rows["CoNAL + RLW"] = _conal(base, data, args, Path(tmp), build=True)
        if args.ablation:
            rows["CoNAL, no conflict noticing + RLW"] = _conal(base, data, args, Path(tmp),
                                                               noticing=False)
        if args.pro:
            rows["CoNAL-Pro + RLW"] = _conal(base, data, args, Path(tmp), pro=True)
    wall = time.perf_counter() - started
    print(_table(rows, tasks, single, data.tasks))
    conal = rows["CoNAL + RLW"]
    print(f"\nCoNAL branch points: {conal['branch_points']}; search "
          f"{conal['search_seconds']:.0f} s; build exit {conal['build']['exit_code']}: "
          f"{conal['build']['verify']}")
    for name in ("all-shared", "CoNAL + RLW"):
        shown = ", ".join(f"{c['module']}: {c['ratio']:.0%}" for c in rows[name]["conflicts"])
        print(f"negative-cosine pairs ({name}, trained): {shown or 'nothing shared'}")
    print(f"total wall time: {wall:.0f} s ({args.threads} torch thread(s))")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out, json.dumps({"args": vars(args), "rows": rows, "wall_seconds": wall},
                                      indent=2, default=str))


if __name__ == "__main__":
    main()
