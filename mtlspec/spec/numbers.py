"""Numbers with a K/M/G suffix, the one rule for spec text and the command line.

`60M` is 60,000,000, `1.5K` is 1,500, `2G` is 2,000,000,000. Suffixes are capitals only: in a
spec, `m` would read as milli, and the command line (`--max-params 60M`) follows the spec.
"""

from __future__ import annotations

import re
from decimal import Decimal

SUFFIXES = {"K": 10**3, "M": 10**6, "G": 10**9}
_COUNT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMG]?)\s*$")


def split_suffix(text: str) -> tuple[str, int]:
    """A number's text without its K/M/G suffix, and the suffix's multiplier (1 if none).

    Example:
        >>> split_suffix("1.5K"), split_suffix("300")
        (('1.5', 1000), ('300', 1))
    """
    if text and text[-1] in SUFFIXES:
        return text[:-1], SUFFIXES[text[-1]]
    return text, 1


def parse_count(text: str) -> int:
    """A non-negative count with an optional K, M or G suffix (capitals), rounded to an integer.

    Raises:
        ValueError: not a non-negative number with an optional K, M or G.

    Example:
        >>> parse_count("2.5M"), parse_count("1.5K"), parse_count("93878")
        (2500000, 1500, 93878)
        >>> parse_count("60m")
        Traceback (most recent call last):
        ...
        ValueError: '60m' is not a count such as 1500, 60M, 1.5K or 2G (suffixes K, M, G ...)
    """
    match = _COUNT.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a count such as 1500, 60M, 1.5K or 2G (suffixes K, "
                         "M, G in capitals, as in spec text)")
    return round(Decimal(match.group(1)) * SUFFIXES.get(match.group(2), 1))
