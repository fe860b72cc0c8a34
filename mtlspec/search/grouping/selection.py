"""Task grouping (Standley et al.): the best set of networks under an inference budget.

Given candidate networks (`table`), each trained on a task subset with a cost and a loss per
task it predicts, choose networks of total cost ≤ budget that cover every task and minimise
Σ_tasks min over the chosen networks of that task's loss.

The exact method is a dynamic program over task subsets that keeps, for each subset, the
Pareto front of (cost, loss) over the ways to serve exactly that subset:

- Each task is served by one chosen network, so the served sets partition the tasks. A
  chosen network that serves nothing can be dropped (costs are ≥ 0), so it suffices to search
  partitions into blocks S, each served by a network n that trains S, worth
  (cost(n), Σ_{t∈S} loss_n(t)).
- The DP allows the same network in two blocks. That is never useful: the two served sets
  are disjoint, and one copy serving their union has the same loss and costs cost(n) less (or
  as much, with one network fewer, which the tie-break prefers). So the optimum never uses a
  network twice, and the relaxation is exact.
- front[mask] = Pareto-min over blocks S ∋ lowest task of mask of block[S] ⊕ front[mask − S].
  Keeping the whole front instead of one best value is what makes real-valued costs (GMACs)
  exact, and one front answers every budget up to its limit (`frontier`, the budget sweep).

Work grows with the number of tasks (≈ 3^T/2 subset pairs times front sizes), not with the
number of candidates: T = 10 with all 1,033 candidates takes well under a second.

Arithmetic is exact: every float is a dyadic rational, so costs and losses are scaled to
integers, and ties are real ties. Ties are broken deterministically, in this order: lower
total cost, fewer networks, the set whose latest table row is earliest, then each task served
by the earliest network. A budget admits a cost up to budget·(1 + 1e-9) (0.1 + 0.2 ≤ 0.3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from operator import itemgetter

from mtlspec.errors import MtlspecError
from mtlspec.search.grouping.candidates import Candidate, CandidateTable

BUDGET_TOLERANCE = 1e-9  # relative slack on a budget, for decimal costs summed in binary

# A front entry: (cost, loss, candidate index, served mask, previous entry); the root is
# (0, 0, -1, 0, None). Entries chain back to the root, one block per link.
_Entry = tuple


@dataclass(frozen=True)
class Choice:
    """A chosen network and the tasks it serves (in table task order)."""

    candidate: Candidate
    serves: tuple[str, ...]


@dataclass(frozen=True)
class Selection:
    """A set of networks covering every task.

    Attributes:
        choices: the networks in table order, each with the tasks it serves.
        cost: total cost (the table's unit).
        total: Σ over tasks of the serving network's value (a loss, or a metric for
            `direction: max` tables).
    """

    choices: tuple[Choice, ...]
    cost: float
    total: float

    def describe(self) -> str:
        """One line: each network's name, and `→served` when it serves fewer than it trains."""
        parts = []
        for c in self.choices:
            trained = len(c.candidate.loss)
            parts.append(c.candidate.name if len(c.serves) == trained
                         else f"{c.candidate.name}→{'+'.join(c.serves)}")
        return "  ".join(parts)


def budget_limit(budget: float) -> Fraction:
    """The largest admitted total cost for `budget` (exact), with the relative tolerance."""
    return Fraction(budget) + Fraction(BUDGET_TOLERANCE) * max(1, abs(Fraction(budget)))


def _scaled(values: Sequence[float]) -> tuple[list[int], int]:
    """Exact integers v·2^k for the floats v (each float is n/2^j), and k."""
    ratios = [float(v).as_integer_ratio() for v in values]
    k = max((d.bit_length() - 1 for _, d in ratios), default=0)
    return [n << (k - (d.bit_length() - 1)) for n, d in ratios], k


