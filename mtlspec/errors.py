"""Errors a user can cause, rendered like a compiler's.

Every spec error carries a source span; `render` turns it into::

    specs/bad.mtl:9:5: error: layout row 3 does not refine row 2: ...
        {depth, normal} {segment}
        ^~~~~~~~~~~~~~~
    hint: a task set can only split as the network gets deeper

The CLI catches `MtlspecError` (exit 2) and `CheckFailed` (exit 1); anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_ERRORS = 20  # cap on errors reported at once, like a compiler's -fmax-errors


@dataclass(frozen=True)
class Span:
    """A 1-based source range: from (line, column) up to but excluding (end_line, end_column)."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, line: int, column: int) -> Span:
        return cls(line, column, line, column + 1)


def strip_native_frames(text: str) -> str:
    """Drop the C++ stack torch appends to some messages (`Exception raised from ...`,
    `frame #0: ... (0x7f.. in libc10.so)`): one sentence is what a user can act on.

    Example:
        >>> strip_native_frames('bad "size\\nException raised from f at x.h:79:\\n'
        ...                     'frame #0: c10::Error\\n"')
        'bad "size"'
    """
    keep = []
    for line in text.split("\n"):
        if line.startswith(("Exception raised from ", "frame #", "<omitting python frames>")):
            continue
        if line.strip() == '"' and keep:  # the quote that closed the C++ message
            keep[-1] += '"'
            continue
        keep.append(line)
    return "\n".join(keep)


class MtlspecError(Exception):
    """Base of every error caused by user input (bad spec, bad flag, unreadable file)."""

    exit_code = 2

    def render(self) -> str:
        return f"error: {self}"


class CheckFailed(MtlspecError):
    """A check the user asked for did not pass (budget exceeded, parity mismatch): exit 1."""

    exit_code = 1


class SpecError(MtlspecError):
    """One located problem in a spec.

    Args:
        message: what is wrong, in one sentence.
        span: where; None when the IR came from JSON or code rather than text.
        hint: how to fix it (optional).
        filename: the file name shown in the report.
        source: the spec text, to show the offending line.
    """

    def __init__(
        self,
        message: str,
        span: Span | None = None,
        hint: str | None = None,
        *,
        filename: str = "<spec>",
        source: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.filename = filename
        self.source = source

    def located(self, filename: str, source: str | None) -> SpecError:
        """The same error, attributed to a file and its text."""
        return SpecError(self.message, self.span, self.hint, filename=filename, source=source)

    def render(self) -> str:
        if self.span is None:
            head = f"{self.filename}: error: {self.message}"
        else:
            head = f"{self.filename}:{self.span.line}:{self.span.column}: error: {self.message}"
        lines = [head]
        if self.span is not None and self.source is not None:
            lines.extend(_caret_view(self.source, self.span))
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


class SpecErrors(MtlspecError):
    """Several spec errors found in one pass (validation collects them all)."""

    def __init__(self, errors: Sequence[SpecError]) -> None:
        if not errors:
            raise ValueError("SpecErrors needs at least one error")
        self.errors = list(errors)
        super().__init__(self.errors[0].message)

    def render(self) -> str:
        shown = [e.render() for e in self.errors[:MAX_ERRORS]]
        extra = len(self.errors) - MAX_ERRORS
        if extra > 0:
            shown.append(f"... and {extra} more error{'s' if extra > 1 else ''}")
        return "\n".join(shown)


def raise_all(errors: Iterable[SpecError]) -> None:
    """Raise the errors together if there are any (one error raises itself)."""
    errors = list(errors)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise SpecErrors(errors)


def _caret_view(source: str, span: Span) -> list[str]:
    """The source line of `span` and a caret row under the span (tabs kept for alignment)."""
    # Lines as the parser counts them: at "\n" only (str.splitlines also splits at \f, \x1c,
    # \u2028..., which would show the wrong line).
    source_lines = source.split("\n") if source else []
    if not 1 <= span.line <= len(source_lines):
        return []
    text = source_lines[span.line - 1].removesuffix("\r")
    start = max(span.column - 1, 0)
    if span.end_line == span.line:
        width = max(span.end_column - span.column, 1)
    else:
        width = max(len(text.rstrip()) - start, 1)
    width = min(width, max(len(text) - start, 1))
    pad = "".join("\t" if ch == "\t" else " " for ch in text[:start])
    return [f"    {text}", f"    {pad}^{'~' * (width - 1)}"]
