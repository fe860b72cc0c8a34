"""Syntax errors that read like a person wrote them.

An LALR parser fails in a parser state on a token. Like lark's `match_examples`, we keep a
table of known-bad examples (`syntax_examples.EXAMPLES`), find the example that fails in the
same place on the same kind of token, and report its message and hint ("missing `}` after the
task list (found `layout`)") instead of "Unexpected token RBRACE". Errors no example covers
fall back to "unexpected X; expected ...".

Where `match_examples` compares parser states including the depth of the parser's stack, we
compare (see `_Key` and `match`):
- the LALR state after the reductions the parser would make anyway, ignoring stack depth, so
  a one-line example also labels the same mistake in a file that starts with a comment;
- failing that, the last grammar symbols before the failure, so the first and the third task
  of a list, or a network with and without `(width=...)`, share their examples;
- always the set of tokens acceptable there, and preferably the kind of token found (with a
  note of whether it starts a line, follows an item keyword, or is a `name=` argument).
The examples are parsed once per process, so describing an error costs about a millisecond.
A few mistakes are recognised before the table: an empty file, characters no token starts
with, a keyword glued to the next word (`tasksx`), a closing bracket nothing opened.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from mtlspec.errors import Span, SpecError
from mtlspec.spec.brackets import OPENER, open_brackets, still_open_hint
from mtlspec.spec.syntax_examples import EXAMPLES

__all__ = ["EXAMPLES", "describe_syntax_error", "example_keys", "friendly", "label_of", "match"]

_FRIENDLY = {
    "_SEP": "end of line", "$END": "end of file", "NAME": "a name", "NUMBER": "a number",
    "STRING": "a quoted string", "LBRACE": "`{`", "RBRACE": "`}`", "LSQB": "`[`",
    "RSQB": "`]`", "LPAR": "`(`", "RPAR": "`)`", "COLON": "`:`", "SEMICOLON": "`;`",
    "COMMA": "`,`", "VBAR": "`|`", "EQUAL": "`=`", "DOT": "`.`", "_ARROW": "`->`",
    "_LE": "`<=`", "CUT_NAME": "a module name", "TASK_SET": "a task set `{..}`",
    "EDGE": "an edge `i->j`", "RUNTIME": "a runtime such as `ort-cpu`",
}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_LAST_WORD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)[ \t]*\Z")
_ITEM_KEYWORDS = {
    "input", "backbone", "tasks", "layout", "branch", "budget", "init", "weights", "central",
    "topology", "network",
}
_KWARG_NEXT = re.compile(r"[ \t]*=(?!=)")
# Characters that are no token anywhere, with what the writer probably meant.
_CHAR_HINTS = {
    '"': ("unterminated string", 'close the string with `"` on the same line'),
    "'": ("unexpected character `'`", 'strings are written in double quotes: "file.pt"'),
    "<": ("unexpected character `<`", "budgets are written `gmacs <= 40`"),
    ">": ("unexpected character `>`", "edges are written `i->j`; budgets `gmacs <= 40`"),
    "-": ("unexpected character `-`", "edges are written `i->j` with no space in `->`"),
    "\ufeff": ("unexpected byte-order mark", "save the spec as UTF-8 without a byte-order mark"),
}
# Labels that only fit when an example found the same kind of token: "items must be on
# separate lines" fits a keyword after a complete item, not a stray `=`; "missing `}` at the
# end" fits the end of the file only.
_NEEDS_SAME_TOKEN = {
    "items must be on separate lines or separated by `;`",
    "missing `}` at the end of the spec",
}
_NOT_SPACE = re.compile(r"[^\s;]")
_COMMENT = re.compile(r"#[^\n]*")


def friendly(terminal: str, parser: Lark | None = None) -> str:
    """How to name a terminal in a message: `}` for RBRACE, `tasks` for TASKS.

    A keyword whose name lark had to make up (`__ANON_0` for `edge`) is looked up in the
    parser's terminals when a parser is given.
    """
    if terminal in _FRIENDLY:
        return _FRIENDLY[terminal]
    if parser is not None:
        try:
            pattern = parser.get_terminal(terminal).pattern
        except KeyError:
            pattern = None
        if pattern is not None and pattern.type == "str":
            return f"`{pattern.value}`"
    return f"`{terminal.lower()}`"


def _kind(tok: Token) -> str:
    """A token's type, with a plain name that lark's fallback lexer calls CUT_NAME as NAME."""
    if tok.type == "CUT_NAME" and _IDENTIFIER.match(tok.value):
        return "NAME"
    return tok.type


def _found(err: UnexpectedToken) -> str:
    tok = err.token
    kind = _kind(tok)
    if kind == "_SEP":
        return "`;`" if tok.value.strip(" \t\f\r").startswith(";") else friendly("_SEP")
    if kind == "$END":
        return friendly(kind)
    shown = " ".join(str(tok.value).split())
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    words = {"NAME": "name", "CUT_NAME": "name", "NUMBER": "number", "STRING": "string",
             "TASK_SET": "task set", "EDGE": "edge"}
    if kind in words:
        return f"{words[kind]} `{shown}`"
    return f"`{shown}`" if shown else friendly(kind)


def _span(err: UnexpectedInput, text: str) -> Span:
    if isinstance(err, UnexpectedToken) and err.token.type == "$END":
        lines = text.rstrip("\n").split("\n")  # lark counts lines at \n only
        return Span.point(len(lines), len(lines[-1].removesuffix("\r")) + 1)
    tok = getattr(err, "token", None)
    if isinstance(err, UnexpectedToken) and tok.type == "_SEP":
        # A separator runs from the end of one item to the start of the next; point at the
        # end of the line (or at the `;`), where the item was cut short.
        offset = len(tok.value) - len(tok.value.lstrip(" \t\f\r"))
        return Span.point(tok.line, tok.column + offset)
    if tok is not None and getattr(tok, "end_column", None) and tok.end_line == tok.line:
        return Span(tok.line, tok.column, tok.end_line, tok.end_column)
    line = err.line if isinstance(err.line, int) and err.line > 0 else 1
    column = err.column if isinstance(err.column, int) and err.column > 0 else 1
    return Span.point(line, column)


@dataclass(frozen=True)
class _Key:
    """How a parse fails: where the parser stands, what it accepts there, what it found.

    `state` is the LALR state; `tail` the last two grammar symbols before the failure (helper
    rules for `*`/`+` left out), which names the place in the grammar without the state's
    accidents: `{a, b, ,` and `{a, ,` fail in different states (first or later repetition),
    as do `network A: x trains {a} {a}` and `network A: x(width=1) trains {a} {a}` (one
    state per expansion of an optional part), but their tails and accepted tokens agree.
    `token_type` ends in `@nl` when the token starts a line: inside `( )`, `[ ]` and task
    sets newlines are dropped, so an unclosed bracket shows up on the next line. A name
    followed by `=` has type KWARG: `linear out=1)` lacks a `(`, `linear b: head` a newline.
    """

    state: object
    tail: tuple[str, ...]
    accepts: frozenset[str] | None  # None for an unexpected character
    token_type: str | None
    token_value: str | None


_HELPER_RULE = re.compile(r"__\w+_(star|plus)_\d+\Z")


def _symbol(value: object) -> str:
    data = getattr(value, "data", None)
    return str(data) if data is not None else str(getattr(value, "type", type(value).__name__))


def _settle(parser_state: object) -> tuple[object, tuple[str, ...]]:
    """The LALR state and symbol tail after the reductions the parser makes on any token.

    An error found just after a complete construct (`{a, b}` then a stray name) surfaces in a
    reduce-only state that LALR shares between every context the construct appears in, and
    whose number depends on the construct's inner shape (`{a}` or `{a, b}`). Performing those
    reductions lands in the state of the enclosing context (a layout row, a `trains` set).
    """
    stack = list(getattr(parser_state, "state_stack", ()) or ())
    symbols = [_symbol(v) for v in getattr(parser_state, "value_stack", ()) or ()]
    conf = getattr(parser_state, "parse_conf", None)
    if not stack or conf is None:
        return getattr(parser_state, "position", parser_state), ()
    for _ in range(64):  # a reduction chain is a few steps; the bound only guards the loop
        actions = conf.states.get(stack[-1], {})
        # (actions compared by name: a parser loaded from lark's cache has its own objects)
        rules = {arg for action, arg in actions.values() if str(action) == "Reduce"}
        if len(rules) != 1 or any(str(action) != "Reduce" for action, _ in actions.values()):
            break
        rule = next(iter(rules))
        size = len(rule.expansion)
        if size >= len(stack) or size > len(symbols):
            break
        rest = stack[: len(stack) - size]
        goto = conf.states.get(rest[-1], {}).get(rule.origin.name)
        if goto is None:
            break
        stack = [*rest, goto[1]]
        symbols = [*symbols[: len(symbols) - size], rule.origin.name]
    tail = tuple(sym for sym in symbols if not _HELPER_RULE.match(sym))[-2:]
    return stack[-1], tail


def _starts_line(text: str, pos: int | None) -> bool:
    if pos is None or pos <= 0:
        return False
    return text[text.rfind("\n", 0, pos) + 1 : pos].strip() == "" and "\n" in text[:pos]


def _key(err: UnexpectedInput, text: str) -> _Key:
    state, tail = _settle(err.state)
    if not isinstance(err, UnexpectedToken):
        return _Key(state, tail, None, None, None)
    accepts = err.accepts if err.interactive_parser is not None else err.expected
    kind = _kind(err.token)
    if str(err.token) in _ITEM_KEYWORDS and kind != "NAME":
        kind = "ITEM"  # any item's keyword: `input ... backbone` lacks a newline whichever
    end = getattr(err.token, "end_pos", None)
    if _IDENTIFIER.match(str(err.token)) and end is not None and _KWARG_NEXT.match(text, end):
        kind = "KWARG"  # `name=`: an argument, whatever the name's token type
    start = err.token.start_pos
    if kind not in ("$END", "_SEP") and start is not None:
        before = _LAST_WORD.search(text[max(0, start - 64) : start])  # window: linear time
        if before is not None and before.group(1) in _ITEM_KEYWORDS:
            kind += "@item"  # `topology a` read as a task name: a `}` is missing before it
    if kind not in ("$END", "_SEP") and _starts_line(text, start):
        kind += "@nl"
    return _Key(state, tail, frozenset(accepts or ()), kind, str(err.token))


@functools.lru_cache(maxsize=4)
def example_keys(parser: Lark) -> tuple[tuple[str, _Key], ...]:
    """(label, how it fails) for every example of the table, parsed once per parser.

    An example that does not fail (a bug in the table, caught by the tests) is skipped.
    """
    out = []
    for label, (_, examples) in EXAMPLES.items():
        for example in examples:
            try:
                parser.parse(example)
            except UnexpectedInput as err:
                out.append((label, _key(err, example)))
            except SpecError:
                pass
    return tuple(out)


def _same_token(key: _Key, candidates: list[tuple[str, _Key]]) -> str | None:
    """The label of a candidate that found the same token, else the same kind of token."""
    same_type = None
    for label, ex in candidates:
        if key.token_type is not None and ex.token_type == key.token_type:
            if ex.token_value == key.token_value:
                return label
            same_type = same_type or label
    return same_type


def match(err: UnexpectedInput, text: str, parser: Lark) -> tuple[str, bool] | None:
    """The table's label for a parse failure and whether an example found the same kind of
    token there; None when no example fails that way.

    Candidates are examples that accept the same tokens and fail in the same LALR state, or
    after the same two grammar symbols, or (only when neither finds any) after the same one
    (see `_Key`). An example that found the same kind of token wins; failing that, the
    first candidate of the strictest tier that has one.
    """
    key = _key(err, text)

    def accepts_agree(ex: _Key) -> bool:
        return key.accepts is None or ex.accepts is None or ex.accepts == key.accepts

    keys = [(label, ex) for label, ex in example_keys(parser) if accepts_agree(ex)]
    tiers = [[(label, ex) for label, ex in keys if ex.state == key.state]]
    for size in (2, 1):
        if len(key.tail) >= size:
            tiers.append([(lb, ex) for lb, ex in keys if ex.tail[-size:] == key.tail[-size:]])
    # The loosest tier (one symbol) is consulted only when the stricter ones are empty.
    strict, loose = tiers[:2], tiers[2:]
    for group in (strict, loose):
        for tier in group:
            label = _same_token(key, tier)
            if label is not None:
                return label, True
        for tier in group:
            if tier and tier[0][0] not in _NEEDS_SAME_TOKEN:
                return tier[0][0], False
    return None


def label_of(err: UnexpectedInput, text: str, parser: Lark) -> str | None:
    """The table's label for a parse failure, or None (see `match`)."""
    found = match(err, text, parser)
    return found[0] if found else None


