"""Budgets: limits on what a model costs, checked one way for `mtlspec check`, the pytest
plugin and the recommender; and the JSON form of cost reports and checks.

Four limits, each named for what it counts:

- `gmacs`: total compute of the model, heads included, in 10^9 multiply-accumulates (MACs,
  fvcore's convention: one multiply-add counts once; many papers count it as 2 FLOPs);
  `gflops` is its older name in spec text and on the command line, same meaning;
- `params`: parameters of the modules that run;
- `units`: cost in single-task networks (a spec's `budget { units <= U }`, TreeMTL's "N
  models" as a figure of the whole model): for a tree or a DAG, its MACs ÷ the mean MACs of
  one task's own network (backbone and head); for a grouping, Σ network widths;
- `models`: TreeMTL's "K models" filter (`mtlspec recommend --max-models K`): backbone MACs
  ≤ K × one backbone, heads left out (they are the same for every layout of a base spec).

`units` and `models` differ only in the heads: with heads small next to the backbone they are
close; `models` compares layouts of one base, `units` any two models. Torch-free: reports are
read through their fields, whatever computed them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mtlspec.spec import ir

SLACK = 1e-9  # relative: a units budget of exactly 2 must accept 1.9999999999 and 2.0000000001
KINDS = ("gmacs", "params", "units", "models")
# How each kind reads in tables and messages (the unit, not the key).
NAMES = {"gmacs": "GMACs", "params": "params", "units": "units", "models": "models"}


def percent(x: float) -> str:
    """A relative change as a signed percentage with a real minus sign.

    Example:
        >>> percent(-0.5529), percent(0.1)
        ('−55.29%', '+10.00%')
    """
    return f"{x * 100:+.2f}%".replace("-", "−")


@dataclass(frozen=True)
class Budget:
    """Limits on a model's cost (None: no limit); see the module docstring for each kind.

    Example:
        >>> budget = Budget(models=1.5)
        >>> budget.describe()
        'models ≤ 1.5'
        >>> budget.flops_limit(backbone_flops=100, head_flops=[3, 5])
        158.0
    """

    gmacs: float | None = None
    params: int | None = None
    units: float | None = None
    models: float | None = None

    @classmethod
    def of(cls, budget: ir.Budget | None) -> Budget:
        """The limits of a spec's `budget { }` (none when the spec has no budget)."""
        if budget is None:
            return cls()
        return cls(gmacs=budget.gmacs, params=budget.params, units=budget.units)

    def items(self) -> list[tuple[str, float]]:
        """(kind, limit) of every limit set, in the order gmacs, params, units, models."""
        return [(kind, getattr(self, kind)) for kind in KINDS if getattr(self, kind) is not None]

    def describe(self) -> str:
        """The limits in words (`GMACs ≤ 2, models ≤ 1.5`), or `none`."""
        return ", ".join(f"{NAMES[k]} ≤ {v:g}" for k, v in self.items()) or "none"

    def flops_limit(self, *, backbone_flops: int, head_flops: Iterable[int]) -> float:
        """The largest total MACs (heads included) of a tree over one base that fits.

        Args:
            backbone_flops: MACs of one whole backbone (every block once).
            head_flops: each task's head MACs.

        Returns:
            The limit on a layout's total MACs; infinity when nothing limits compute.
        """
        heads = list(head_flops)
        limit = float("inf")
        if self.gmacs is not None:
            limit = self.gmacs * 1e9
        if self.models is not None:
            limit = min(limit, self.models * backbone_flops + sum(heads))
        if self.units is not None and heads:
            limit = min(limit, self.units * (backbone_flops + sum(heads) / len(heads)))
        return limit

    def params_limit(self) -> float:
        """The largest parameter count that fits (infinity: no limit)."""
        return float("inf") if self.params is None else float(self.params)


def actual(report: Any) -> dict[str, float]:
    """What a cost report measures for each kind of limit (`mtlspec.cost.CostReport`)."""
    return {"gmacs": report.flops / 1e9, "params": report.params, "units": report.units,
            "models": report.models}


@dataclass(frozen=True)
class Limit:
    """One budget of one spec, and what the spec actually costs.

    Example:
        >>> lim = Limit("x.mtl", "x", "gmacs", "spec", 2.0, 2.5)
        >>> lim.over, lim.row()["by how much"]
        (True, '+0.5 (+25.00%)')
    """

    file: str
    spec: str
    what: str  # gmacs, params, units, models
    source: str  # "spec" or the flag that set it
    limit: float
    actual: float

    @property
    def over(self) -> bool:
        return self.actual > self.limit * (1 + SLACK)

    def row(self) -> dict[str, Any]:
        """The row `mtlspec check` (and the pytest plugin) prints."""
        diff = self.actual - self.limit
        fmt = (lambda v: f"{v:,.0f}") if self.what == "params" else (lambda v: f"{v:.4g}")
        rel = f" ({percent(diff / self.limit)})" if self.limit else ""
        return {"spec": self.spec, "what": f"{self.what} ({self.source})",
                "limit": fmt(self.limit), "actual": fmt(self.actual),
                "by how much": ("+" if diff > 0 else "−" if diff < 0 else "") + fmt(abs(diff))
                + rel.replace("+0.00%", "0.00%"),
                "status": "OVER" if self.over else "ok"}

    def to_json(self) -> dict[str, Any]:
        """The check as `mtlspec check --json` prints it."""
        return {"file": self.file, "spec": self.spec, "what": self.what, "source": self.source,
                "limit": self.limit, "actual": self.actual, "over": self.over,
                "relative": self.actual / self.limit - 1 if self.limit else None}


