"""Every weighting method: training-step cost relative to uniform, peak memory, and Δm.

Claims (issue 16):
  (a) step time of every method relative to uniform on the same model and batches: one run,
      methods alternating step by step (so load from other processes hits them alike);
      medians of the process CPU time (time.process_time, --threads torch threads: robust on a
      shared machine) and of the wall time (only meaningful on an idle machine);
  (b) peak memory of a training step: on CUDA the allocator's peak per method; on the CPU the
      growth of the process's peak RSS over two uniform warm-up steps, each method in its own
      process — what a step needs beyond a uniform step (0: no more, at MiB resolution; small
      models show 0 since the per-task gradients are smaller than the activations);
  (c) Δm (%) against single-task training of the same network (each task alone: fixed weights
      1 on it, 0 on the others), over every metric of every task (dense tasks: mIoU and pixel
      accuracy, abs and rel error, angles, ...), mean ± std over --seeds seeds; Δm > 0 is
      better than single-task. "> unif": yes / no when the means differ by more than the
      seeds' combined standard deviation, ≈ otherwise.

Prints a table and writes JSON (default bench/results/weightings.json).
Dense scenes: --spec bench/scenes_small.mtl --data scenes --data-option size=16 (images of
another size than the spec's input train at the data's size).
Run: .venv/bin/python bench/weightings.py [--spec specs/conal_multidigits.mtl]
     [--data multidigits] [--data-option k=v] [--methods a,b] [--rep-grad] [--steps 20]
     [--batch 64] [--seeds 2] [--epochs 3] [--train-size 2000] [--device cpu] [--no-delta]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mtlspec.cli.options import parse_data_options  # noqa: E402
from mtlspec.compile import compile  # noqa: E402
from mtlspec.compile.heads import set_output_size  # noqa: E402
from mtlspec.spec import load, validate  # noqa: E402
from mtlspec.train.data import load_data  # noqa: E402
from mtlspec.train.delta import relative_delta  # noqa: E402
from mtlspec.train.loop import train  # noqa: E402
from mtlspec.train.losses import loss_for  # noqa: E402
from mtlspec.train.step import Stepper  # noqa: E402
from mtlspec.train.weighting import METHODS, make_weighting  # noqa: E402
from mtlspec.train.weighting.gradient import CVXPY  # noqa: E402


def variants(names: list[str], rep_grad: bool) -> list[tuple[str, str, dict]]:
    """(label, method, options): every method, plus its rep_grad form when asked."""
    out = []
    for name in names:
        if name == "fixed":  # needs per-task weights; the single-task runs use it
            continue
        out.append((name, name, {}))
        if rep_grad and "rep_grad" in METHODS[name].options():
            out.append((f"{name}+rep", name, {"rep_grad": True}))
    return out


def setup(args) -> tuple:
    spec = validate(load(str(args.spec)))
    tasks = [t.name for t in spec.tasks]
    options = parse_data_options(tuple(args.data_option))
    data = load_data(args.data, tasks=tasks, seed=0, train_size=args.train_size, **options)
    return spec, data, tasks


def model_for(spec, seed: int, device: str, data=None):
    """The spec's network, initialised from `seed` (spec paths resolve from specs/); with
    `data`, its dense heads predict at the data's image size."""
    torch.manual_seed(seed)
    model = compile(spec, base_dir=ROOT / "specs")
    if data is not None:
        set_output_size(model, tuple(data.input_shape[-2:]))
    return model.to(device)


def stepper_for(spec, data, tasks, label, name, options, device):
    model = model_for(spec, 0, device, data)
    w = make_weighting(name, **options)
    w.bind(tasks)
    x, _ = data.train.batch(torch.arange(min(64, len(data.train))))
    fns = [loss_for(data.tasks[t]) for t in tasks]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return Stepper(model, tasks, fns, w, x.to(device)), opt


def batches(data, batch: int, count: int, device: str):
    n = len(data.train)
    for i in range(count):
        idx = torch.arange(i * batch, (i + 1) * batch) % n
        x, y = data.train.batch(idx)
        yield x.to(device), {t: v.to(device) for t, v in y.items()}


def step_times(args, spec, data, tasks, runs) -> dict[str, dict]:
    """Median CPU and wall time per step, methods interleaved step by step."""
    steppers = {label: stepper_for(spec, data, tasks, label, name, opts, args.device)
                for label, name, opts in runs}
    cpu = {label: [] for label in steppers}
    wall = {label: [] for label in steppers}
    for i, (x, y) in enumerate(batches(data, args.batch, args.steps + 3, args.device)):
        for label, (stepper, opt) in steppers.items():
            c0, w0 = time.process_time(), time.perf_counter()
            stepper.step(x, y, opt)
            if args.device != "cpu":
                torch.cuda.synchronize()
            if i >= 3:
                cpu[label].append(time.process_time() - c0)
                wall[label].append(time.perf_counter() - w0)
    return {label: {"cpu_ms": 1000 * statistics.median(cpu[label]),
                    "wall_ms": 1000 * statistics.median(wall[label])} for label in steppers}


