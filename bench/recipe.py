"""The training loop's overhead, and bf16 autocast vs float32 step time on the CPU.

Claims (issue 17):
  (a) `mtlspec.train.loop.train` (uniform weighting, Adam, constant rate) costs ≤ 1.10x a
      minimal hand-written PyTorch loop training the same compiled model on the same data: the
      same batches in the same order (the loop's per-epoch permutation), the same seed and
      initial weights, Adam, the mean of the task losses, one validation pass per epoch and a
      test pass at the end (ours computes every metric; the hand loop takes accuracy only).
      Both end with equal weights up to float rounding (printed: the largest difference).
      Rounds alternate ours / hand (and start with a warm-up of each) so load from other
      processes hits both alike; reported: median wall-time ratio and median CPU-time ratio.
  (b) step time of a training step (forward + backward + Adam) in float32 and under
      `--amp bf16` on the CPU, for the small conal_multidigits tree and the scenes ResNet
      (conv-heavy, where bf16 kernels matter), median over --steps steps, interleaved.

Prints tables and writes JSON (default bench/results/recipe.json).
Run: .venv/bin/python bench/recipe.py [--rounds 5] [--epochs 2] [--train-size 1024]
     [--batch 64] [--steps 20] [--threads 1] [--out FILE]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mtlspec import load_model  # noqa: E402
from mtlspec.compile.heads import set_output_size  # noqa: E402
from mtlspec.data import load_data  # noqa: E402
from mtlspec.train.amp import Precision  # noqa: E402
from mtlspec.train.epochs import data_order  # noqa: E402
from mtlspec.train.loop import train  # noqa: E402
from mtlspec.train.losses import loss_for  # noqa: E402
from mtlspec.train.step import Stepper  # noqa: E402
from mtlspec.train.weighting import make_weighting  # noqa: E402

CONAL = ROOT / "specs" / "conal_multidigits.mtl"
SCENES = ROOT / "specs" / "scenes_resnet.mtl"


def tensors(dataset) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A whole split as tensors (what a minimal loop would hold in memory)."""
    if hasattr(dataset, "batch"):
        return dataset.batch(torch.arange(len(dataset)))
    items = [dataset[i] for i in range(len(dataset))]
    return (torch.stack([it[0] for it in items]),
            {t: torch.stack([torch.as_tensor(it[1][t]) for it in items]) for t in items[0][1]})


def hand_loop(model, data, epochs: int, batch: int, lr: float, seed: int) -> None:
    """The minimal loop: permutation, slice, forward, mean loss, backward, Adam; validation
    each epoch, test at the end (what `train` reports)."""
    x, y = tensors(data.train)
    vx, vy = tensors(data.val)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(x)
    for epoch in range(epochs):
        model.train()
        order = data_order(n, seed, epoch)
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            out = model(x[idx])
            loss = sum(F.cross_entropy(out[t], y[t][idx]) for t in out) / len(out)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        accuracy(model, vx, vy)
    tx, ty = tensors(data.test)
    accuracy(model, tx, ty)


def accuracy(model, x: torch.Tensor, y: dict[str, torch.Tensor]) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        out = model(x)
        return {t: (out[t].argmax(1) == y[t]).float().mean().item() for t in out}


