"""fvcore vs torch's FlopCounterMode vs mtlspec's counter on 10 models (why mtlspec counts as
it does).

For each model at 3x224x224 (batch 1, eval, one thread), on the same features module:
  - fvcore FlopCountAnalysis (jit trace; 1 MAC = 1 flop): total, and the ops it skips;
  - torch.utils.flop_counter.FlopCounterMode (dispatch; 2 flops per MAC), halved to MACs;
  - mtlspec.backbone.flops (dispatch, FlopCounterMode's formulas halved + norms, activations,
    pooling, softmax, attention, elementwise), and its uncounted ops;
and the process CPU time of each count (resource.getrusage: the machine may be shared).

Run: .venv/bin/python bench/flops.py [--out FILE] [NAME ...]; writes bench/results/flops.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import warnings
from pathlib import Path

import torch

from mtlspec.backbone import build, trace
from mtlspec.backbone.flops import count, one_thread

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["torchvision.resnet50", "torchvision.mobilenet_v2", "torchvision.densenet121",
           "torchvision.efficientnet_b0", "torchvision.convnext_tiny", "torchvision.swin_t",
           "torchvision.vit_b_16", "timm.vit_tiny_patch16_224", "timm.mixer_s16_224",
           "timm.levit_128s"]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fvcore_count(module, x) -> tuple[int, dict]:
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(module, (x,))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    logging.getLogger("fvcore.nn.jit_analysis").setLevel(logging.ERROR)
    return int(analysis.total()), dict(analysis.unsupported_ops())


def torch_count(module, x) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops() // 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=DEFAULT)
    parser.add_argument("--out", default=str(ROOT / "bench/results/flops.json"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rows = []
    print(f"{'model':30} {'fvcore G':>9} {'s':>5} {'torch G':>9} {'s':>5} {'mtlspec G':>9} "
          f"{'s':>5}  fvcore skips / mtlspec uncounted")
    for name in args.names:
        built = build(name, input_shape=(1, 3, 224, 224))
        module = trace(built.model, (1, 3, 224, 224), head=built.head, end=built.end,
                       name=name).module.eval()
        x = torch.randn(1, 3, 224, 224)
        with torch.no_grad(), one_thread():
            t0 = cpu()
            fv, skipped = fvcore_count(module, x)
            t1 = cpu()
            tc = torch_count(module, x)
            t2 = cpu()
        ours, uncounted = count(module, x)
        t3 = cpu()
        row = {"model": name, "fvcore": fv, "fvcore_s": round(t1 - t0, 2),
               "fvcore_skipped": skipped, "flop_counter_mode": tc,
               "flop_counter_mode_s": round(t2 - t1, 2), "mtlspec": ours,
               "mtlspec_s": round(t3 - t2, 2), "mtlspec_uncounted": uncounted}
        rows.append(row)
        skips = ", ".join(f"{k.removeprefix('aten::')} x{v}" for k, v in skipped.items())
        print(f"{name:30} {fv / 1e9:9.3f} {t1 - t0:5.2f} {tc / 1e9:9.3f} {t2 - t1:5.2f} "
              f"{ours / 1e9:9.3f} {t3 - t2:5.2f}  {skips[:60]} / {uncounted or '-'}",
              flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
