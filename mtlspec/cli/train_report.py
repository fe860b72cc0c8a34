"""What `mtlspec train` reports: every metric of every task, Δm against single-task baselines.

A baseline file is JSON: `{task: value}` (each task's main metric), `{task: {metric: value}}`,
or the output of `mtlspec train --json` (its `all_metrics` are used). Several files merge, so
each single-task run's report can be passed as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from mtlspec.errors import MtlspecError


def read_baselines(paths: Sequence[str]) -> dict[str, Any]:
    """Merge baseline files into {task: value or {metric: value}}.

    Raises:
        MtlspecError: a file that is not JSON of one of the accepted shapes.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "b.json")
        >>> _ = open(path, "w").write('{"depth": {"abs_err": 0.6, "rel_err": 0.25}}')
        >>> read_baselines([path])
        {'depth': {'abs_err': 0.6, 'rel_err': 0.25}}
    """
    merged: dict[str, Any] = {}
    for path in paths:
        from mtlspec.inputs import load_json

        data = load_json(path, "baseline")
        if isinstance(data, dict) and "all_metrics" in data:
            data = data["all_metrics"]
        elif isinstance(data, dict) and "metrics" in data:
            data = data["metrics"]
        if not isinstance(data, dict) or not all(_number(v) or (
                isinstance(v, dict) and v and all(_number(x) for x in v.values()))
                for v in data.values()):
            raise MtlspecError(f"{path}: expected {{task: metric}}, {{task: {{metric: value}}}} "
                               "or `mtlspec train --json` output")
        for task, value in data.items():
            if isinstance(value, dict) and isinstance(merged.get(task), dict):
                merged[task] = {**merged[task], **value}
            else:
                merged[task] = value
    return merged


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def build_report(doc: Any, data: Any, result: Any, baseline: dict[str, Any] | None,
                 output: str | None, input_note: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON report of a training run."""
    from mtlspec.train.delta import relative_delta
    from mtlspec.train.metrics import higher_is_better

    infos = data.tasks
    tasks = {}
    for t in result.tasks:
        info = infos[t]
        row = {"kind": info.kind, "metric": info.metric,
               "higher_is_better": info.higher_is_better,
               "val": result.val_metrics[t], "test": result.metrics[t],
               "metrics": {m: {"val": result.all_val_metrics[t][m],
                               "test": result.all_metrics[t][m],
                               "higher_is_better": higher_is_better(m)}
                           for m in result.all_metrics.get(t, {})}}
        tasks[t] = row
    report: dict[str, Any] = {
        "file": doc.filename, "spec": doc.spec.name, "data": data.name,
        "weighting": result.weighting, "weighting_options": result.weighting_options,
        "last_step": result.last_step, "steps": result.steps, "seconds": result.seconds,
        "finished": result.finished, "resumed_from": result.resumed_from,
        "tasks": tasks, "metrics": result.metrics, "val_metrics": result.val_metrics,
        "all_metrics": result.all_metrics, "all_val_metrics": result.all_val_metrics,
        "history": result.history, "weights": output,
    }
    if input_note:
        report["input"] = input_note
    if result.best:
        report["best"] = dict(result.best)
    if baseline is not None:
        known = {t: v for t, v in baseline.items() if t in result.tasks}
        report["delta"] = relative_delta(result.all_metrics, known, infos)
        for t, value in known.items():
            tasks[t]["single"] = value
        if result.best.get("test_metrics"):
            report["best"]["delta"] = relative_delta(result.best["test_metrics"], known, infos)
    return report