def check_budget(filename: str, name: str, report: Any, budget: Budget,
                 sources: str | Mapping[str, str]) -> list[Limit]:
    """One `Limit` per limit of `budget`, against a cost report.

    Args:
        filename, name: the spec file and the spec's name (for the rows).
        report: its cost report (`flops`, `params`, `units`, `models`).
        budget: the limits.
        sources: where the limits come from: one label (`"spec"`) or kind → label.

    Example:
        >>> from types import SimpleNamespace
        >>> report = SimpleNamespace(flops=3e9, params=10, units=1.2, models=1.1)
        >>> [(lim.what, lim.over) for lim in check_budget("x.mtl", "x", report,
        ...                                               Budget(gmacs=2, units=1.5), "spec")]
        [('gmacs', True), ('units', False)]
    """
    measured = actual(report)
    return [Limit(filename, name, kind, sources if isinstance(sources, str) else sources[kind],
                  value, measured[kind]) for kind, value in budget.items()]


def budget_limits(filename: str, spec: ir.AnySpec, report: Any, *,
                  max_gmacs: float | None = None, max_params: int | None = None
                  ) -> list[Limit]:
    """Every budget that applies to one spec: its own `budget { }`, then the flags.

    Args:
        filename: the spec file.
        spec: the validated spec (its `budget`, if any).
        report: its cost report.
        max_gmacs, max_params: the flags' limits (None: not given).

    Returns:
        One `Limit` per budget; empty when the spec has none and no flag is given.

    Example:
        >>> from types import SimpleNamespace
        >>> from mtlspec.spec import load
        >>> spec = load("specs/nyuv2_resnet34.mtl").spec
        >>> report = SimpleNamespace(flops=20e9, params=10**7, units=1.4, models=1.3)
        >>> [(lim.what, lim.source) for lim in budget_limits("x.mtl", spec, report,
        ...                                                  max_gmacs=30)]
        [('units', 'spec'), ('gmacs', '--max-gmacs')]
    """
    flags = Budget(gmacs=max_gmacs, params=max_params)
    return (check_budget(filename, spec.name, report, Budget.of(spec.budget), "spec")
            + check_budget(filename, spec.name, report, flags,
                           {"gmacs": "--max-gmacs", "params": "--max-params"}))


def cost_json(filename: str, report: Any) -> dict[str, Any]:
    """The JSON form of a cost report (what `mtlspec cost --json` prints).

    Compute is in MACs (fvcore's convention: one multiply-add counts once), under keys that
    say so: `macs`, `gmacs` (10^9 MACs), `path_macs`, `independent_macs`.

    Args:
        filename: the spec file, as shown to the user.
        report: a `mtlspec.cost.CostReport`.

    Returns:
        nodes, heads, per-task path and independent MACs and params, totals, the change
        against independent single-task networks, unused parameters and uncounted ops.

    Example:
        >>> from mtlspec import load_model
        >>> from mtlspec.cost import cost
        >>> data = cost_json("dag.mtl", cost(load_model("specs/nyuv2_dag.mtl")))
        >>> data["kind"], round(data["total"]["gmacs"], 3), round(data["total"]["units"], 3)
        ('dag', 0.108, 2.337)
    """
    independent = sum(report.independent.values())
    return {
        "file": filename, "spec": report.name, "kind": report.kind,
        "nodes": [{"name": n.name, "block": n.block,
                   "tasks": list(n.tasks), "macs": n.flops, "params": n.params}
                  for n in report.nodes],
        "heads": {t: {"macs": f, "params": p} for t, (f, p) in report.heads.items()},
        "tasks": {t: {"path_macs": report.per_task[t],
                      "path_params": report.heads[t][1] + sum(
                          n.params for n in report.nodes if t in n.tasks),
                      "independent_macs": report.independent[t],
                      "independent_params": report.independent_params[t]}
                  for t in report.per_task},
        "total": {"macs": report.flops, "gmacs": report.flops / 1e9, "params": report.params,
                  "units": report.units},
        "independent": {"macs": independent, "params": sum(report.independent_params.values())},
        "vs_independent": {"macs": report.flops_vs_independent,
                           "params": report.params_vs_independent},
        "unused_params": dict(report.unused),
        "uncounted_ops": dict(report.uncounted),
    }