class _Problem:
    """The table as bit masks and exact integers (values negated for `direction: max`)."""

    def __init__(self, table: CandidateTable) -> None:
        self.table = table
        self.tasks = table.tasks
        index = {t: i for i, t in enumerate(table.tasks)}
        self.full = (1 << len(table.tasks)) - 1
        self.masks = [sum(1 << index[t] for t in c.loss) for c in table.candidates]
        self.costs, self.cost_shift = _scaled([c.cost for c in table.candidates])
        sign = -1 if table.direction == "max" else 1
        flat = [(n, index[t], sign * v) for n, c in enumerate(table.candidates)
                for t, v in c.loss.items()]
        ints, _ = _scaled([v for _, _, v in flat])
        self.loss = [[0] * len(table.tasks) for _ in table.candidates]
        for (n, i, _), v in zip(flat, ints, strict=True):
            self.loss[n][i] = v
        self.n = len(table.candidates)
        covered = 0
        for m in self.masks:
            covered |= m
        missing = [t for i, t in enumerate(table.tasks) if not covered >> i & 1]
        if missing:
            raise MtlspecError(f"{table.source}: no network in the table predicts task "
                               f"`{missing[0]}`, so no selection can cover it")

    def limit(self, budget: float | None) -> float | int:
        if budget is None:
            return math.inf
        if not math.isfinite(budget) or budget < 0:
            raise MtlspecError(f"the budget must be a finite number ≥ 0, got {budget}")
        return math.floor(budget_limit(budget) * (1 << self.cost_shift))

    def tie_key(self, entry: _Entry) -> tuple[int, int, int]:
        """(networks, Σ 2^n, Σ_t n·N^t): additive, so the order survives composition."""
        count = netkey = assign = 0
        while entry[2] >= 0:
            n, served = entry[2], entry[3]
            count, netkey = count + 1, netkey + (1 << n)
            for i in range(len(self.tasks)):
                if served >> i & 1:
                    assign += n * self.n ** i
            entry = entry[4]
        return count, netkey, assign


def _blocks(p: _Problem, limit: float | int) -> dict[int, list[_Entry]]:
    """For every task set S: the Pareto front of (cost, loss, n) over networks training S."""
    blocks: dict[int, list[tuple[int, int, int]]] = {}
    for n, trains in enumerate(p.masks):
        cost = p.costs[n]
        if cost > limit:
            continue
        sub_loss = {0: 0}
        sub = trains & -trains
        while sub:  # every non-empty subset of `trains`, in increasing order
            low = sub & -sub
            sub_loss[sub] = sub_loss[sub ^ low] + p.loss[n][low.bit_length() - 1]
            blocks.setdefault(sub, []).append((cost, sub_loss[sub], n))
            sub = (sub - trains) & trains
    for served, options in blocks.items():
        options.sort()  # by cost, loss, then earliest network: exactly the tie order
        front, best = [], None
        for cost, loss, n in options:
            if best is None or loss < best:
                front.append((cost, loss, n, served, None))
                best = loss
        blocks[served] = front
    return blocks


def _pareto(p: _Problem, entries: list[_Entry]) -> list[_Entry]:
    """The entries no other entry beats on both cost and loss; exact ties by `tie_key`."""
    entries.sort(key=itemgetter(0, 1))
    front: list[_Entry] = []
    for e in entries:
        if not front or e[1] < front[-1][1]:
            front.append(e)
        elif e[1] == front[-1][1] and e[0] == front[-1][0] and p.tie_key(e) < p.tie_key(front[-1]):
            front[-1] = e
    return front


def _full_front(p: _Problem, limit: float | int) -> list[_Entry]:
    """The Pareto front over covers of every task with cost ≤ limit (scaled integers)."""
    cover = _cover_costs(p)
    # No Pareto-optimal cover costs more than one giving every task its best network.
    limit = min(limit, _all_best_cost(p))
    blocks = _blocks(p, limit)
    fronts: list[list[_Entry]] = [[] for _ in range(p.full + 1)]
    fronts[0] = [(0, 0, -1, 0, None)]
    for mask in range(1, p.full + 1):
        if mask & 1 and mask != p.full:
            continue  # the recursion from the full set only ever asks for sets without task 0
        # whatever serves the tasks outside `mask` costs at least cover[outside]
        room = limit - cover[p.full ^ mask]
        low = mask & -mask
        others = mask ^ low
        entries = []
        sub = others
        while True:  # every block S ⊆ mask holding the lowest task of mask
            served = sub | low
            rest = fronts[mask ^ served]
            for cost, loss, n, _, _ in blocks.get(served, ()):
                for prev in rest:
                    total = cost + prev[0]
                    if total > room:
                        break  # `rest` is sorted by cost
                    entries.append((total, loss + prev[1], n, served, prev))
            if not sub:
                break
            sub = (sub - 1) & others
        fronts[mask] = _pareto(p, entries)
    return fronts[p.full]


