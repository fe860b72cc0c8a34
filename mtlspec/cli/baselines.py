"""Which baseline each checked spec is compared with (`mtlspec check --against BASE`).

`--against` may be given several times; for each spec file the first one that has a
baseline for it is used:

- `git:REV` (no path): the same file at revision REV (`git show REV:./FILE`), the usual pull
  request gate (`--against git:origin/main`); a spec that REV does not have yet is new and
  has no baseline (a note, not an error);
- a saved cost report, a spec file or `git:REV:PATH`: read once, then used for the spec of
  the same name (`model NAME { ... }`), or for the one spec checked when one file is checked
  against one baseline. A baseline that matches no checked spec is an error (exit 2): it
  was surely meant for one.
"""

from __future__ import annotations

from mtlspec.cli.sources import Side, git_show, load_side, split_git
from mtlspec.errors import MtlspecError


class Baselines:
    """The `--against` baselines of one `check` run (see the module docstring).

    Args:
        against: the `--against` values, in order.
        files: the spec files checked.
        allow_import: allow user-code backbones in baseline specs.

    Raises:
        MtlspecError: a baseline cannot be read (an unknown revision of `git:REV` is found
            when the first file is compared).
    """

    def __init__(self, against: tuple[str, ...], files: tuple[str, ...],
                 allow_import: bool, use_cache: bool = True) -> None:
        self.allow_import = allow_import
        self.use_cache = use_cache
        self.sources: list[tuple[str, str | Side]] = []  # (as given, revision or side)
        for arg in against:
            if arg.startswith("git:") and split_git(arg)[1] is None:
                # checked per file, in its folder's repository (git_show, check_revision)
                self.sources.append((arg, split_git(arg)[0]))
            else:
                self.sources.append((arg, load_side(arg, allow_import=allow_import,
                                                    use_cache=use_cache)))
        self.single = len(files) == 1 and len(against) == 1
        self.used: set[str] = set()

    def describe(self) -> str:
        return ", ".join(arg for arg, _ in self.sources)

    def for_file(self, side: Side) -> Side | None:
        """The baseline of one checked spec (its `Side`), or None when it has none."""
        for arg, source in self.sources:
            if isinstance(source, str):
                text = git_show(source, side.name, arg, missing_ok=True)
                if text is not None:
                    return load_side(f"git:{source}:{side.name}", text=text,
                                     allow_import=self.allow_import,
                                     use_cache=self.use_cache)
            elif self.single or source.saved.spec == side.saved.spec:
                self.used.add(arg)
                return source
        return None

    def unused(self) -> list[str]:
        """Explicit baselines no checked spec matched (by name)."""
        return [f"{arg} (spec `{source.saved.spec}`)" for arg, source in self.sources
                if not isinstance(source, str) and arg not in self.used]


def unmatched_error(unused: list[str]) -> MtlspecError:
    return MtlspecError(f"--against {', '.join(unused)} matches none of the checked specs "
                        "(a baseline is used for the spec of the same name)")
