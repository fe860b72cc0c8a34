"""Compiled ResNet34 trees on CPU: does latency follow FLOPs, is onnxruntime as fast as PyTorch?

Three 3-task NYUv2 trees on ResNet34 at 288x384 (DeepLab-style ASPP heads): `shared` (every
block shared), `tree` (specs/nyuv2_resnet34.mtl: blocks 1-4 shared, then {segment, depth} and
{normal}) and `independent` (one network per task), each at batch 1 and 8. Claims:
  (a) latency(layout) / latency(independent) is within ±10% of the MACs ratio;
  (b) onnxruntime latency / PyTorch eager latency ≤ 1.0;
  (c) compile and export (+ verify) times, as `mtlspec build` runs them.

Latency is the median of --repeat forwards after --warmup ones, with PyTorch and onnxruntime
each on --threads intra-op threads (one inter-op thread). Runs are interleaved round by round
(every model and runtime once per round), so load from other processes on a shared machine
hits all of them alike instead of skewing one ratio.

Prints a table and writes JSON (default bench/results/compile.json).
Run: .venv/bin/python bench/compile.py [--batches 1 8] [--repeat 5] [--warmup 1] [--threads 2]
     [--input 288x384] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "specs" / "nyuv2_resnet34.mtl"
ROWS = {
    "shared": ["{segment, normal, depth}"] * 5,
    "independent": ["{segment} {normal} {depth}"] * 5,
}


def variants(size: tuple[int, int] | None) -> dict[str, str]:
    """Spec texts of the three layouts (the shipped one is `tree`), at `size` if given."""
    text = BASE.read_text()
    if size is not None:
        text = re.sub(r"float\[1, 3, \d+, \d+\]", f"float[1, 3, {size[0]}, {size[1]}]", text)
    out = {}
    for name in ("shared", "tree", "independent"):
        if name == "tree":
            out[name] = text
            continue
        rows = "\n".join(f"    {r}" for r in ROWS[name])
        out[name] = re.sub(r"layout \[\n.*?\n  \]", f"layout [\n{rows}\n  ]", text, flags=re.S)
        assert out[name] != text
    return out


def build(name: str, text: str, folder: Path) -> dict:
    """Compile, cost and export one spec (what `mtlspec build` does); time each stage."""
    from mtlspec.compile import compile
    from mtlspec.cost import cost
    from mtlspec.exporters.onnx import export
    from mtlspec.spec import parse_document, validate

    start = time.perf_counter()
    model = compile(validate(parse_document(text, f"<{name}>")))
    compile_s = time.perf_counter() - start
    distinct_weights(model, seed=len(name))
    report = cost(model)
    path = folder / f"{name}.onnx"
    exported = export(model, path, spec_text=text)
    return {"name": name, "model": model.eval(), "onnx": path, "flops": report.flops,
            "params": report.params, "compile_s": compile_s,
            "export_s": exported.export_seconds, "verify_s": exported.verify_seconds,
            "onnx_mb": exported.size_bytes / 1e6}


def distinct_weights(model, seed: int) -> None:
    """Give every parameter its own values, as training would.

    A freshly compiled tree holds identical copies of each block; the ONNX exporter then
    stores one initializer for them all and onnxruntime merges the identical branches (same
    input, same weights), so an untrained `independent` layout would run like `shared`.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1 + 0.01 * torch.randn(p.shape, generator=generator))


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def measure(built: list[dict], batches: list[int], repeat: int, warmup: int,
            threads: int) -> dict[tuple[str, int, str], list[float]]:
    """(model, batch, runtime) → seconds per forward, runs interleaved round by round."""
    import torch

    shape = tuple(built[0]["model"].spec.input.shape[1:])
    runners = {}
    for b in built:
        ort_session = session(b["onnx"], threads)
        name = b["model"].spec.input.name
        for batch in batches:
            x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(batch))
            runners[(b["name"], batch, "pytorch")] = lambda m=b["model"], x=x: m(x)
            feed = {name: x.numpy()}
            runners[(b["name"], batch, "onnxruntime")] = (
                lambda s=ort_session, feed=feed: s.run(None, feed))
    times: dict[tuple[str, int, str], list[float]] = {key: [] for key in runners}
    with torch.inference_mode():
        for round_ in range(warmup + repeat):
            for key, run in runners.items():
                start = time.perf_counter()
                run()
                if round_ >= warmup:
                    times[key].append(time.perf_counter() - start)
    return times


