"""Saved cost reports: what `mtlspec cost --save FILE` (and `--json`) writes, and the checked
reader `mtlspec diff` and `mtlspec check --against` use for a baseline.

A saved report is the cost JSON (`cost_json`: nodes, heads, tasks, totals, in MACs) inside an
envelope that makes it a baseline one can trust later::

    {"format": "mtlspec-cost", "version": 1, "mtlspec_version": "0.1.0",
     "file": ..., "spec": ..., "kind": ..., "nodes": [...], ..., "total": {...},
     "spec_sha256": "<sha256 of spec_text>", "spec_text": "model m { ... }"}

The spec text travels with the figures, so a diff against a saved file can say which layout
rows changed, and its hash shows a hand edit. `load_saved` checks everything (format,
version, every field's type, that the totals add up, the hash, that the text parses) and
raises `MtlspecError` (exit 2) naming the file and the problem. Torch-free.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mtlspec.errors import MtlspecError
from mtlspec.spec import ir

FORMAT = "mtlspec-cost"
VERSION = 1
_COUNT = Field(ge=0)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeFigures(_Strict):
    """One node of the report (`cost_json`'s `nodes`)."""

    name: str
    block: int
    tasks: tuple[str, ...]
    macs: int = _COUNT
    params: int = _COUNT


class HeadFigures(_Strict):
    macs: int = _COUNT
    params: int = _COUNT


class TaskFigures(_Strict):
    path_macs: int = _COUNT
    path_params: int = _COUNT
    independent_macs: int = _COUNT
    independent_params: int = _COUNT


class Totals(_Strict):
    macs: int = _COUNT
    gmacs: float = _COUNT
    params: int = _COUNT
    units: float = _COUNT


class Figures(_Strict):
    macs: int = _COUNT
    params: int = _COUNT


class Relative(_Strict):
    macs: float
    params: float


class SavedCost(_Strict):
    """A saved cost report, checked (see the module docstring)."""

    format: Literal["mtlspec-cost"]
    version: Literal[1]
    mtlspec_version: str
    file: str
    spec: str
    kind: Literal["model", "dag", "grouping"]
    nodes: tuple[NodeFigures, ...]
    heads: dict[str, HeadFigures]
    tasks: dict[str, TaskFigures]
    total: Totals
    independent: Figures
    vs_independent: Relative
    unused_params: dict[str, int]
    uncounted_ops: dict[str, int]
    spec_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    spec_text: str


def spec_hash(text: str) -> str:
    """SHA-256 of a spec's text (UTF-8), as saved reports carry it.

    Example:
        >>> spec_hash("model m {}")[:12]
        'a85df3afe39a'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def saved_report(data: dict[str, Any], spec_text: str) -> dict[str, Any]:
    """The saved form of a cost report: `cost_json`'s data in its envelope.

    Args:
        data: `mtlspec.cost.cost_json(...)`.
        spec_text: the text of the spec the report is of.

    Example:
        >>> import json
        >>> from mtlspec import load_model
        >>> from mtlspec.cost import cost, cost_json
        >>> text = open("specs/nyuv2_dag.mtl").read()
        >>> saved = saved_report(cost_json("dag.mtl", cost(load_model(text))), text)
        >>> saved["format"], saved["version"], load_saved(json.dumps(saved), "b.json").spec
        ('mtlspec-cost', 1, 'nyuv2_dag')
    """
    from mtlspec import __version__

    return {"format": FORMAT, "version": VERSION, "mtlspec_version": __version__, **data,
            "spec_sha256": spec_hash(spec_text), "spec_text": spec_text}


def load_saved(text: str, where: str) -> SavedCost:
    """Read and check a saved cost report.

    Args:
        text: the file's text.
        where: its name, for messages (a path or `git:REV:path`).

    Returns:
        The report.

    Raises:
        MtlspecError: not JSON, not a saved report, a newer format version, a field missing
            or of the wrong type, totals that do not add up, or spec text that does not match
            its hash or does not parse.

    Example:
        >>> load_saved('{"format": "mtlspec-cost", "version": 9}', "base.json")
        Traceback (most recent call last):
        ...
        mtlspec.errors.MtlspecError: base.json: a cost report of format version 9; this ...
    """
    from mtlspec.inputs import parse_json

    data = parse_json(text, where)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise MtlspecError(f'{where}: not a saved cost report (no "format": "{FORMAT}"); '
                           "write one with `mtlspec cost SPEC --save FILE`")
    version = data.get("version")
    if version != VERSION:
        raise MtlspecError(f"{where}: a cost report of format version {version}; this mtlspec "
                           f"reads version {VERSION} (upgrade mtlspec, or save the baseline "
                           "again)")
    try:
        saved = SavedCost.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(map(str, first["loc"])) or "(top level)"
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        raise MtlspecError(f"{where}: invalid cost report: {field}: {first['msg']}{more}"
                           ) from None
    _check_consistent(saved, where)
    return saved


def _check_consistent(saved: SavedCost, where: str) -> None:
    """The figures add up and the spec text is the one hashed, and parses."""
    macs = sum(n.macs for n in saved.nodes) + sum(h.macs for h in saved.heads.values())
    if macs != saved.total.macs:
        raise MtlspecError(f"{where}: invalid cost report: nodes and heads add up to {macs:,} "
                           f"MACs but total.macs is {saved.total.macs:,} (edited by hand?)")
    if set(saved.heads) != set(saved.tasks):
        raise MtlspecError(f"{where}: invalid cost report: `heads` and `tasks` name different "
                           "tasks")
    if spec_hash(saved.spec_text) != saved.spec_sha256:
        raise MtlspecError(f"{where}: invalid cost report: spec_text does not match "
                           "spec_sha256 (edited or truncated); save the baseline again")
    spec_of(saved, where)


def spec_of(saved: SavedCost, where: str) -> ir.AnySpec:
    """The IR of the spec a saved report is of (its `spec_text`, parsed and validated).

    Raises:
        MtlspecError: the text is not a valid spec (the error is located in the report).
    """
    from mtlspec.spec import parse_document, validate

    return validate(parse_document(saved.spec_text, f"{where} (spec_text)"))
