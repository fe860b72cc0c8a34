"""Budget sweeps for task grouping: selection method, budget → total table, trade-off plot.

Selection is made on one table and reported on others, as in Standley et al.:

- `optimal`: select on the table itself (the validation split);
- `hoa`: select on the Higher-Order Approximation of the table (≥3-task networks predicted
  from the pair networks), report on the table;
- `esa`: select on an early-stopped table, report on the table (the fully trained values).

With `hoa` and `esa` the approximation picks the networks; once trained, their values in the
table decide which one serves each task (`reassign`). A picked network left serving no task
is not deployed: it is neither listed nor counted, and every figure of a row (cost, networks,
the selection table's estimate, the totals) describes the same deployed networks serving the
same tasks.

An `--eval` table (the test split) adds a column: the chosen networks, serving the tasks they
were chosen for, scored on it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

from mtlspec.errors import MtlspecError
from mtlspec.io import write_atomic
from mtlspec.search.grouping.candidates import Candidate, CandidateTable
from mtlspec.search.grouping.selection import (
    Selection,
    best_within,
    evaluate,
    fixed_selection,
    frontier,
    reassign,
)

METHODS = ("optimal", "hoa", "esa")
MAX_SWEEP_POINTS = 10_000


def selection_table(
    method: str, table: CandidateTable, early: CandidateTable | None = None
) -> CandidateTable:
    """The table a method selects on.

    Args:
        method: `optimal`, `hoa` or `esa`.
        table: the (validation) table.
        early: the early-stopped table, for `esa`.

    Returns:
        `table`, its higher-order approximation, or `early`.

    Raises:
        MtlspecError: an unknown method, `esa` without an early table, or tables whose task
            columns or directions differ.

    Example:
        >>> from mtlspec.search.grouping.table import load_table
        >>> table = load_table("standley:setting1")
        >>> selection_table("optimal", table) is table
        True
        >>> hoa = selection_table("hoa", table)
        >>> table.by_name("segment+depth+normal").loss["segment"] != \\
        ...     hoa.by_name("segment+depth+normal").loss["segment"]
        True
    """
    if method == "optimal":
        return table
    if method == "hoa":
        return higher_order_approximation(table)
    if method == "esa":
        if early is None:
            raise MtlspecError("--method esa selects on an early-stopped table: pass --early")
        check_compatible(table, early)
        return early
    raise MtlspecError(f"unknown method `{method}` (use {', '.join(METHODS)})")


def higher_order_approximation(table: CandidateTable) -> CandidateTable:
    """Standley et al.'s HOA: predict each ≥3-task network from the pair networks.

    For a network trained on U (|U| ≥ 3), the predicted value of task t ∈ U is the mean of t's
    value in the pair networks {t, u}, u ∈ U − {t}, of the same width. Single-task and pair
    networks keep their values; costs, widths and names are unchanged.

    Args:
        table: a table holding every pair network the higher-order networks need.

    Returns:
        The table with predicted values for the ≥3-task networks.

    Raises:
        MtlspecError: a pair network the approximation needs is not in the table.

    Example:
        >>> from mtlspec.search.grouping.table import parse_csv
        >>> t = parse_csv("cost,a,b,c\\n1,1,2,\\n1,3,,4\\n1,,5,6\\n1,0,0,0\\n")
        >>> dict(higher_order_approximation(t).candidates[3].loss)
        {'a': 2.0, 'b': 3.5, 'c': 5.0}
    """
    pairs: dict[tuple[frozenset[str], float], Candidate] = {}
    for cand in table.candidates:
        if len(cand.loss) == 2:
            pairs.setdefault((cand.trains, cand.width), cand)
    out = []
    for cand in table.candidates:
        if len(cand.loss) < 3:
            out.append(cand)
            continue
        predicted = {}
        for task in cand.loss:
            values = []
            for other in cand.loss:
                pair = pairs.get((frozenset((task, other)), cand.width))
                if other != task and pair is None:
                    raise MtlspecError(
                        f"{table.source}: the higher-order approximation of `{cand.name}` "
                        f"needs the pair network {{{task}, {other}}} (width {cand.width:g})")
                if other != task:
                    values.append(pair.loss[task])
            predicted[task] = math.fsum(values) / len(values)
        out.append(replace(cand, loss=predicted))
    return replace(table, candidates=tuple(out))


def check_compatible(table: CandidateTable, other: CandidateTable) -> None:
    """Raise MtlspecError unless `other` has the same tasks, cost unit and direction."""
    if set(other.tasks) != set(table.tasks):
        raise MtlspecError(f"{other.source}: its tasks ({', '.join(other.tasks)}) differ from "
                           f"those of {table.source} ({', '.join(table.tasks)})")
    for key in ("cost_unit", "direction"):
        if getattr(other, key) != getattr(table, key):
            raise MtlspecError(f"{other.source}: {key} is {getattr(other, key)} but "
                               f"{table.source} has {getattr(table, key)}")


def short_name(table: CandidateTable) -> str:
    """The table's file name without its folder, for column headers and legends."""
    return Path(table.source).name or table.source


