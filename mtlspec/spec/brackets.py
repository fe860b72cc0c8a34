"""Brackets still open where a parse failed: where a "missing `}`" was opened.

Example:
    >>> open_brackets("model m {\\n  tasks { a: head linear(out=1\\n", 40)
    [('{', 1, 9), ('{', 2, 9), ('(', 2, 25)]
"""

from __future__ import annotations

import re

from lark.exceptions import UnexpectedInput

_BRACKETS = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|[()\[\]{}]')
OPENER = {")": "(", "]": "[", "}": "{"}


def open_brackets(text: str, pos: int) -> list[tuple[str, int, int]]:
    """The brackets still open at offset `pos`: (bracket, line, column), innermost last."""
    stack: list[tuple[str, int, int]] = []
    for found in _BRACKETS.finditer(text, 0, pos):
        char = found.group()
        if char in "([{":
            line = text.count("\n", 0, found.start()) + 1
            stack.append((char, line, found.start() - text.rfind("\n", 0, found.start())))
        elif char in OPENER:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == OPENER[char]:
                    del stack[i:]
                    break
    return stack


def still_open_hint(label: str, hint: str, text: str, err: UnexpectedInput) -> str:
    """Add where the bracket a "missing `)`" label is about was opened, if on an earlier line."""
    pos = getattr(err, "pos_in_stream", None)
    if not label.startswith(("missing `)`", "missing `]`", "missing `}`")) or pos is None:
        return hint
    want = OPENER[label[9]]
    for char, line, column in reversed(open_brackets(text, pos)):
        if char == want:
            if line < err.line:
                return f"{hint}; the `{char}` at line {line}, column {column} is never closed"
            break
    return hint
