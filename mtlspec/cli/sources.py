"""The two sides of a comparison (`mtlspec diff BASE NEW`, `mtlspec check --against BASE`):
a spec file, a saved cost report, or either at a git revision.

- `FILE.mtl` (any spec file; `-` for standard input): compiled and costed here;
- `FILE.json`: a report saved by `mtlspec cost SPEC --save FILE` (checked by
  `mtlspec.cost.saved.load_saved`);
- `git:REV:PATH`: PATH as it is at revision REV, read with `git show REV:./PATH` (PATH is
  relative to the current folder, like any other file argument; nothing is checked out).

A side is a saved report when its name ends in `.json` or its text is a JSON object.
Every failure (a file that cannot be read, a revision or path git does not know, git missing,
a bad report) is an `MtlspecError` (exit 2) that names the side.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtlspec.errors import MtlspecError

GIT_TIMEOUT_S = 60
MAX_BYTES = 16 * 1024 * 1024  # a spec or a report is a few pages; refuse a 16 MiB one


@dataclass
class Side:
    """One side of a comparison: its name, its cost report and, for a spec, its document."""

    name: str
    saved: Any  # mtlspec.cost.saved.SavedCost
    document: Any = None  # mtlspec.spec.Document when the side is spec text
    model: Any = None  # its compiled model (None: its cost came from the cache)
    data: Any = None  # its cost report as JSON data (`saved_report`)


def split_git(arg: str) -> tuple[str, str | None]:
    """`git:REV:PATH` → (REV, PATH); `git:REV` → (REV, None).

    Raises:
        MtlspecError: no revision, or one that git would read as an option.

    Example:
        >>> split_git("git:origin/main:specs/a.mtl"), split_git("git:HEAD~1")
        (('origin/main', 'specs/a.mtl'), ('HEAD~1', None))
    """
    rev, sep, path = arg[len("git:"):].partition(":")
    if not rev or rev.startswith("-"):
        raise MtlspecError(f"{arg}: expected git:REV:PATH (a revision such as HEAD~1 or "
                           "origin/main, then the file)")
    if sep and not path:
        raise MtlspecError(f"{arg}: no path after the revision (git:REV:PATH)")
    return rev, (path or None)


def _git(args: list[str], name: str, folder: str | Path = ".") -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise MtlspecError(f"{name}: git is not installed (needed to read git:REV)") from None
    except subprocess.TimeoutExpired:
        raise MtlspecError(f"{name}: `git {' '.join(args)}` took more than {GIT_TIMEOUT_S} s"
                           ) from None


def _git_message(done: subprocess.CompletedProcess) -> str:
    text = done.stderr.decode("utf-8", "replace").strip()
    return text.removeprefix("fatal: ") or "unknown error"


def check_revision(rev: str, name: str, folder: str | Path = ".") -> None:
    """Make sure `rev` names a commit of the repository around `folder`.

    Raises:
        MtlspecError: not a git repository, or an unknown revision.
    """
    done = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
                name, folder)
    if done.returncode != 0:
        inside = _git(["rev-parse", "--git-dir"], name, folder)
        reason = (_git_message(inside) if inside.returncode != 0
                  else f"unknown revision `{rev}`")
        raise MtlspecError(f"{name}: {reason}")


def git_show(rev: str, path: str, name: str, *, missing_ok: bool = False) -> str | None:
    """The text of `path` (relative to the current folder) at revision `rev`, read by git in
    the file's folder, so any file inside a repository works from anywhere.

    Args:
        rev, path: what to read.
        name: the side's name, for messages.
        missing_ok: return None when the revision exists but has no such file (a spec added
            since).

    Raises:
        MtlspecError: git is not installed, this is not a git repository, or git does not
            know the revision or the path (git's own message is quoted).
    """
    folder = Path(path).parent
    done = _git(["show", f"{rev}:./{Path(path).name}"], name, folder)
    if done.returncode != 0:
        message = _git_message(done)
        if missing_ok and ("does not exist in" in message or "but not in" in message):
            check_revision(rev, name, folder)  # the file is missing, not the revision
            return None
        raise MtlspecError(f"{name}: git cannot read it: {message}")
    return _decode(done.stdout, name)


def _decode(data: bytes, name: str) -> str:
    if len(data) > MAX_BYTES:
        raise MtlspecError(f"{name}: {len(data):,} bytes; a spec or cost report is far smaller")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise MtlspecError(f"{name}: not a UTF-8 text file") from None


def read_source(arg: str) -> str:
    """The text behind a side's argument: a file, `-` (standard input) or `git:REV:PATH`."""
    if arg.startswith("git:"):
        rev, path = split_git(arg)
        if path is None:
            raise MtlspecError(f"{arg}: name the file too: git:{rev}:PATH")
        return git_show(rev, path, arg)
    from mtlspec.spec.parse import read_text  # the spec reader's checks, for reports too

    return read_text(arg)[1]


def is_report(name: str, text: str) -> bool:
    """Whether a side is a saved cost report (a `.json` file, or a JSON object) rather than
    spec text."""
    return name.lower().endswith(".json") or text.lstrip().startswith("{")


def load_side(arg: str, *, allow_import: bool = False, text: str | None = None,
              use_cache: bool = True) -> Side:
    """Read one side and cost it (compiling it when it is a spec).

    Args:
        arg: the side as given (see the module docstring); it names the side in messages.
        allow_import: allow a `"pkg.module:callable"` backbone in a spec side.
        text: the side's text when already read (else `read_source(arg)`).
        use_cache: read a spec's cost from the on-disk cache when it is there.

    Raises:
        MtlspecError: see the module docstring; SpecError for a spec that does not validate.
    """
    from mtlspec.cost.saved import load_saved

    text = read_source(arg) if text is None else text
    if is_report(arg, text):
        return Side(arg, load_saved(text, arg))
    return cost_spec_text(arg, text, allow_import=allow_import, use_cache=use_cache)


def cost_spec_text(name: str, text: str, *, allow_import: bool = False,
                   use_cache: bool = True, need_model: bool = False) -> Side:
    """Validate spec text and cost it (through the cache, `mtlspec.cost.cached`), as a `Side`
    with its saved-report form; `model` is set when it was compiled (`need_model` forces it).
    """
    from mtlspec.cost.cached import spec_cost
    from mtlspec.cost.saved import SavedCost
    from mtlspec.spec import parse_document, validate

    doc = parse_document(text, name)
    validate(doc)
    base_dir = None
    if name.startswith("git:"):  # weights paths: the working tree's
        base_dir = Path(split_git(name)[1] or ".").parent
    found = spec_cost(doc, allow_import=allow_import, base_dir=base_dir, use_cache=use_cache,
                      need_model=need_model)
    return Side(name, SavedCost.model_validate(found.data), doc, found.model, found.data)
