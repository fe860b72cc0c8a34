"""A spec's cost report through the on-disk cache (`mtlspec.cache`): what `mtlspec cost`,
`check` and `diff` use, so a CI job that restores the cache folder neither imports torch nor
traces a backbone for a spec it has costed before.

A hit returns the saved-report data (`mtlspec.cost.saved`) without compiling; a miss
compiles, costs and stores it. Compiled every time: specs with user-code backbones (their code
can change under the same name), specs that load weights (`init`, `weights`: compiling checks
those files), and callers that need the model itself (latency, `need_model`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtlspec import cache
from mtlspec.cost.budget import cost_json
from mtlspec.cost.saved import saved_report


@dataclass
class SpecCost:
    """A spec's cost: the saved-report data, and the model and report when it was compiled."""

    data: dict[str, Any]
    model: Any = None
    report: Any = None

    @property
    def cached(self) -> bool:
        return self.model is None


@dataclass(frozen=True)
class Figures:
    """A cost report read from its JSON, with the fields `budget_limits` checks (`flops` holds
    MACs, as on `CostReport`).

    Example:
        >>> data = {"total": {"macs": 110, "params": 7, "units": 1.5},
        ...         "heads": {"a": {"macs": 10}}, "tasks": {"a": {"independent_macs": 60}}}
        >>> f = Figures(data)
        >>> f.flops, f.models
        (110, 2.0)
    """

    data: dict[str, Any]

    @property
    def flops(self) -> int:
        return self.data["total"]["macs"]

    @property
    def params(self) -> int:
        return self.data["total"]["params"]

    @property
    def units(self) -> float:
        return self.data["total"]["units"]

    @property
    def models(self) -> float:
        """As `CostReport.models`: MACs outside the heads ÷ one task's own network without
        its head (mean over tasks)."""
        heads = self.data["heads"]
        backbone = self.flops - sum(h["macs"] for h in heads.values())
        own = [t["independent_macs"] - heads[name]["macs"]
               for name, t in self.data["tasks"].items()]
        return backbone / (sum(own) / len(own))


def _key(spec: Any) -> dict[str, Any] | None:
    from mtlspec.spec import to_json

    if getattr(spec, "init", None) is not None or getattr(spec, "weights", None) is not None:
        return None
    if spec.kind == "model":
        refs = [spec.backbone.ref]
    elif spec.kind == "grouping":
        refs = [net.backbone for net in spec.networks]
    else:
        refs = []
    return cache.cost_key(to_json(spec, indent=None), refs)


def spec_cost(doc: Any, *, allow_import: bool = False, base_dir: str | Path | None = None,
              use_cache: bool = True, need_model: bool = False) -> SpecCost:
    """The cost of a validated spec document, from the cache when it can be.

    Args:
        doc: a validated `mtlspec.spec.Document` (its text goes into the saved report).
        allow_import: allow a `"pkg.module:callable"` backbone.
        base_dir: where relative weight paths of the spec are read from.
        use_cache: read the cache (a fresh report is stored either way, when cacheable).
        need_model: compile even on a hit (the caller uses the model).

    Returns:
        The `SpecCost`; `data` is the saved-report form, named after `doc.filename`.

    Example:
        >>> from mtlspec.spec import load
        >>> doc = load("specs/nyuv2_dag.mtl")
        >>> first, second = spec_cost(doc), spec_cost(doc)
        >>> first.cached, second.cached, first.data == second.data
        (False, True, True)
    """
    key = _key(doc.spec)
    if key is not None and use_cache and not need_model:
        stored = cache.load(key)
        if stored is not None:
            return SpecCost(saved_report({"file": doc.filename, **stored}, doc.source))
    from mtlspec import load_model
    from mtlspec.cost.analytic import cost

    model = load_model(doc, allow_import=allow_import, base_dir=base_dir)
    report = cost(model)
    data = cost_json(doc.filename, report)
    if key is not None:
        cache.store(key, {k: v for k, v in data.items() if k != "file"})
    return SpecCost(saved_report(data, doc.source), model, report)