def _is_blank(text: str) -> bool:
    return _NOT_SPACE.search(_COMMENT.sub("", text)) is None


def _split_keyword(err: UnexpectedInput) -> SpecError | None:
    """`tasksx {` fails on `x` right after the keyword `tasks`: report the whole word.

    (The post-lexer in parse.py reports the same when the parse goes on after the split.)
    """
    history = getattr(err, "token_history", None) or []
    last, tok = (history[-1] if history else None), getattr(err, "token", None)
    if last is None or tok is None or _kind(last) == "NAME" or last.type == "CUT_NAME":
        return None
    if tok.start_pos != last.end_pos or not _IDENTIFIER.match(str(last)):
        return None
    rest = re.match(r"[A-Za-z0-9_]*", str(tok)).group()
    if not rest:
        return None
    word = str(last) + rest
    return SpecError(
        f"unknown keyword `{word}`",
        Span(last.line, last.column, last.line, last.column + len(word)),
        f"did you mean `{last}`?",
    )


def describe_syntax_error(err: UnexpectedInput, text: str, parser: Lark) -> SpecError:
    """Turn a lark parse failure into a located, labelled SpecError.

    Args:
        err: what lark raised.
        text: the text that was parsed.
        parser: the parser that raised it (the examples are parsed with it too).

    Returns:
        The error, with a span but no file name (see `SpecError.located`).

    Example:
        >>> from lark.exceptions import UnexpectedInput
        >>> from mtlspec.spec.parse import _parser
        >>> text = "model m {\\n  tasks { a: head linear(out=1)\\n  layout [ {a} ]\\n}\\n"
        >>> try:
        ...     _parser().parse(text)
        ... except UnexpectedInput as err:
        ...     print(describe_syntax_error(err, text, _parser()).message)
        missing `}` after the task list (found `[`)
    """
    span = _span(err, text)
    if _is_blank(text):
        return SpecError(
            "the file holds no spec" + (" (only comments)" if "#" in text else ""),
            Span.point(1, 1),
            "a spec starts with `model NAME {`, `dag NAME {` or `grouping NAME {`",
        )
    if isinstance(err, UnexpectedCharacters):
        char = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        if char in _CHAR_HINTS:
            message, hint = _CHAR_HINTS[char]
            return SpecError(message, span, hint)
        shown = char if char.isprintable() else repr(char)[1:-1]
        return SpecError(
            f"unexpected character `{shown}`",
            span,
            "names are letters, digits and `_`; comments start with `#`",
        )
    split = _split_keyword(err)
    if split is not None:
        return split
    found = _found(err) if isinstance(err, UnexpectedToken) else "input"
    matched = match(err, text, parser)
    closer = str(err.token) if isinstance(err, UnexpectedToken) else ""
    if closer in OPENER and not (matched and matched[1]):
        still_open = open_brackets(text, err.pos_in_stream)
        if not any(char == OPENER[closer] for char, _, _ in still_open):
            return SpecError(
                f"unmatched `{closer}`: no `{OPENER[closer]}` is open here",
                span,
                "remove it, or add the bracket it was meant to close",
            )
    if matched is not None:
        label = matched[0]
        hint = still_open_hint(label, EXAMPLES[label][0], text, err)
        return SpecError(f"{label} (found {found})", span, hint or None)
    accepts = getattr(err, "accepts", None) if getattr(err, "interactive_parser", None) else None
    options = accepts or getattr(err, "expected", None) or ()
    expected = sorted({friendly(t, parser) for t in options})
    listing = ", ".join(expected[:8]) + (", ..." if len(expected) > 8 else "")
    return SpecError(
        f"unexpected {found}" + (f"; expected {listing}" if listing else ""),
        span,
        "see the spec language reference in README.md",
    )
