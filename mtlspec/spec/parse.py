"""Spec text → IR, with a side table of source spans and the comments `fmt` must keep.

Parsing is lark's LALR(1) over `grammar/mtlspec.lark`. Newlines end items inside `{ }` blocks
and layout rows inside `layout [ ]`; inside `( )`, lists and task sets they are free. A small
post-lexer decides which, so the grammar itself stays readable.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from lark import Lark, Tree
from lark.exceptions import UnexpectedInput

from mtlspec.errors import Span, SpecError, raise_all
from mtlspec.spec import ir
from mtlspec.spec.builder import Builder, Path_
from mtlspec.spec.comments import Comments, attach_comments
from mtlspec.spec.syntax_errors import describe_syntax_error

MAX_NESTING = 32  # deeper bracket nesting is an error, not a stack overflow
MAX_BYTES = 16 * 1024 * 1024  # a spec is a page of text; refuse to read a 16 MiB "spec"

# A `{` opens a task set (newlines free) after these tokens; after anything else it opens a
# block whose items end at newlines.
_SET_OPENERS = {"LSQB", "_SEP", "RBRACE", "VBAR", "COLON", "TRAINS", "SERVES"}
_COMMENT = re.compile(r"#[^\n]*")
# Comments, found outside strings (strings never span lines).
_COMMENT_OR_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


@dataclass
class Document:
    """A parsed spec with everything needed to report errors and format it back.

    Attributes:
        spec: the IR.
        spans: IR path → source span (e.g. `("tasks", 0)`, `("layout", 2, frozenset(...))`).
        comments: comments attached to the formatter's lines, so `fmt` keeps them.
        source: the text.
        filename: shown in error messages.
    """

    spec: ir.AnySpec
    spans: dict[Path_, Span] = field(default_factory=dict)
    comments: Comments = field(default_factory=dict)
    source: str = ""
    filename: str = "<string>"


class _Newlines:
    """Lark post-lexer: drop line breaks inside brackets where they carry no meaning."""

    always_accept = ("_SEP",)

    def process(self, stream):
        stack: list[bool] = []  # per open bracket: are newlines significant inside it?
        prev = "_SEP"
        last = None
        for tok in stream:
            kind = tok.type
            _check_split_word(last, tok)
            last = tok
            if kind == "_SEP":
                # a `;` inside brackets is an error the parser should see (not one in a comment)
                if stack and not stack[-1] and ";" not in _COMMENT.sub("", tok.value):
                    continue
            elif kind in ("LBRACE", "LSQB", "LPAR"):
                if len(stack) >= MAX_NESTING:
                    raise SpecError(
                        f"brackets nested more than {MAX_NESTING} deep",
                        Span(tok.line, tok.column, tok.line, tok.column + 1),
                        "a spec never needs this much nesting; is a closing bracket missing?",
                    )
                if kind == "LBRACE":
                    stack.append(prev not in _SET_OPENERS)
                else:
                    stack.append(kind == "LSQB" and prev == "LAYOUT")
            elif kind in ("RBRACE", "RSQB", "RPAR") and stack:
                stack.pop()
            prev = kind
            yield tok


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_split_word(last, tok) -> None:
    """Refuse a keyword glued to the word after it (`networks` read as `network` + `s`).

    Where no name may stand, the contextual lexer matches a keyword as a prefix of a longer
    word; the parse would then fail later with a confusing message.
    """
    if last is None or last.type in ("NAME", "CUT_NAME") or tok.start_pos != last.end_pos:
        return
    if not _WORD.fullmatch(last.value) or not re.match(r"[A-Za-z0-9_]", tok.value):
        return
    word = last.value + re.match(r"[A-Za-z0-9_]*", tok.value).group()
    raise SpecError(
        f"unknown keyword `{word}`",
        Span(last.line, last.column, last.line, last.column + len(word)),
        f"did you mean `{last.value}`?",
    )


_LARK_OPTIONS = {"parser": "lalr", "lexer": "contextual", "propagate_positions": True,
                 "maybe_placeholders": False}


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    """The spec parser; its LALR tables come from mtlspec's cache (`mtlspec.cache`) when
    there: building them takes ~60 ms a run. The entry's name holds everything the tables
    depend on (grammar, options, lark's version); one that does not load is rebuilt."""
    import hashlib

    import lark

    from mtlspec import cache

    grammar = resources.files("mtlspec.grammar").joinpath("mtlspec.lark").read_text("utf-8")
    digest = hashlib.sha256(f"{grammar}{sorted(_LARK_OPTIONS.items())}".encode()).hexdigest()
    name = f"lark/{lark.__version__}-{digest[:24]}.tables"
    saved = cache.load_bytes(name)
    if saved is not None:
        try:
            # `Lark.load` takes no postlexer; `_load` is what lark's own `cache=` calls
            return Lark.__new__(Lark)._load(io.BytesIO(saved), postlex=_Newlines())
        except Exception:  # written by another lark, or damaged: rebuild below
            pass
    parser = Lark(grammar, postlex=_Newlines(), **_LARK_OPTIONS)
    buffer = io.BytesIO()
    parser.save(buffer, exclude_options=("postlex",))
    cache.store_bytes(name, buffer.getvalue())
    return parser


def _collect_comments(text: str) -> list[tuple[int, int, str]]:
    """(line, column, text) of every `#` comment of a text that parsed."""
    out = []
    for line_no, line in enumerate(text.split("\n"), start=1):  # lark counts lines at \n only
        if "#" not in line:
            continue
        for match in _COMMENT_OR_STRING.finditer(line):
            if match.group().startswith("#"):
                out.append((line_no, match.start() + 1, match.group().rstrip()))
    return out


@contextlib.contextmanager
def _no_gc():
    """Pause the cyclic garbage collector: parse trees are many small acyclic objects, and
    collections triggered while building them cost a third of a big spec's parse time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def syntax_tree(text: str) -> Tree:
    """The raw lark tree of `text` (syntax errors raise lark's exceptions)."""
    return _parser().parse(text)


def parse_document(text: str, filename: str = "<string>") -> Document:
    """Parse spec text into a `Document` (IR + spans + comments).

    Args:
        text: the spec.
        filename: shown in error messages.

    Returns:
        The document; its `spec` is not yet validated (see `mtlspec.spec.validate`).

    Raises:
        SpecError, SpecErrors: syntax errors, or items the IR cannot hold (a missing
            `layout`, a duplicated `input`, a non-integer where an integer belongs).

    Example:
        >>> doc = parse_document("grouping g { input x: float[1, 3, 8, 8]\\n"
        ...                      "tasks { a: head linear(out=1) }\\n"
        ...                      "network A: convnet trains {a} serves {a} }", "g.mtl")
        >>> doc.spec.kind, doc.spans[("tasks", 0)].line
        ('grouping', 2)
    """
    with _no_gc():
        try:
            tree = syntax_tree(text)
        except UnexpectedInput as err:
            raise describe_syntax_error(err, text, _parser()).located(filename, text) from None
        except SpecError as err:
            raise err.located(filename, text) from None
        builder = Builder()
        spec = builder.build(tree)
    raise_all(e.located(filename, text) for e in builder.errors)
    assert spec is not None
    comments = attach_comments(_collect_comments(text), builder.anchors, text)
    return Document(spec, builder.spans, comments, text, filename)


def parse(text: str, filename: str = "<string>") -> ir.AnySpec:
    """Parse spec text into its IR.

    Raises:
        SpecError, SpecErrors: see `parse_document`.

    Example:
        >>> spec = parse(Path("specs/nyuv2_resnet34.mtl").read_text())
        >>> spec.name, len(spec.layout)
        ('nyuv2_resnet34', 5)
    """
    return parse_document(text, filename).spec


def read_text(path: str) -> tuple[str, str]:
    """Read a spec file (`-` is standard input) as UTF-8; return (display name, text).

    Raises:
        SpecError: the file is missing, unreadable, too large or not UTF-8.
    """
    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with open(path, "rb") as fh:
                data = fh.read(MAX_BYTES + 1)
    except OSError as err:
        raise SpecError(f"cannot read {name}: {err.strerror or err}", filename=name) from None
    if len(data) > MAX_BYTES:
        raise SpecError(f"{name} is larger than {MAX_BYTES // 2**20} MiB", filename=name)
    try:
        return name, data.decode("utf-8")
    except UnicodeDecodeError as err:
        text = data[: err.start].decode("utf-8")
        line = text.count("\n") + 1
        column = len(text) - (text.rfind("\n") + 1) + 1
        raise SpecError(
            f"not UTF-8 text: byte 0x{data[err.start]:02x} cannot be decoded",
            Span.point(line, column),
            "save the spec as UTF-8",
            filename=name,
            source=text,
        ) from None


def load(path: str | Path) -> Document:
    """Read and parse a spec file (`-` for standard input)."""
    name, text = read_text(str(path))
    return parse_document(text, name)
