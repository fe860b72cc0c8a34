"""Size limits: estimate memory before allocating, and refuse past a limit with the estimate.

The limit is `DEFAULT_MAX_MEMORY` (16 GiB), or `MTLSPEC_MAX_MEMORY` (bytes, or with a K/M/G/T
suffix in powers of 1024: `64G`), which `mtlspec --max-memory SIZE COMMAND` sets. Estimates
are lower bounds: parameters at their dtype's size, an input tensor, a data set's items.
"""

from __future__ import annotations

import os
import re

from mtlspec.errors import MtlspecError

DEFAULT_MAX_MEMORY = 16 * 2**30
ENV = "MTLSPEC_MAX_MEMORY"
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """`64G` → bytes (K, M, G, T are powers of 1024; a bare number is bytes).

    Raises:
        MtlspecError: not a size.

    Example:
        >>> parse_size("64G"), parse_size("1.5K"), parse_size("100")
        (68719476736, 1536, 100)
    """
    match = _SIZE.match(text)
    if not match or len(match.group(1)) > 30:
        raise MtlspecError(f"{text!r} is not a memory size such as 16G, 512M or 1T")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def max_memory() -> int:
    """The limit in bytes ($MTLSPEC_MAX_MEMORY, else DEFAULT_MAX_MEMORY)."""
    text = os.environ.get(ENV)
    return parse_size(text) if text else DEFAULT_MAX_MEMORY


def show_bytes(n: float) -> str:
    """Bytes for people.

    Example:
        >>> show_bytes(3 * 2**30), show_bytes(512)
        ('3.0 GiB', '512 B')
    """
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{int(n)} B"


def check_memory(estimate: float, what: str) -> None:
    """Refuse work whose memory estimate is past the limit.

    Raises:
        MtlspecError: `estimate` > max_memory(), naming `what`, the estimate and the limit.

    Example:
        >>> check_memory(2**20, "a small model")
        >>> try:
        ...     check_memory(2**50, "input float[1, 3, 100000, 100000]")
        ... except MtlspecError as err:
        ...     print(str(err).split(";")[0])
        input float[1, 3, 100000, 100000] needs at least 1,024.0 TiB
    """
    limit = max_memory()
    if estimate > limit:
        raise MtlspecError(f"{what} needs at least {show_bytes(estimate)}; the limit is "
                           f"{show_bytes(limit)} (raise it with `mtlspec --max-memory SIZE` or "
                           f"{ENV}=SIZE)")
