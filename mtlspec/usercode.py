"""Importing user code ("pkg.module:callable"): only when the user, not a file, allows it.

A spec or a plan is data: it may name user code (a custom backbone, a data set), but it can
never grant itself the right to run it. Only the person running mtlspec can: the CLI flag
`--allow-import`, the pytest option `--mtlspec-allow-import`, the keyword `allow_import=True`
of the Python API, or the environment variable `MTLSPEC_ALLOW_IMPORT=1` (inherited by worker
processes, e.g. a plan's pool). A spec's `allow_import: true` only documents intent.

    >>> import_object("json:dumps", what="data set", allow=True)([1])
    '[1]'
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from mtlspec.errors import MtlspecError

ENV = "MTLSPEC_ALLOW_IMPORT"
HINT = (f"allow it explicitly: `--allow-import` on the command line, `{ENV}=1` in the "
        "environment, or `allow_import=True` in Python (a spec's `allow_import: true` only "
        "documents intent: a file cannot grant itself code execution)")


def allowed(flag: bool) -> bool:
    """Whether user code may be imported: the caller's flag or the environment says so."""
    return flag or os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes")


def is_ref(text: str) -> bool:
    """True for a `"pkg.module:callable"` reference."""
    module, sep, attr = text.partition(":")
    return bool(sep) and all(p.isidentifier() for p in module.split(".")) and \
        all(p.isidentifier() for p in attr.split("."))


def import_object(ref: str, *, what: str, allow: bool) -> Any:
    """Import `pkg.module:attr.path` after checking that the user allowed it.

    Args:
        ref: the reference.
        what: what it is, for messages ("backbone", "data set").
        allow: the caller's explicit permission (`allowed()` also reads the environment).

    Raises:
        MtlspecError: not allowed (with the hint), malformed, or not importable.
    """
    if not allowed(allow):
        raise MtlspecError(f"{what} {ref!r} is user code; importing it would run arbitrary "
                           f"code\nhint: {HINT}")
    if not is_ref(ref):
        raise MtlspecError(f"{what} {ref!r} must look like 'pkg.module:callable'")
    module_name, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as err:  # ImportError, AttributeError, or the module's own failure
        raise MtlspecError(f"cannot import {what} {ref!r}: {type(err).__name__}: {err}") \
            from None
    return obj