def peak_memory(args, spec, data, tasks, label, name, options) -> float:
    """MiB a step of the method needs above a uniform step (see the module docs)."""
    if args.device != "cpu":
        stepper, opt = stepper_for(spec, data, tasks, label, name, options, args.device)
        (x, y), = batches(data, args.batch, 1, args.device)
        stepper.step(x, y, opt)  # optimiser state allocated
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        stepper.step(x, y, opt)
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    cmd = [sys.executable, __file__, "--memory-of", json.dumps([label, name, options]),
           "--spec", str(args.spec), "--data", args.data, "--batch", str(args.batch),
           "--train-size", str(args.train_size),
           *[part for o in args.data_option for part in ("--data-option", o)]]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _memory_child(args) -> None:
    torch.set_num_threads(1)
    label, name, options = json.loads(args.memory_of)
    spec, data, tasks = setup(args)
    uniform, opt_u = stepper_for(spec, data, tasks, "uniform", "uniform", {}, "cpu")
    stepper, opt = stepper_for(spec, data, tasks, label, name, options, "cpu")
    (x, y), = batches(data, args.batch, 1, "cpu")
    uniform.step(x, y, opt_u)
    uniform.step(x, y, opt_u)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(3):
        stepper.step(x, y, opt)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((after - before) / 1024)  # ru_maxrss is in KiB on Linux


def deltas(args, spec, data, tasks, runs) -> dict[str, list[float]]:
    """Δm per seed for every run, against single-task training of the same network."""
    settings = {"epochs": args.epochs, "batch_size": args.batch, "device": args.device}
    out: dict[str, list[float]] = {label: [] for label, _, _ in runs}
    for seed in range(args.seeds):
        single = {}
        for t in tasks:
            alone = make_weighting("fixed", weights={u: float(u == t) for u in tasks})
            result = train(model_for(spec, seed, args.device, data), data, weighting=alone,
                           seed=seed, **settings)
            single[t] = result.all_metrics[t]  # every metric (dense: mIoU and pixel acc, ...)
        for label, name, opts in runs:
            result = train(model_for(spec, seed, args.device, data), data,
                           weighting=make_weighting(name, seed=seed, **opts), seed=seed,
                           **settings)
            out[label].append(relative_delta(result.all_metrics, single, data.tasks))
            print(f"  seed {seed} {label:<16} Δm {out[label][-1]:+.2f}%", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "specs" / "conal_multidigits.mtl")
    parser.add_argument("--data", default="multidigits")
    parser.add_argument("--data-option", action="append", default=[])
    parser.add_argument("--methods", default=None, help="comma-separated (default: all)")
    parser.add_argument("--rep-grad", action="store_true", help="also every rep_grad form")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-delta", action="store_true", help="skip the Δm training runs")
    parser.add_argument("--memory-of", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "bench" / "results" / "weightings.json")
    args = parser.parse_args()
    if args.memory_of:
        _memory_child(args)
        return
    torch.set_num_threads(args.threads)
    names = args.methods.split(",") if args.methods else list(METHODS)
    have_cvxpy = all(__import__("importlib.util").util.find_spec(m) for m in CVXPY)
    names = [n for n in names if have_cvxpy or n not in ("cagrad", "nash-mtl")]
    runs = variants(names, args.rep_grad)
    if "uniform" not in [r[0] for r in runs]:
        runs.insert(0, ("uniform", "uniform", {}))
    spec, data, tasks = setup(args)
    print(f"{spec.name} on {args.data} ({', '.join(tasks)}), batch {args.batch}, "
          f"{args.threads} thread(s), {args.device}; load average "
          f"{', '.join(f'{v:.1f}' for v in __import__('os').getloadavg())}", flush=True)
    times = step_times(args, spec, data, tasks, runs)
    memory = {label: peak_memory(args, spec, data, tasks, label, name, opts)
              for label, name, opts in runs}
    delta = {} if args.no_delta else deltas(args, spec, data, tasks, runs)
    rows = table(runs, times, memory, delta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()},
                                    "load_average": __import__("os").getloadavg(),
                                    "rows": rows}, indent=2))
    print(f"\nwrote {args.out}")


def _beats(mean, std, base_mean, base_std) -> bool | None:
    """True / False when the Δm means differ by more than their combined seed spread, None
    (within noise, or no Δm) otherwise."""
    if mean is None or base_mean is None:
        return None
    margin = (std**2 + base_std**2) ** 0.5
    return True if mean - base_mean > margin else False if base_mean - mean > margin else None


def table(runs, times, memory, delta) -> list[dict]:
    base_cpu, base_wall = times["uniform"]["cpu_ms"], times["uniform"]["wall_ms"]
    base = delta.get("uniform", [])
    base_mean = statistics.mean(base) if base else None
    base_std = statistics.stdev(base) if len(base) > 1 else 0.0
    rows = []
    print(f"\n{'method':<16} {'kind':<8} {'cpu ms':>7} {'×unif':>6} {'wall ×':>7} "
          f"{'+MiB':>6} {'Δm % (mean ± std)':>19} {'> unif':>6}")
    for label, name, _ in runs:
        d = delta.get(label, [])
        mean = statistics.mean(d) if d else None
        std = statistics.stdev(d) if len(d) > 1 else 0.0
        row = {"method": label, "kind": METHODS[name].kind, "cpu_ms": times[label]["cpu_ms"],
               "cpu_vs_uniform": times[label]["cpu_ms"] / base_cpu,
               "wall_vs_uniform": times[label]["wall_ms"] / base_wall,
               "peak_mib_over_uniform_step": memory[label], "delta_m": d,
               "delta_mean": mean, "delta_std": std if d else None,
               "beats_uniform": _beats(mean, std, base_mean, base_std)}
        rows.append(row)
        shown = f"{mean:+7.2f} ± {std:5.2f}" if d else "-"
        beats = "" if mean is None or label == "uniform" else {
            True: "yes", False: "no", None: "≈"}[row["beats_uniform"]]
        print(f"{label:<16} {row['kind']:<8} {row['cpu_ms']:>7.1f} "
              f"{row['cpu_vs_uniform']:>5.2f}x {row['wall_vs_uniform']:>6.2f}x "
              f"{memory[label]:>6.1f} {shown:>19} {beats:>6}")
    return rows


if __name__ == "__main__":
    main()