def _all_best_cost(p: _Problem) -> int:
    """The cost of the networks that give each task its lowest loss (earliest on ties)."""
    chosen = set()
    for i in range(len(p.tasks)):
        options = [(p.loss[n][i], n) for n, m in enumerate(p.masks) if m >> i & 1]
        chosen.add(min(options)[1])
    return sum(p.costs[n] for n in chosen)


def _selection(p: _Problem, entry: _Entry) -> Selection:
    served_by: dict[int, int] = {}
    while entry[2] >= 0:
        served_by[entry[2]] = entry[3]
        entry = entry[4]
    table = p.table
    choices = tuple(
        Choice(table.candidates[n], tuple(t for i, t in enumerate(p.tasks) if served >> i & 1))
        for n, served in sorted(served_by.items()))
    cost = math.fsum(c.candidate.cost for c in choices)
    total = math.fsum(c.candidate.loss[t] for c in choices for t in c.serves)
    return Selection(choices, cost, total)


def frontier(table: CandidateTable, max_budget: float | None = None) -> list[Selection]:
    """Every optimal trade-off: the selections no other beats on both cost and total.

    Args:
        table: the candidates.
        max_budget: ignore selections costing more (None: no limit).

    Returns:
        Selections by increasing cost and strictly improving total; the best selection for a
        budget B ≤ max_budget is the last one with cost ≤ B. Empty when none fits.

    Raises:
        MtlspecError: a task no candidate predicts, or a negative budget.

    Example:
        >>> from mtlspec.search.grouping.table import load_table
        >>> [round(s.cost, 1) for s in frontier(load_table("standley:setting1"))]
        [1.0, 1.5, 2.0, ...]
    """
    p = _Problem(table)
    return [_selection(p, e) for e in _full_front(p, p.limit(max_budget))]


def select(table: CandidateTable, budget: float) -> Selection:
    """The exact optimum: networks of total cost ≤ budget covering every task, best total.

    Args:
        table: the candidates (the selection table: validation, HOA or early-stopped).
        budget: the most the chosen networks may cost, in the table's cost unit.

    Returns:
        The best selection; ties broken as described in the module docstring.

    Raises:
        MtlspecError: the budget is negative or too small to cover every task (the message
            gives the cheapest cover), or a task no candidate predicts.

    Example:
        >>> from mtlspec.search.grouping.table import load_table
        >>> t = load_table("standley:setting1")
        >>> round(select(t, 2.5).total, 5)
        0.45076
    """
    p = _Problem(table)
    front = _full_front(p, p.limit(budget))
    if not front:
        cheapest = _cover_costs(p)[p.full] / (1 << p.cost_shift)
        raise MtlspecError(f"no set of networks within a budget of {budget:g} {table.cost_unit} "
                           f"covers every task; the cheapest cover costs {cheapest:g}")
    return _selection(p, front[-1])


def _cover_costs(p: _Problem) -> list[float | int]:
    """For every task set, the least total cost of networks covering it (scaled integers)."""
    cheapest_block: dict[int, int] = {}
    for n, trains in enumerate(p.masks):
        sub = trains
        while sub:
            if cheapest_block.get(sub, math.inf) > p.costs[n]:
                cheapest_block[sub] = p.costs[n]
            sub = (sub - 1) & trains
    best: list[float | int] = [0] + [math.inf] * p.full
    for mask in range(1, p.full + 1):
        low, others = mask & -mask, mask ^ (mask & -mask)
        sub = others
        while True:
            block = cheapest_block.get(sub | low, math.inf)
            best[mask] = min(best[mask], block + best[mask ^ (sub | low)])
            if not sub:
                break
            sub = (sub - 1) & others
    return best


