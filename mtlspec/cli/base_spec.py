"""The base spec a search or plan starts from: loaded, validated, and of the kind it needs."""

from __future__ import annotations

from typing import Any


def load_base(path: str, kind: str, needed_by: str) -> Any:
    """Load and validate the spec at `path`, refusing any kind but `kind`.

    Args:
        path: the spec file (`-` for standard input).
        kind: "model" (a tree spec), "dag" or "grouping".
        needed_by: what needs it and why, for the message (e.g. "CoNAL needs ... backbone").

    Raises:
        MtlspecError: the spec is broken or of another kind.

    Example:
        >>> load_base("specs/nyuv2_dag.mtl", "dag", "`mtlspec search dag` needs").name
        'nyuv2_dag'
    """
    from mtlspec.spec import load, validate
    from mtlspec.spec.ir import require_kind

    spec = validate(load(path))
    require_kind(spec, kind, needed_by, where=path)
    return spec
