"""Fuzzing the front end: whatever the input, the result is a spec or a clean SpecError.

Thousands of mutants of the shipped specs and the golden bad specs (characters, tokens and
lines deleted, duplicated and swapped; random characters and bytes; huge numbers; deep
nesting; very long lines) go through parse + validate. Every one must either pass or raise
`SpecError`/`SpecErrors` whose report renders, names the file and, where it has a span,
shows `file:line:col:` and the right source line. Any other exception fails the test with
the input that caused it. Seeded, so a failure reproduces; MTLSPEC_FUZZ scales the counts and
MTLSPEC_FUZZ_SEED picks other mutants.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtlspec.errors import MAX_ERRORS, SpecError, SpecErrors
from mtlspec.spec import format as format_spec
from mtlspec.spec import parse_document, validate
from mtlspec.spec.parse import Document, read_text

ROOT = Path(__file__).resolve().parents[2]
SCALE = float(os.environ.get("MTLSPEC_FUZZ", "1"))  # e.g. 20 for a long hunt
SEED = int(os.environ.get("MTLSPEC_FUZZ_SEED", "0"))  # another seed, other mutants
FILE = "fuzz.mtl"


def _seeds() -> list[str]:
    paths = sorted((ROOT / "specs").glob("*.mtl")) + sorted(
        (ROOT / "tests" / "golden" / "errors").glob("*.mtl"))
    out = []
    for path in paths:
        try:
            out.append(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            continue
    return out


# The shipped specs have no branch statements; this one does.
BRANCHES = """model branches {
  input image: float[1, 3, 64, 64]
  backbone convnet(depth=4, width=16) {
    blocks: auto(4)
    allow_import: false
  }
  tasks {
    segment: head conv(classes=13, hidden=32)
    depth: head conv(out=1)
    normal: head mlp(out=3, hidden=[64, 32], dropout=0.1)
  }
  branch after 1: {segment, depth} | {normal}
  branch after 2: {segment} | {depth}
  budget { gmacs <= 2; params <= 5M; units <= 2.5 }
  weights "weights/all.pt"
}
"""
VALID_SEEDS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "specs").glob("*.mtl"))]
VALID_SEEDS.append(BRANCHES)
SEEDS = _seeds() + [BRANCHES] * 5
TOKEN = re.compile(
    r'"[^"\n]*"|#[^\n]*|[A-Za-z_]\w*|[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?[KMG]?|->|<=|\S'
)
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d*)?(?:[eE][+-]?\d+)?[KMG]?")
HUGE = ["1" + "0" * 400, "1e999", "-1e999", "1e-999", "9" * 40, "9" * 41, "1e99999999999",
        "0.000000000000000000000000000000001", "+0", "-0", ".5", "5.", "1.5e3K", "99999999999G",
        "2147483648", "-2147483649", "1e308", "1e309M", "1e999000M", "0e0"]
ODD = ["\x00", "\x0c", "\r", "\t", "\u2028", "\x85", "\ufeff", "\u00e9", "\U0001f600", "\\",
       "'", '"', "`", "$", "@", "%", "<", ">", "-", "=", "==", "<=", "->", "|", ";", ",", "{",
       "}", "[", "]", "(", ")", ":", ".", "#", "\n", " ", "true", "false", "head", "auto"]


# ---------------------------------------------------------------------- the oracle
def check(text: str) -> Document | None:
    """Parse and validate; None after a clean error, the document if valid. Anything else fails."""
    try:
        doc = parse_document(text, FILE)
        validate(doc)
    except (SpecError, SpecErrors) as err:
        check_report(err, text)
        return None
    except Exception as err:  # the bug this file hunts: show the input that caused it
        raise AssertionError(f"{type(err).__name__}: {err}\ninput: {text[:400]!r}") from err
    return doc


def check_report(err: SpecError | SpecErrors, text: str) -> None:
    rendered = err.render()
    assert isinstance(rendered, str) and rendered and "Traceback" not in rendered
    lines = text.split("\n")
    errors = err.errors if isinstance(err, SpecErrors) else [err]
    for error in errors[:MAX_ERRORS]:
        assert error.message and error.filename == FILE, (error.message, text[:200])
        if error.span is None:
            assert f"{FILE}: error: {error.message}" in rendered
            continue
        span = error.span
        head = f"{FILE}:{span.line}:{span.column}: error: {error.message}"
        assert head in rendered, (head, text[:200])
        assert 1 <= span.line <= max(len(lines), 1), (span, text[:200])
        assert span.column >= 1 and (span.end_line, span.end_column) >= (span.line, span.column)
        source = lines[span.line - 1].removesuffix("\r") if span.line <= len(lines) else ""
        if error.source is not None and source.strip():
            assert f"{head}\n    {source}\n" in rendered, (head, source, rendered[:500])


# ---------------------------------------------------------------------- mutations
def _tokens(text: str) -> list[re.Match]:
    return list(TOKEN.finditer(text))


def _char(rng: random.Random, text: str) -> str:
    if not text:
        return rng.choice(ODD)
    i = rng.randrange(len(text))
    kind = rng.randrange(4)
    if kind == 0:
        return text[:i] + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i] + text[i:]
    if kind == 2 and i + 1 < len(text):
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice(ODD) + text[i:]


def _token(rng: random.Random, text: str) -> str:
    toks = _tokens(text)
    if len(toks) < 2:
        return _char(rng, text)
    i = rng.randrange(len(toks) - 1)
    a, b = toks[i], toks[i + 1]
    kind = rng.randrange(4)
    if kind == 0:
        return text[: a.start()] + text[a.end() :]
    if kind == 1:
        return text[: a.end()] + rng.choice([" ", "", "\n"]) + a.group() + text[a.end() :]
    if kind == 2:
        middle = text[a.end() : b.start()]
        return text[: a.start()] + b.group() + middle + a.group() + text[b.end() :]
    other = rng.choice(toks).group()
    return text[: a.start()] + other + text[a.end() :]


def _line(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    kind = rng.randrange(3)
    if kind == 0:
        del lines[i]
    elif kind == 1:
        lines.insert(i, lines[j])
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def _number(rng: random.Random, text: str) -> str:
    numbers = list(NUMBER.finditer(text))
    if not numbers:
        return _char(rng, text)
    m = rng.choice(numbers)
    return text[: m.start()] + rng.choice(HUGE) + text[m.end() :]


def _extreme(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text) + 1)
    piece = rng.choice([
        "[" * 10_000, "{" * 10_000, "(" * 10_000, "[" * 33, "{" * 33 + "}" * 33,
        "a" * 100_000, "1" * 100_000, "#" * 100_000, " " * 100_000, ";" * 10_000,
        "\n" * 10_000, "\x00" * 100, "{a, " * 5_000, "1->" * 5_000, '"' + "x" * 50_000,
    ])
    return text[:i] + piece + text[i:]


def _noise(rng: random.Random, text: str) -> str:
    """Changes that keep a valid spec valid: spacing, blank lines, comments."""
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    kind = rng.randrange(4)
    if kind == 0:
        lines.insert(i, rng.choice(["", "   ", "# a comment", "\t# tabbed comment"]))
    elif kind == 1 and lines[i].strip() and not lines[i].lstrip().startswith("#"):
        lines[i] += rng.choice(["  # trailing", " ", "\t", "   # {not, a, set} ]"])
    elif kind == 2:
        lines[i] = rng.choice(["", "  ", "\t"]) + lines[i]
    else:
        lines[i] = re.sub(r", ", rng.choice([",", ",  ", " , "]), lines[i])
    return "\n".join(lines)


MUTATIONS: list[Callable[[random.Random, str], str]] = [_char, _token, _token, _line, _number]


def mutants(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = rng.choice(SEEDS)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            text = rng.choice(MUTATIONS)(rng, text)
        out.append(text)
    return out


# ---------------------------------------------------------------------- tests
def test_seeds_are_there():
    assert len(SEEDS) >= 50 and len(VALID_SEEDS) >= 5
    assert all(check(text) is not None for text in VALID_SEEDS)


@pytest.mark.parametrize("chunk", range(4))
def test_random_mutants_end_in_a_spec_or_a_clean_error(chunk: int):
    count = int(1000 * SCALE)
    results = [check(text) for text in mutants(1000 * SEED + chunk, count)]
    errors = sum(r is None for r in results)
    assert errors > count // 2  # the mutations do break specs, so the errors were exercised


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.mtl")), ids=lambda p: p.stem)
def test_every_single_token_deletion_and_duplication(path: Path):
    text = path.read_text(encoding="utf-8")
    assert check(text) is not None
    for tok in _tokens(text):
        check(text[: tok.start()] + text[tok.end() :])
        check(text[: tok.end()] + " " + tok.group() + text[tok.end() :])


def test_extreme_inputs():
    rng = random.Random(7 + SEED)
    for _ in range(int(60 * SCALE)):
        check(_extreme(rng, rng.choice(VALID_SEEDS)))


@pytest.mark.parametrize(
    "text",
    ["", " ", "\n", ";", "\x00", "\ufeff", "#", "}", "model", "model m", "model m {", "model m {}",
     "dag d {}", "grouping g {}", "[" * 10_000, "{" * 10_000, "model m " + "{" * 10_000,
     "a" * 1_000_000, "model m {\n" + "  # c\n" * 20_000 + "}", "\r\n" * 1000],
    ids=lambda t: repr(t[:12]) + f"[{len(t)}]",
)
def test_degenerate_inputs(text: str):
    assert check(text) is None


@pytest.mark.parametrize("base", [BRANCHES, *VALID_SEEDS[:1]], ids=["branches", "first-spec"])
def test_huge_numbers_everywhere(base: str):
    assert check(base) is not None
    for m in NUMBER.finditer(base):
        for huge in HUGE:
            check(base[: m.start()] + huge + base[m.end() :])


def test_file_reader_with_random_bytes(tmp_path: Path):
    rng = random.Random(11 + SEED)
    path = tmp_path / "fuzz.mtl"
    for i in range(int(300 * SCALE)):
        data = bytearray(rng.choice(VALID_SEEDS).encode("utf-8"))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data) + 1)
            choice = rng.randrange(5)
            if choice == 0:
                data[at:at] = bytes([rng.randrange(256)])
            elif choice == 1:
                data[at:at] = rng.choice([b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80",
                                          b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x00"])
            elif choice == 2:
                data = data[:at]
            elif choice == 3:
                data[at:at] = "é€😀".encode()[: rng.randint(1, 9)]
            else:
                data = bytearray(data.decode("utf-8", "replace").encode(
                    rng.choice(["utf-16", "latin-1", "utf-8-sig", "utf-32"]), "replace"))
        path.write_bytes(bytes(data))
        try:
            name, text = read_text(str(path))
        except SpecError as err:
            assert err.message.startswith("not UTF-8 text: byte 0x"), err.message
            assert err.span is not None and str(err.span.line) in err.render()
            continue
        assert name == str(path)
        check(text)
        del i


def test_formatted_valid_specs_parse_back():
    """For every valid mutant: format → parse gives the same IR, and formatting is stable."""
    rng = random.Random(3 + SEED)
    valid = [doc for doc in (check(s) for s in VALID_SEEDS) if doc is not None]
    for _ in range(int(1000 * SCALE)):
        text = rng.choice(VALID_SEEDS)
        for _ in range(rng.randint(1, 4)):
            text = rng.choice([_line, _token, _char, _noise, _noise])(rng, text)
        doc = check(text)
        if doc is not None:
            valid.append(doc)
    assert len(valid) >= 200
    for doc in valid:
        text = format_spec(doc.spec, doc.comments)
        again = parse_document(text, "formatted.mtl")
        assert again.spec == doc.spec, text
        validate(again)
        assert format_spec(again.spec, again.comments) == text


# Pieces of spec text, recombined at random by hypothesis.
PIECES = ["model", "dag", "grouping", "m", "{", "}", "[", "]", "(", ")", ":", ",", ";", "\n",
          "=", "|", "->", "<=", "input", "x", "float", "1", "3", "-2", "1.5", "1e999", "60M",
          "backbone", "convnet", "torchvision.resnet18", "tasks", "a", "b", "head", "linear",
          "classes", "out", "layout", "{a, b}", "{a}", "branch", "after", "budget", "gmacs",
          "central", "states", "flow", "stem", "edge", "topology", "in", "edges", "1->2",
          "network", "trains", "serves", "width", "blocks", "auto", "allow_import", "true",
          '"w.pt"', '"unterminated', "# note", "init", "weights", " ", "\t", "\x00", "é"]


@settings(max_examples=int(400 * SCALE), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=60))
def test_random_token_soup(pieces: list[str]):
    check(" ".join(pieces))


@settings(max_examples=int(200 * SCALE), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_random_text(text: str):
    check(text)


@pytest.mark.parametrize(
    "make",
    [
        lambda run: "model m {\n  layout [\n    {a, b" + " " * run + "c}\n  ]\n}\n",
        lambda run: "model m {\n  layout [\n    {a" + " " * run + "\n  ]\n}\n",
        lambda run: "dag d {\n  topology a { edges: 1" + " " * run + "-> 2 }\n}\n",
        lambda run: "model m {\n  input x" + " " * run + ": float[1]\n}\n",
        lambda run: "model m {\n  init backbone \"" + "x" * run + "\n}\n",
        lambda run: "model m {\n  layout [\n    {" + "a, " * (run // 3) + "\n",
        lambda run: "model m {" + " ;" * run + "\n}\n",
        lambda run: "model m {\n  backbone " + "a" * run + ".\n}\n",
    ],
    ids=["spaces-in-set", "unclosed-set", "spaces-in-edge", "spaces-in-input", "long-string",
         "long-open-set", "separators", "long-name"],
)
def test_long_runs_take_linear_time(make):
    """A regex that backtracks quadratically turns a long run of one character into a hang."""
    check(make(1_000))  # warm up (the example table is parsed on the first error)
    start = time.perf_counter()
    check(make(30_000))
    assert time.perf_counter() - start < 2.0
