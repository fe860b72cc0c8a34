"""The base spec a search or plan starts from: loaded, validated, and of the kind it needs."""

from __future__ import annotations

from typing import Any

from mtlspec.errors import MtlspecError


def load_base(path: str, kind: str, needed_by: str) -> Any:
    """Load and validate the spec at `path`, refusing any kind but `kind`.

    Args:
        path: the spec file (`-` for standard input).
        kind: "model" (a tree spec), "dag" or "grouping".
        needed_by: what needs it and why, for the message (e.g. "CoNAL needs ... backbone").

    Raises:
        MtlspecError: the spec is broken or of another kind.

    Example:
        >>> load_base("specs/nyuv2_dag.mtl", "dag", "`mtlspec search dag`").name  # doctest: +SKIP
        'nyuv2_dag'
    """
    from mtlspec.spec import load, validate

    spec = validate(load(path))
    if spec.kind != kind:
        label = "model (tree)" if kind == "model" else kind
        raise MtlspecError(f"{path}: `{spec.name}` is a {spec.kind} spec; {needed_by} a "
                           f"{label} spec")
    return spec