def parse_sweep(text: str) -> list[float]:
    """`START:STOP:STEP` → the budgets START, START+STEP, …, up to STOP inclusive.

    Args:
        text: e.g. `1:5:0.5`.

    Returns:
        The budgets (decimal steps, so `0.1` steps do not drift).

    Raises:
        MtlspecError: not three numbers, a step ≤ 0, STOP < START, a negative START, or
            more than 10,000 points.

    Example:
        >>> parse_sweep("1:2:0.5")
        [1.0, 1.5, 2.0]
    """
    parts = text.split(":")
    try:
        if len(parts) != 3:
            raise InvalidOperation
        start, stop, step = (Decimal(p.strip()) for p in parts)
        if not all(x.is_finite() for x in (start, stop, step)):
            raise InvalidOperation
    except InvalidOperation:
        raise MtlspecError(f"--sweep expects START:STOP:STEP, e.g. 1:5:0.5; got `{text}`") from None
    if step <= 0 or stop < start or start < 0:
        raise MtlspecError(f"--sweep {text}: need 0 ≤ START ≤ STOP and STEP > 0")
    try:  # 0:1e9999999999:1 overflows the decimal context: as many points as too many
        count = int((stop - start) / step) + 1
    except ArithmeticError:
        count = MAX_SWEEP_POINTS + 1
    if not all(math.isfinite(float(x)) for x in (start, stop)):
        raise MtlspecError(f"--sweep {text}: the budgets must be finite floating-point numbers")
    if count > MAX_SWEEP_POINTS:
        raise MtlspecError(f"--sweep {text} has {count} points; the limit is {MAX_SWEEP_POINTS}")
    return [float(start + i * step) for i in range(count)]


@dataclass(frozen=True)
class SweepRow:
    """One budget of a sweep.

    Attributes:
        budget: the budget.
        selection: the chosen networks (None when no selection fits the budget); for `hoa`
            and `esa`, each task served by the network best for it on the table, and a
            network that then serves nothing dropped.
        selected: the selection table's total for that selection (what the approximation
            predicts for the deployed networks).
        table: the total on the reported table (same as `selected` for `optimal`).
        eval: the total on the evaluation table, when one was given.
    """

    budget: float
    selection: Selection | None
    selected: float | None
    table: float | None
    eval: float | None


def sweep(
    table: CandidateTable,
    budgets: Sequence[float],
    *,
    method: str = "optimal",
    early: CandidateTable | None = None,
    eval_table: CandidateTable | None = None,
) -> list[SweepRow]:
    """Select for every budget (one Pareto front answers them all) and report the totals.

    Args:
        table: the validation table.
        budgets: the budgets, e.g. from `parse_sweep`.
        method: `optimal`, `hoa` or `esa`.
        early: the early-stopped table (`esa`).
        eval_table: the test table, or None.

    Returns:
        One row per budget; budgets too small to cover every task get an empty row.

    Raises:
        MtlspecError: see `selection_table` and `evaluate`.

    Example:
        >>> from mtlspec.search.grouping.table import load_table
        >>> table = load_table("standley:setting1")
        >>> [round(r.table, 5) for r in sweep(table, [2.5])]
        [0.45076]
    """
    chooser = selection_table(method, table, early)
    if eval_table is not None:
        check_compatible(table, eval_table)
    front = frontier(chooser, max(budgets)) if budgets else []
    rows = []
    for budget in budgets:
        pick = best_within(front, budget)
        if pick is None:
            rows.append(SweepRow(budget, None, None, None, None))
            continue
        if chooser is not table:  # trained networks: their real values pick the servers
            pick = reassign(pick, table)
        rows.append(SweepRow(budget, pick, evaluate(pick, chooser), evaluate(pick, table),
                             evaluate(pick, eval_table) if eval_table is not None else None))
    return rows


