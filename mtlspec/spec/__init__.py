"""The spec language: text → IR (`parse`), rules (`validate`), IR → text (`format`).

Nothing under `mtlspec.spec` imports torch, so parsing, validating and formatting are instant.
"""

from mtlspec.spec.format import format
from mtlspec.spec.ir import AnySpec, DagSpec, GroupingSpec, TreeSpec, from_json, to_json
from mtlspec.spec.parse import Document, load, parse, parse_document
from mtlspec.spec.validate import find_problems, validate

__all__ = [
    "AnySpec", "DagSpec", "Document", "GroupingSpec", "TreeSpec", "find_problems", "format",
    "from_json", "load", "parse", "parse_document", "to_json", "validate",
]
