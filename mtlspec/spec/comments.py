"""Keep comments through `mtlspec fmt`.

The IR holds no comments (two specs that differ only in comments are the same architecture),
so the parser attaches each comment to a line the formatter will print, keyed by IR path:
a comment on its own line leads the next item; a comment after code trails the item on that
line. The formatter then weaves them back in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Path_ = tuple[Any, ...]
END = "end"  # path suffix of a block's closing line: ("tasks", "end") is the `}` of tasks
EOF_PATH: Path_ = ("eof",)  # comments after the spec's closing brace


@dataclass(frozen=True)
class Anchor:
    """A formatter line's source position: item `path` spans lines start..end."""

    path: Path_
    start: int
    end: int
    block: bool  # has its own closing line (path + (END,))


@dataclass
class Slot:
    """Comments attached to one formatter line."""

    leading: list[str] = field(default_factory=list)
    trailing: list[str] = field(default_factory=list)


Comments = dict[Path_, Slot]


def attach_comments(
    comments: list[tuple[int, int, str]], anchors: list[Anchor], source: str
) -> Comments:
    """Attach each (line, column, text) comment to a formatter line.

    Args:
        comments: the comments in source order.
        anchors: the formatter's lines with their source lines (the root first).
        source: the spec text, to tell a trailing comment (code before it) from a leading one.

    Returns:
        path → Slot, for `mtlspec.spec.format`.
    """
    # lark counts lines at \n only; str.splitlines() would also split at \f, \x85, \u2028...
    lines = source.split("\n")
    out: Comments = {}
    if not anchors:
        return out
    root = anchors[0]
    for line, column, text in comments:
        code_before = line <= len(lines) and lines[line - 1][: column - 1].strip() != ""
        if code_before:
            path = _trailing_path(line, anchors)
            out.setdefault(path, Slot()).trailing.append(text)
        else:
            path = EOF_PATH if line > root.end else _leading_path(line, anchors)
            out.setdefault(path, Slot()).leading.append(text)
    return out


def _depth_key(anchor: Anchor) -> int:
    return len(anchor.path)


def _trailing_path(line: int, anchors: list[Anchor]) -> Path_:
    starting = [a for a in anchors if a.start == line]
    if starting:
        return max(starting, key=_depth_key).path
    closing = [a for a in anchors if a.block and a.end == line]
    if closing:
        return (*max(closing, key=_depth_key).path, END)
    covering = [a for a in anchors if a.start <= line <= a.end]
    if covering:
        return max(covering, key=_depth_key).path
    return EOF_PATH


def _leading_path(line: int, anchors: list[Anchor]) -> Path_:
    if line < anchors[0].start:
        return anchors[0].path
    inside = [a for a in anchors if a.block and a.start < line < a.end]
    block = max(inside, key=_depth_key) if inside else anchors[0]
    later = [
        a for a in anchors
        if a.start > line and a.end <= block.end and a.path[: len(block.path)] == block.path
        and a is not block
    ]
    if later:
        return min(later, key=lambda a: (a.start, len(a.path))).path
    return (*block.path, END)