def print_report(report: dict[str, Any]) -> None:
    """The report as a table (one row per task and metric) and a few lines."""
    from mtlspec.cli.rich_table import print_table

    rows = []
    for t, row in report["tasks"].items():
        single = row.get("single")
        metrics = row["metrics"] or {row["metric"]: {
            "val": row["val"], "test": row["test"], "higher_is_better": row["higher_is_better"]}}
        for i, (name, values) in enumerate(metrics.items()):
            shown = {"task": t if i == 0 else "",
                     "metric": name + (" ↑" if values["higher_is_better"] else " ↓"),
                     "val": f"{values['val']:.4f}", "test": f"{values['test']:.4f}"}
            if "delta" in report:
                base = (single.get(name) if isinstance(single, dict)
                        else single if name == row["metric"] else None)
                shown["single-task"] = f"{base:.4f}" if base is not None else "-"
            rows.append(shown)
    status = "" if report["finished"] else " (stopped early; --resume continues)"
    print_table(f"{report['spec']}, {report['weighting']}", rows)
    click.echo(f"{report['data']}: {report['steps']} steps in {report['seconds']:.1f} s"
               f"{status}")
    if "input" in report:
        spec, data = report["input"]["spec"], report["input"]["data"]
        click.echo(f"trained on the data's {data[1]}x{data[2]} images (the spec's input is "
                   f"{spec[1]}x{spec[2]}; the weights load into either)")
    if "delta" in report:
        click.echo(f"Δ vs single-task: {report['delta']:+.2f}% (Δm over every metric above "
                   "with a single-task value)")
    _print_best(report)
    _print_weighting(report)
    if report["weights"]:
        click.echo(f"wrote {report['weights']} (load with: mtlspec build {report['file']} "
                   f"--weights {report['weights']} -o model.onnx)")


def _print_weighting(report: dict[str, Any]) -> None:
    """What the weighting did in the last epoch: mean weights and gradient cosines."""
    history = [row for row in report["history"] if "mean_weights" in row]
    if not history or report["weighting"] == "uniform":
        return
    last = history[-1]
    weights = ", ".join(f"{t} {w:.3g}" for t, w in last["mean_weights"].items())
    click.echo(f"{report['weighting']} weights (mean of the last epoch): {weights}")
    conflict = last.get("conflict")
    if conflict:
        click.echo(f"task-gradient cosines: mean {conflict['cos_mean']:+.3f}, min "
                   f"{conflict['cos_min']:+.3f}, {100 * conflict['conflict_share']:.0f}% of "
                   "pairs conflicting")


def _print_best(report: dict[str, Any]) -> None:
    """The best epoch by the selector, its test metrics when they differ from the last's."""
    best = report.get("best")
    if not best or best.get("epoch") is None:
        return
    last = len([row for row in report["history"] if "val_metrics" in row])
    shown = ", ".join(f"{t} {best['test_metrics'][t][row['metric']]:.4f}"
                      for t, row in report["tasks"].items())
    delta = f", Δ {best['delta']:+.2f}%" if "delta" in best else ""
    same = " (the last)" if best["epoch"] == last else ""
    click.echo(f"best epoch by {best['select']}: {best['epoch']}{same}; test {shown}{delta}")
    if best.get("weights"):
        click.echo(f"wrote the best epoch's weights to {best['weights']}")


def print_seeds(summary: dict[str, Any]) -> None:
    """Mean ± std over seeds: one row per task and metric, Δm if baselines were given."""
    from mtlspec.cli.rich_table import print_table

    s, first = summary["summary"], summary["runs"][0]
    rows = []
    for t, metrics in s["metrics"].items():
        for i, (name, values) in enumerate(metrics.items()):
            arrow = " ↑" if first["tasks"][t]["metrics"].get(name, {}).get(
                "higher_is_better", True) else " ↓"
            row = {"task": t if i == 0 else "", "metric": name + arrow,
                   "val": _pm(values["val"]), "test": _pm(values["test"])}
            if "best" in s:
                row["best test"] = _pm(s["best"][t][name]["test"])
            rows.append(row)
    print_table(f"{first['spec']}, {first['weighting']}, seeds "
                f"{','.join(map(str, summary['seeds']))} (mean ± std)", rows)
    if "delta" in s:
        best = f"; best epochs {_pm(s['best_delta'], 2)}%" if "best_delta" in s else ""
        click.echo(f"Δ vs single-task: {_pm(s['delta'], 2)}% (last weights){best}")
    if "best_epochs" in s:
        click.echo(f"best epochs: {', '.join(map(str, s['best_epochs']))}")


def _pm(values: dict[str, float], digits: int = 4) -> str:
    return f"{values['mean']:.{digits}f} ± {values['std']:.{digits}f}"
