"""On-disk cache of detected blocks and their costs (what `mtlspec blocks` reports), and of
whole cost reports of specs (what `mtlspec cost`, `check` and `diff` compute).

Detecting a big backbone's blocks takes seconds (importing torch alone takes about one); the
answer depends only on the backbone, its arguments, the input shape, the block selection, the
installed torch / torchvision / timm and mtlspec's own detector code. Each entry is a JSON file
named by the hash of all of those, so any change of them is a different entry (old ones are
simply never read again). An entry is trusted only if it parses, names exactly the key asked
for and its report matches the checksum stored with it; anything else is ignored and
rewritten. Entries are written atomically. Torch-free: a cache hit imports no torch.

A spec's cost report is keyed by the spec's IR (so comments, spacing and item order do not
matter), the same versions, and the code of the detector, the compiler and the cost model.
Specs with user-code backbones are never cached (that code can change under the same name).

Location: `$MTLSPEC_CACHE_DIR`, else `$XDG_CACHE_HOME/mtlspec`, else `~/.cache/mtlspec`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from mtlspec.errors import MtlspecError
from mtlspec.io import write_atomic

SCHEMA = 1
_CODE = ("backbone", "cli/blocks.py", "cache.py")
# What a spec's cost depends on, besides the spec and the versions.
_COST_CODE = ("backbone", "compile", "cost/analytic.py", "cost/budget.py", "cache.py")


def cache_dir() -> Path:
    """The cache folder (not created here).

    Example:
        >>> cache_dir().is_absolute()
        True
    """
    if os.environ.get("MTLSPEC_CACHE_DIR"):
        return Path(os.environ["MTLSPEC_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mtlspec"


def _version(package: str) -> str | None:
    from importlib import metadata  # here: importing it costs ~50 ms (email, csv, zipfile)

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _code_hash(parts: tuple[str, ...] = _CODE) -> str:
    """Hash of the source that computed an entry: changed code never reads old entries."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for part in parts:
        path = root / part
        files = sorted(path.glob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def blocks_key(backbone: str, args: dict[str, Any], input_shape: tuple[int, ...],
               selection: Any) -> dict[str, Any] | None:
    """The cache key of a `blocks` report, or None when it must not be cached (user code,
    which can change without any version saying so).

    Example:
        >>> blocks_key("os:getcwd", {}, (3, 8, 8), None) is None
        True
        >>> blocks_key("convnet", {}, (3, 8, 8), 2)["input_shape"]
        [3, 8, 8]
    """
    if ":" in backbone:
        return None
    return {
        "schema": SCHEMA, "backbone": backbone, "args": _plain(args),
        "input_shape": list(input_shape),
        "selection": list(selection) if isinstance(selection, (list, tuple)) else selection,
        "torch": _version("torch"), "torchvision": _version("torchvision"),
        "timm": _version("timm") if backbone.startswith("timm.") else None,
        "mtlspec": _version("mtlspec"), "code": _code_hash(),
    }


def cost_key(spec_json: str, refs: list[str]) -> dict[str, Any] | None:
    """The cache key of a spec's cost report, or None when it must not be cached.

    Args:
        spec_json: the spec's IR as JSON (`mtlspec.spec.to_json`).
        refs: its backbone references (a user-code one, `pkg.module:callable`, is not cached).

    Example:
        >>> cost_key('{"kind": "model"}', ["torchvision.resnet34"])["kind"]
        'cost'
        >>> cost_key('{"kind": "model"}', ["pkg.mod:build"]) is None
        True
    """
    if any(":" in ref for ref in refs):
        return None
    return {
        "schema": SCHEMA, "kind": "cost", "spec": spec_json,
        "torch": _version("torch"), "torchvision": _version("torchvision"),
        "timm": _version("timm") if any(r.startswith("timm.") for r in refs) else None,
        "mtlspec": _version("mtlspec"), "code": _code_hash(_COST_CODE),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (int, float, str, bool, type(None))) else repr(value)


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def entry_path(key: dict[str, Any]) -> Path:
    """Where the entry of `key` lives (`blocks/` or `cost/`)."""
    return cache_dir() / key.get("kind", "blocks") / f"{_digest(key)[:32]}.json"


def load(key: dict[str, Any]) -> dict[str, Any] | None:
    """The cached report of `key`, or None (missing, unreadable, corrupt or another key's).

    Example:
        >>> key = blocks_key("convnet", {}, (3, 8, 8), None)
        >>> store(key, {"blocks": []}); load(key)
        {'blocks': []}
        >>> _ = entry_path(key).write_text("{not json")
        >>> load(key) is None
        True
    """
    try:
        entry = json.loads(entry_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    report = entry.get("report")
    if not isinstance(report, dict) or entry.get("checksum") != _digest(report):
        return None
    return report


def store(key: dict[str, Any], report: dict[str, Any]) -> None:
    """Write (or overwrite) the entry of `key`; a cache that cannot be written is skipped."""
    entry = {"key": key, "report": report, "checksum": _digest(report)}
    path = entry_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(entry))
    except (OSError, MtlspecError):
        pass  # a read-only or full disk costs the next call time, nothing else


def load_bytes(name: str) -> bytes | None:
    """The bytes stored under `name` (a file name: the caller puts every input it depends on
    into it), or None when missing, unreadable or not what was written (checksum).

    Example:
        >>> store_bytes("example-1.bin", b"tables"); load_bytes("example-1.bin")
        b'tables'
        >>> _ = (cache_dir() / "example-1.bin").write_bytes(b"0" * 64 + b"\\ntablez")
        >>> load_bytes("example-1.bin") is None
        True
    """
    try:
        checksum, _, data = (cache_dir() / name).read_bytes().partition(b"\n")
    except OSError:
        return None
    return data if checksum == hashlib.sha256(data).hexdigest().encode() else None


def store_bytes(name: str, data: bytes) -> None:
    """Write `data` under `name` (atomically, with its checksum); an unwritable cache is
    skipped."""
    path = cache_dir() / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, hashlib.sha256(data).hexdigest().encode() + b"\n" + data)
    except (OSError, MtlspecError):
        pass