def overhead(args) -> dict:
    data = load_data("multidigits", train_size=args.train_size, val_size=256, test_size=256)
    base = load_model(CONAL, seed=0)
    rows = []
    for r in range(args.rounds + 1):  # round 0 warms both up and is not counted
        times, states = {}, {}
        for kind in ("ours", "hand") if r % 2 == 0 else ("hand", "ours"):
            model = copy.deepcopy(base)
            torch.manual_seed(0)
            wall, cpu = time.perf_counter(), time.process_time()
            if kind == "ours":
                train(model, data, epochs=args.epochs, batch_size=args.batch, lr=1e-3, seed=0)
            else:
                hand_loop(model, data, args.epochs, args.batch, 1e-3, seed=0)
            times[kind] = (time.perf_counter() - wall, time.process_time() - cpu)
            states[kind] = model.state_dict()
        if r == 0:
            diff = max((states["ours"][k].float() - states["hand"][k].float()).abs().max().item()
                       for k in states["ours"])
            continue
        rows.append({"round": r, "ours_s": times["ours"][0], "hand_s": times["hand"][0],
                     "ratio": times["ours"][0] / times["hand"][0],
                     "ours_cpu_s": times["ours"][1], "hand_cpu_s": times["hand"][1],
                     "cpu_ratio": times["ours"][1] / times["hand"][1]})
    return {"rounds": rows, "median_ratio": statistics.median(r["ratio"] for r in rows),
            "median_cpu_ratio": statistics.median(r["cpu_ratio"] for r in rows),
            "median_ours_s": statistics.median(r["ours_s"] for r in rows),
            "median_hand_s": statistics.median(r["hand_s"] for r in rows),
            "max_weight_diff": diff}


def step_times(spec: Path, data_name: str, batch: int, steps: int, options: dict) -> dict:
    data = load_data(data_name, train_size=batch, val_size=8, test_size=8, **options)
    model = load_model(spec, seed=0)
    set_output_size(model, tuple(data.input_shape[-2:]))  # the spec's input may be larger
    tasks = list(model.task_names)
    x, y = tensors(data.train)
    losses = [loss_for(data.tasks[t]) for t in tasks]
    steppers = {}
    for mode in (None, "bf16"):
        m = copy.deepcopy(model)
        w = make_weighting("uniform")
        w.bind(tasks)
        steppers[mode or "fp32"] = (Stepper(m, tasks, losses, w, x,
                                            Precision(mode, torch.device("cpu"))),
                                    torch.optim.Adam(m.parameters(), lr=1e-4))
    times: dict[str, list[float]] = {k: [] for k in steppers}
    for i in range(steps + 3):
        for name, (stepper, opt) in steppers.items():
            start = time.perf_counter()
            stepper.step(x, y, opt)
            if i >= 3:
                times[name].append(time.perf_counter() - start)
    fp32, bf16 = (statistics.median(times[k]) for k in ("fp32", "bf16"))
    return {"spec": spec.name, "batch": batch, "fp32_ms": 1e3 * fp32, "bf16_ms": 1e3 * bf16,
            "bf16_over_fp32": bf16 / fp32}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "recipe.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = {"overhead": overhead(args), "threads": args.threads, "args": vars(args)}
    o = result["overhead"]
    print(f"(a) loop overhead, {args.epochs} epochs x {args.train_size} items, batch "
          f"{args.batch}, {args.rounds} alternating rounds")
    print(f"{'round':>5} {'ours s':>8} {'hand s':>8} {'ratio':>6} {'cpu ratio':>9}")
    for r in o["rounds"]:
        print(f"{r['round']:>5} {r['ours_s']:>8.2f} {r['hand_s']:>8.2f} {r['ratio']:>6.3f} "
              f"{r['cpu_ratio']:>9.3f}")
    print(f"median ratio {o['median_ratio']:.3f} (CPU time {o['median_cpu_ratio']:.3f}); "
          f"target ≤ 1.10; largest weight difference ours vs hand {o['max_weight_diff']:.2e}")
    result["amp"] = [
        step_times(CONAL, "multidigits", args.batch, args.steps, {}),
        step_times(SCENES, "scenes", 8, max(args.steps // 2, 5), {"size": 64}),
    ]
    print("\n(b) training step, float32 vs --amp bf16 (CPU)")
    print(f"{'spec':<24} {'batch':>5} {'fp32 ms':>8} {'bf16 ms':>8} {'bf16/fp32':>9}")
    for r in result["amp"]:
        print(f"{r['spec']:<24} {r['batch']:>5} {r['fp32_ms']:>8.1f} {r['bf16_ms']:>8.1f} "
              f"{r['bf16_over_fp32']:>9.2f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