def summarize(built: list[dict], times: dict, batches: list[int]) -> list[dict]:
    """One row per (layout, batch): latencies, ratios against independent, targets."""
    med = {key: statistics.median(v) for key, v in times.items()}
    flops = {b["name"]: b["flops"] for b in built}
    rows = []
    for batch in batches:
        for b in built:
            name = b["name"]
            row = {"layout": name, "batch": batch, "gflops": flops[name] * batch / 1e9,
                   "pytorch_ms": 1e3 * med[(name, batch, "pytorch")],
                   "onnxruntime_ms": 1e3 * med[(name, batch, "onnxruntime")]}
            row["ort_over_pytorch"] = row["onnxruntime_ms"] / row["pytorch_ms"]
            row["flops_ratio"] = flops[name] / flops["independent"]
            for runtime in ("pytorch", "onnxruntime"):
                ratio = med[(name, batch, runtime)] / med[("independent", batch, runtime)]
                row[f"latency_ratio_{runtime}"] = ratio
                row[f"latency_vs_flops_{runtime}"] = ratio / row["flops_ratio"] - 1
            rows.append(row)
    return rows


def print_tables(built: list[dict], rows: list[dict]) -> None:
    print(f"\n{'layout':12} {'GMACs':>7} {'params':>11} {'compile s':>9} {'export s':>8} "
          f"{'verify s':>8} {'ONNX MB':>8}")
    for b in built:
        print(f"{b['name']:12} {b['flops'] / 1e9:7.2f} {b['params']:11,} {b['compile_s']:9.1f} "
              f"{b['export_s']:8.1f} {b['verify_s']:8.1f} {b['onnx_mb']:8.1f}")
    print(f"\n{'layout':12} {'batch':>5} {'GMACs':>7} {'torch ms':>9} {'ORT ms':>8} "
          f"{'ORT/torch':>9} {'MACs ratio':>11} {'lat ratio torch':>15} {'(vs MACs)':>10} "
          f"{'lat ratio ORT':>13} {'(vs MACs)':>10}")
    for r in rows:
        print(f"{r['layout']:12} {r['batch']:5} {r['gflops']:7.2f} {r['pytorch_ms']:9.1f} "
              f"{r['onnxruntime_ms']:8.1f} {r['ort_over_pytorch']:9.2f} {r['flops_ratio']:11.3f} "
              f"{r['latency_ratio_pytorch']:15.3f} {r['latency_vs_flops_pytorch']:+10.1%} "
              f"{r['latency_ratio_onnxruntime']:13.3f} {r['latency_vs_flops_onnxruntime']:+10.1%}")
    print("targets: latency ratio within ±10% of the MACs ratio; ORT/torch ≤ 1.0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--input", default=None, help="HxW instead of the spec's 288x384")
    parser.add_argument("--out", default=str(ROOT / "bench/results/compile.json"))
    args = parser.parse_args()
    size = tuple(int(v) for v in args.input.lower().split("x")) if args.input else None

    sys.path.insert(0, str(ROOT))
    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        built = [build(name, text, Path(tmp)) for name, text in variants(size).items()]
        for b in built:
            print(f"built {b['name']}: {b['flops'] / 1e9:.2f} GMACs, compile "
                  f"{b['compile_s']:.1f} s, export {b['export_s']:.1f} s, verify "
                  f"{b['verify_s']:.1f} s", flush=True)
        times = measure(built, args.batches, args.repeat, args.warmup, args.threads)
    rows = summarize(built, times, args.batches)
    print_tables(built, rows)
    results = {
        "settings": {"batches": args.batches, "repeat": args.repeat, "warmup": args.warmup,
                     "threads": args.threads, "input": list(built[0]["model"].spec.input.shape),
                     "torch": torch.__version__},
        "builds": [{k: v for k, v in b.items() if k not in ("model", "onnx")} for b in built],
        "latency": rows,
        "raw_seconds": {f"{k[0]}/b{k[1]}/{k[2]}": v for k, v in times.items()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
