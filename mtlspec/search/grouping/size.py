"""How large an exact grouping search is, known before it starts, and the limit on it."""

from __future__ import annotations

import os
from collections.abc import Sequence

from mtlspec.errors import MtlspecError

# Steps of the exact search (3**T for the cover DP over task sets, 2**|trains| per network):
# ~1 µs each in Python, so the default is about a minute of work and a few GB at most.
MAX_SEARCH_STEPS = 50_000_000
SEARCH_ENV = "MTLSPEC_MAX_SEARCH_STEPS"


def search_steps(tasks: int, trains: Sequence[int]) -> int:
    """The exact search's size in steps (`trains`: how many tasks each network trains).

    Example:
        >>> search_steps(3, [3, 1])
        37
    """
    return 3**tasks + sum(1 << n for n in trains)


def check_size(source: str, tasks: int, trains: Sequence[int]) -> None:
    """Refuse a table whose exact search would run past the limit, saying how large it is.

    Raises:
        MtlspecError: more steps than $MTLSPEC_MAX_SEARCH_STEPS (default MAX_SEARCH_STEPS).
    """
    steps = search_steps(tasks, trains)
    try:
        limit = int(os.environ.get(SEARCH_ENV) or MAX_SEARCH_STEPS)
    except ValueError:
        raise MtlspecError(f"{SEARCH_ENV} must be a whole number of steps") from None
    if steps > limit:
        raise MtlspecError(
            f"{source}: choosing among {len(trains)} networks for {tasks} "
            f"tasks is an exact search of about {steps:.2g} steps; the limit is {limit:.2g} "
            f"(raise it with {SEARCH_ENV}=N, or split the tasks into smaller tables)")
