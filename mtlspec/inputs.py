"""One checked way to read the input files users hand to commands (tables, results, manifests,
architectures, baselines): every odd file becomes an `MtlspecError` (exit 2) naming the file,
and its line where it has one, instead of a Python exception.

- `read_text`: a size limit, UTF-8 (a BOM is fine), OS errors as messages.
- `parse_json`: nesting depth ≤ `MAX_DEPTH` (deeper files raise RecursionError in `json`),
  numbers of at most `MAX_DIGITS` digits, no NaN/Infinity, and a line:column on syntax errors.
- `validate_json`: a pydantic model or type for the file's shape, errors named by field path.
- `read_rows`: CSV/TSV rows with their line numbers, csv errors located.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mtlspec.errors import MtlspecError

MAX_BYTES = 256 * 2**20  # an input table or result file larger than this is not one
MAX_DEPTH = 64  # nesting of JSON inputs (arrays and objects)
MAX_DIGITS = 100  # digits of one JSON or table number (10**100 is no count, cost or score)


def read_text(path: str | Path, what: str = "file") -> str:
    """The text of `path`, checked: exists, not too large, UTF-8.

    Raises:
        MtlspecError: cannot be read, is larger than MAX_BYTES, or is not UTF-8 text.

    Example:
        >>> try:
        ...     read_text("no/such.csv", "table")
        ... except MtlspecError as err:
        ...     print(err)
        cannot read table no/such.csv: No such file or directory
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise MtlspecError(f"{what} {path} is {size:,} bytes; the limit is {MAX_BYTES:,}")
        data = path.read_bytes()
    except OSError as err:
        raise MtlspecError(f"cannot read {what} {path}: {err.strerror or err}") from None
    return decode(data, str(path))


def decode(data: bytes, source: str) -> str:
    """UTF-8 text (a leading BOM dropped), or an error naming the line of the bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise MtlspecError(f"{source}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x}); "
                           "save the file as UTF-8") from None


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"a number of {len(text)} digits")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_DIGITS + 10:
        raise ValueError(f"a number of {len(text)} characters")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a floating-point number")
    return value


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not a finite number")


def parse_json(text: str, source: str, *, allow_nan: bool = False) -> Any:
    """JSON text → Python objects, within the limits above.

    Raises:
        MtlspecError: invalid JSON (with line:column), too deep, an oversized or non-finite
            number.

    Example:
        >>> parse_json('{"a": [1, 2.5]}', "x.json")
        {'a': [1, 2.5]}
        >>> try:
        ...     parse_json('[' * 100 + ']' * 100, "deep.json")
        ... except MtlspecError as err:
        ...     print(err)
        deep.json: JSON nested deeper than 64 levels
    """
    try:
        data = json.loads(text, parse_int=_int, parse_float=_float if not allow_nan else None,
                          parse_constant=_constant if not allow_nan else None)
    except json.JSONDecodeError as err:
        raise MtlspecError(f"{source}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}") from None
    except RecursionError:
        raise MtlspecError(f"{source}: JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as err:
        raise MtlspecError(f"{source}: invalid JSON number: {err}") from None
    if _depth(data) > MAX_DEPTH:
        raise MtlspecError(f"{source}: JSON nested deeper than {MAX_DEPTH} levels")
    return data


def _depth(data: Any) -> int:
    """Nesting depth, without recursion (an iterative walk cannot overflow the stack)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                stack += [(v, depth + 1) for v in (item.values() if isinstance(item, dict)
                                                   else item)]
    return deepest


def load_json(path: str | Path, what: str = "file", *, allow_nan: bool = False) -> Any:
    """`read_text` then `parse_json` (`allow_nan`: NaN, Infinity and overflowing numbers are
    read as floats, for files whose reader reports them itself)."""
    return parse_json(read_text(path, what), str(path), allow_nan=allow_nan)


def validate_json(data: Any, shape: Any, source: str) -> Any:
    """`data` validated against a pydantic model or type (`shape`), strictly typed.

    Raises:
        MtlspecError: naming the first fields that do not fit, by their path.

    Example:
        >>> validate_json({"val": {"a": 1.5}}, dict[str, dict[str, float]], "r.json")
        {'val': {'a': 1.5}}
        >>> try:
        ...     validate_json({"val": None}, dict[str, dict[str, float]], "r.json")
        ... except MtlspecError as err:
        ...     print(err)
        r.json: val: Input should be a valid dictionary
    """
    import pydantic

    try:
        return pydantic.TypeAdapter(shape).validate_python(data)
    except pydantic.ValidationError as err:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'the file'}: {e['msg']}"
                    for e in err.errors()[:3]]
        raise MtlspecError(f"{source}: " + "; ".join(problems)) from None


def read_rows(text: str, source: str, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank CSV or TSV row.

    Raises:
        MtlspecError: a csv syntax error or an oversized field, at its line.

    Example:
        >>> list(read_rows('a,b\\n\\n1,"x,y"\\n', "t.csv"))
        [(1, ['a', 'b']), (3, ['1', 'x,y'])]
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise MtlspecError(f"{source}:{reader.line_num}: {err}") from None
        if any(c.strip() for c in cells):
            yield reader.line_num, cells


def finite_number(cell: str, where: str) -> float:
    """A table cell as a finite float of at most MAX_DIGITS digits.

    Example:
        >>> finite_number(" 0.25 ", "t.csv:2: ")
        0.25
    """
    try:
        return _float(cell.strip())
    except ValueError:
        raise MtlspecError(f"{where}`{cell[:20]}` is not a finite number") from None