def best_within(front: Sequence[Selection], budget: float) -> Selection | None:
    """The best selection of a `frontier` whose cost fits `budget` (None if none does)."""
    limit = budget_limit(budget)
    fitting = [s for s in front if _exact_cost(s) <= limit]
    return fitting[-1] if fitting else None


def _exact_cost(selection: Selection) -> Fraction:
    return sum((Fraction(c.candidate.cost) for c in selection.choices), Fraction(0))


def evaluate(selection: Selection, table: CandidateTable) -> float:
    """The total of a selection on another table (test split, or the full table for ESA).

    Each chosen network is found by name and keeps the tasks it serves; the total is the sum
    of their values in `table`.

    Args:
        selection: from `select` on the selection table.
        table: the table to report on.

    Returns:
        Σ over served tasks of the value in `table`.

    Raises:
        MtlspecError: a chosen network, or a task it serves, is missing from `table`.

    Example:
        >>> from mtlspec.search.grouping.table import load_table
        >>> validation, test = load_table("standley:setting1"), load_table("standley:setting1-test")
        >>> round(evaluate(select(validation, 2.5), test), 5)
        0.44612
    """
    values = []
    for choice in selection.choices:
        cand = table.by_name(choice.candidate.name)
        if cand is None:
            raise MtlspecError(f"{table.source}: the chosen network `{choice.candidate.name}` "
                               "is not in this table")
        for task in choice.serves:
            if task not in cand.loss:
                raise MtlspecError(f"{table.source}: network `{cand.name}` has no value for "
                                   f"task `{task}`")
            values.append(cand.loss[task])
    return math.fsum(values)


def reassign(selection: Selection, table: CandidateTable) -> Selection:
    """The same networks, each task now served by the best of them according to `table`.

    Used after selecting on an approximation (HOA, early-stopped values): once the chosen
    networks are trained, the fully trained values decide which one serves each task.

    Args:
        selection: the chosen networks.
        table: the table whose values decide (the validation table).

    Returns:
        A selection of those networks (taken from `table`), each task served by its lowest
        value there (ties: the earliest row); a network left serving nothing is dropped.

    Raises:
        MtlspecError: a chosen network is missing from `table`.

    Example:
        >>> from mtlspec.search.grouping.table import load_table
        >>> table, early = load_table("standley:setting1"), load_table("standley:setting1-esa")
        >>> picked = select(early, 3)
        >>> reassign(picked, table).total < evaluate(picked, table)  # trained values serve better
        True
    """
    names = {c.candidate.name for c in selection.choices}
    chosen = [(n, c) for n, c in enumerate(table.candidates) if c.name in names]
    missing = names - {c.name for _, c in chosen}
    if missing:
        raise MtlspecError(f"{table.source}: the chosen network `{sorted(missing)[0]}` is not "
                           "in this table")
    sign = -1 if table.direction == "max" else 1
    serves: dict[str, list[str]] = {c.name: [] for _, c in chosen}
    for task in table.tasks:
        options = [(sign * c.loss[task], n, c.name) for n, c in chosen if task in c.loss]
        if not options:
            raise MtlspecError(f"{table.source}: no chosen network predicts task `{task}`")
        serves[min(options)[2]].append(task)
    return fixed_selection(table, [(c, tuple(serves[c.name])) for _, c in chosen if serves[c.name]])


def fixed_selection(
    table: CandidateTable, picks: Sequence[tuple[Candidate, tuple[str, ...]]]
) -> Selection:
    """A selection of given networks, each serving the given tasks (costs and totals summed)."""
    choices = tuple(Choice(c, serves) for c, serves in picks)
    return Selection(choices, math.fsum(c.cost for c, _ in picks),
                     math.fsum(c.loss[t] for c, serves in picks for t in serves))