def _standard(cands: Iterator[Candidate]) -> Candidate | None:
    """Of equivalent candidates: a standard-width one first, then the cheapest, then earliest."""
    ranked = sorted(enumerate(cands), key=lambda ic: (ic[1].width != 1, ic[1].cost, ic[0]))
    return ranked[0][1] if ranked else None


def baselines(table: CandidateTable) -> dict[str, Selection]:
    """The paper's two reference points, where the table has their networks.

    Returns:
        `all tasks in one network` (one network trained on every task) and `one network per
        task` (a single-task network for each task), standard width preferred; a key is left
        out when the table lacks the networks.

    Example:
        >>> from mtlspec.search.grouping.table import load_table
        >>> sorted(baselines(load_table("standley:setting1")))
        ['all tasks in one network', 'one network per task']
    """
    everything = frozenset(table.tasks)
    out: dict[str, Selection] = {}
    joint = _standard(c for c in table.candidates if c.trains == everything)
    if joint is not None:
        out["all tasks in one network"] = fixed_selection(table, [(joint, table.tasks)])
    singles = [_standard(c for c in table.candidates if c.trains == {t}) for t in table.tasks]
    if all(s is not None for s in singles):
        out["one network per task"] = fixed_selection(
            table, [(s, (t,)) for s, t in zip(singles, table.tasks, strict=True)])
    return out


def plot_tradeoff(
    rows: Sequence[SweepRow],
    table: CandidateTable,
    path: str | Path,
    *,
    method: str = "optimal",
    eval_table: CandidateTable | None = None,
) -> None:
    """Write a PNG of budget → total, with the two baselines as reference points.

    Args:
        rows: from `sweep`.
        table: the reported table (baselines are scored on `eval_table` when given, else here).
        path: the PNG file (written atomically).
        method: the selection method, for the legend.
        eval_table: the evaluation table, or None.

    Raises:
        MtlspecError: the file cannot be written.

    Example:
        >>> import tempfile
        >>> from mtlspec.search.grouping.table import load_table
        >>> table = load_table("standley:setting1")
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     plot_tradeoff(sweep(table, parse_sweep("1:5:0.5")), table, f"{folder}/t.png")
        ...     Path(f"{folder}/t.png").read_bytes()[:4]
        b'\\x89PNG'
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2), dpi=120)
    ax = fig.add_subplot()
    reference = eval_table if eval_table is not None else table
    fitting = [r for r in rows if r.selection is not None]
    xs = [r.budget for r in fitting]
    if method != "optimal":  # the exact optimum on the reported table, for comparison
        best = sweep(table, xs, eval_table=eval_table)
        ax.step(xs, [r.eval if eval_table is not None else r.table for r in best], "-",
                where="post", color="0.6", label=f"optimal on {short_name(reference)}")
    ax.step(xs, [r.table for r in fitting], "o-", where="post",
            label=f"{method} on {short_name(table)}")
    if eval_table is not None:
        ax.step(xs, [r.eval for r in fitting], "s--", where="post",
                label=f"{method} on {short_name(eval_table)}")
    for (label, base), marker in zip(baselines(reference).items(), "D^", strict=False):
        ax.plot([base.cost], [evaluate(base, reference)], marker, markersize=8,
                label=f"{label} ({short_name(reference)})")
    ax.set_xlabel(f"inference budget ({table.cost_unit})")
    ax.set_ylabel("total loss" if table.direction == "min" else "total metric")
    ax.set_title("task grouping: budget trade-off")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    write_atomic(path, buffer.getvalue())
