"""The one error type of the backbone stages (kept torch-free so the CLI can catch it cheaply)."""

from __future__ import annotations

from mtlspec.errors import MtlspecError


class BackboneError(MtlspecError):
    """A backbone cannot be built, traced, partitioned or selected as asked (exit 2).

    Args:
        message: what went wrong, in one sentence.
        hint: how to fix or work around it (optional), shown on its own line.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        text = f"error: {self.message}"
        return f"{text}\nhint: {self.hint}" if self.hint else text
