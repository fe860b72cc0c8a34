"""MGDA's min-norm solver at scale, and the training-step cost of MGDA / MGDA-UB vs uniform.

Claims (issue 7):
  (a) min-norm point of T=40 task gradients of dimension 10^6, conflicting: < 0.5 s including
      the Gram matrix, gap ≤ 1e-8 to a QP optimum. The QP reference is scipy's trust-constr on
      the same Gram matrix (an independent solver); "gap" is our ‖x‖² minus the reference's,
      relative to the longest gradient's ‖g‖²; the certificate is our Frank-Wolfe duality gap
      (an upper bound on the distance to the optimum, relative likewise).
  (b) training step time of MGDA-UB and MGDA relative to uniform on the conal_multidigits
      backbone (target MGDA-UB ≤ 1.3x), for the shipped CoNAL-shaped tree (trunk = block 1)
      and its all-shared variant (trunk = whole backbone, the usual MGDA-UB setting).

Step times: median over --steps steps after 3 warm-up steps, batch --batch, methods interleaved
step by step so load from other processes hits them alike; --threads torch threads.

Prints tables and writes JSON (default bench/results/mgda.json).
Run: .venv/bin/python bench/mgda.py [--tasks 40] [--dim 1000000] [--repeat 5] [--steps 30]
     [--batch 64] [--threads 1] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import Bounds, LinearConstraint, minimize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mtlspec.train.shared import gram_matrix  # noqa: E402
from mtlspec.train.weighting import min_norm_solve  # noqa: E402

SPEC = ROOT / "specs" / "conal_multidigits.mtl"


def gradients(kind: str, t: int, d: int, seed: int) -> torch.Tensor:
    """T float32 gradients of dimension d. conflicting: every odd one is −0.9 × its even
    neighbour plus noise (pairwise cosine ≈ −0.9) and norms spread over 100x; orthogonal:
    independent Gaussians; common: a shared direction plus noise (optimum inside a face)."""
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(t, d, generator=gen)
    if kind == "conflicting":
        g[1::2] = -0.9 * g[0::2][: t // 2] + 0.45 * g[1::2]
        g *= torch.logspace(-1, 1, t)[torch.randperm(t, generator=gen)][:, None]
    elif kind == "common":
        g += 3.0 * torch.randn(1, d, generator=gen)
    return g


def qp_reference(gram: np.ndarray) -> float:
    """min wᵀGw on the simplex with scipy's trust-constr (an interior-point QP solve,
    independent of mtlspec's active-set solver). SLSQP stops early on conflicting cases."""
    t = len(gram)
    scale = float(np.max(np.diag(gram)))
    g = gram / scale
    res = minimize(lambda w: w @ g @ w, np.full(t, 1.0 / t), jac=lambda w: 2 * g @ w,
                   hess=lambda w: 2 * g, method="trust-constr",
                   constraints=[LinearConstraint(np.ones((1, t)), 1.0, 1.0)],
                   bounds=Bounds(0.0, 1.0),
                   options={"gtol": 1e-14, "xtol": 1e-14, "maxiter": 5000})
    w = np.clip(res.x, 0.0, None)
    w /= w.sum()
    return float(w @ g @ w) * scale


def solver_rows(t: int, d: int, repeat: int) -> list[dict]:
    rows = []
    for kind in ("conflicting", "orthogonal", "common"):
        g = gradients(kind, t, d, seed=len(kind))
        times, gram_times = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            gram = gram_matrix(g).numpy()
            mid = time.perf_counter()
            res = min_norm_solve(gram)
            end = time.perf_counter()
            times.append(end - start)
            gram_times.append(mid - start)
        scale = float(np.max(np.diag(gram)))
        ref = qp_reference(gram)
        rows.append({"case": kind, "T": t, "dim": d,
                     "total_s": statistics.median(times), "gram_s": statistics.median(gram_times),
                     "gap_vs_qp": (res.norm2 - ref) / scale, "fw_gap": res.gap / scale,
                     "iterations": res.iterations, "support": int((res.weights > 0).sum()),
                     "converged": res.converged})
    return rows


def spec_variants() -> dict[str, str]:
    text = SPEC.read_text()
    shared = "\n".join(["    {left, right, parity}"] * 5)
    return {"conal (trunk = block 1)": text,
            "all-shared (trunk = 5 blocks)": re.sub(r"layout \[\n.*?\n  \]",
                                                    f"layout [\n{shared}\n  ]", text,
                                                    flags=re.S)}


def step_rows(steps: int, batch: int) -> list[dict]:
    from mtlspec.compile import compile
    from mtlspec.spec import parse, validate
    from mtlspec.train.data import load_data
    from mtlspec.train.losses import loss_for
    from mtlspec.train.step import Stepper
    from mtlspec.train.weighting import make_weighting

    data = load_data(tasks=["left", "right", "parity"], train_size=batch * (steps + 3),
                     val_size=1, test_size=1)
    tasks = list(data.tasks)
    fns = [loss_for(data.tasks[t]) for t in tasks]
    rows = []
    for label, text in spec_variants().items():
        methods = {}
        for name in ("uniform", "mgda", "mgda-ub"):
            torch.manual_seed(0)
            model = compile(validate(parse(text)))
            w = make_weighting(name)
            w.bind(tasks)
            x, _ = data.train.batch(torch.arange(batch))
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            methods[name] = (Stepper(model, tasks, fns, w, x), opt, [])
        for i in range(steps + 3):
            x, y = data.train.batch(torch.arange(i * batch, (i + 1) * batch))
            for stepper, opt, times in methods.values():
                start = time.perf_counter()
                stepper.step(x, y, opt)
                if i >= 3:
                    times.append(time.perf_counter() - start)
        base = statistics.median(methods["uniform"][2])
        for name, (_, _, times) in methods.items():
            med = statistics.median(times)
            rows.append({"model": label, "weighting": name, "step_ms": 1000 * med,
                         "vs_uniform": med / base})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--dim", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "mgda.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    solver = solver_rows(args.tasks, args.dim, args.repeat)
    print(f"min-norm solver, T={args.tasks}, dim={args.dim:,} (median of {args.repeat})")
    print(f"{'case':<12} {'total s':>8} {'gram s':>8} {'gap vs QP':>11} {'FW gap':>10} "
          f"{'iters':>6} {'support':>8}")
    for r in solver:
        print(f"{r['case']:<12} {r['total_s']:>8.3f} {r['gram_s']:>8.3f} {r['gap_vs_qp']:>11.2e} "
              f"{r['fw_gap']:>10.2e} {r['iterations']:>6} {r['support']:>8}")
    steps = step_rows(args.steps, args.batch)
    print(f"\ntraining step, batch {args.batch}, {args.threads} thread(s), median of "
          f"{args.steps} steps")
    print(f"{'model':<30} {'weighting':<9} {'ms/step':>8} {'vs uniform':>11}")
    for r in steps:
        print(f"{r['model']:<30} {r['weighting']:<9} {r['step_ms']:>8.2f} "
              f"{r['vs_uniform']:>10.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"settings": vars(args) | {"out": str(args.out)},
                                    "solver": solver, "step": steps}, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
