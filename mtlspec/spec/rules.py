"""The rules every kind of spec shares (names, input, tasks and heads, calls, budgets,
backbone references), each a generator of `Problem`s; `validate` adds each kind's own.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mtlspec.spec import catalog, ir
from mtlspec.spec.builder import MAX_NUMBER_CHARS

Path_ = tuple[Any, ...]
MAX_DIM = 2**31 - 1
# Where `latency_ms` budgets can be measured (mtlspec.cost.latency runs them).
LATENCY_RUNTIMES = ("ort-cpu",)


@dataclass(frozen=True)
class Problem:
    path: Path_
    message: str
    hint: str | None = None


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def spelling_problems(spec: ir.AnySpec) -> Iterator[Problem]:
    """Rules only an IR built from JSON or code can break: spec text could not hold it."""
    names = [(("name",), spec.name), (("input",), spec.input.name)]
    names += [(("tasks", i, "name"), t.name) for i, t in enumerate(spec.tasks)]
    calls = [(("tasks", i, "head"), t.head.args) for i, t in enumerate(spec.tasks)]
    own_names, own_calls, problems = _SPELLED_PARTS[spec.kind](spec)
    names += own_names
    calls += own_calls
    yield from problems
    for path, args in calls:
        names += [((*path, "args", key), key) for key in args]
        for key, val in args.items():
            if not _spellable_value(val):
                yield Problem((*path, "args", key), f"argument `{key}` has a value spec text "
                              f"cannot hold: {val!r}", "numbers are finite and at most "
                              f"{MAX_NUMBER_CHARS} characters; strings hold no line break")
    for path, name in names:
        if not _IDENTIFIER.match(name):
            yield Problem(path, f"{name!r} is not a name", "names are letters, digits and `_`, "
                          "not starting with a digit")


_Parts = tuple[list[tuple[Path_, str]], list[tuple[Path_, dict]], list[Problem]]


def _tree_parts(spec: ir.TreeSpec) -> _Parts:
    return [], [(("backbone",), spec.backbone.args)], []


def _dag_parts(spec: ir.DagSpec) -> _Parts:
    return [], [(("central", "stem"), spec.central.stem.args),
                (("central", "edge"), spec.central.edge.args)], []


def _grouping_parts(spec: ir.GroupingSpec) -> _Parts:
    names = [(("networks", i, "name"), n.name) for i, n in enumerate(spec.networks)]
    calls = [(("networks", i), n.args) for i, n in enumerate(spec.networks)]
    problems = [Problem(("networks", i), "`width` belongs in the network's `width` field")
                for i, net in enumerate(spec.networks) if "width" in net.args]
    return names, calls, problems


# Each kind's own names and call arguments (spec kind → its parts).
_SPELLED_PARTS = {"model": _tree_parts, "dag": _dag_parts, "grouping": _grouping_parts}


def _spellable_value(val: ir.Value) -> bool:
    if isinstance(val, tuple):
        return all(_spellable_value(v) for v in val)
    if isinstance(val, str):
        return "\n" not in val and "\r" not in val
    if isinstance(val, float) and not math.isfinite(val):
        return False
    return isinstance(val, bool) or len(repr(val)) <= MAX_NUMBER_CHARS


def did_you_mean(name: str, options: Sequence[str]) -> str | None:
    """`did you mean `x`?` for the closest option, or None.

    Example:
        >>> did_you_mean("segmnet", ["segment", "depth"])
        'did you mean `segment`?'
    """
    close = difflib.get_close_matches(name, list(options), n=1)
    return f"did you mean `{close[0]}`?" if close else None


def input_problems(inp: ir.TensorInput) -> Iterator[Problem]:
    """The input's type and shape."""
    if inp.dtype not in catalog.DTYPES:
        yield Problem(("input", "dtype"), f"unknown input type `{inp.dtype}`",
                      "use one of: " + ", ".join(sorted(catalog.DTYPES)))
    if not inp.shape:
        yield Problem(("input",), "the input shape has no dimensions",
                      "write the batch-first shape, e.g. `float[1, 3, 224, 224]`")
    for i, dim in enumerate(inp.shape):
        if dim <= 0:
            yield Problem(("input", "shape", i), f"dimension {i} is {dim}; it must be positive")
        elif dim > MAX_DIM:
            yield Problem(("input", "shape", i), f"dimension {i} is larger than {MAX_DIM}")


def task_problems(tasks: Sequence[ir.Task]) -> Iterator[Problem]:
    """At least one task, no name twice, and each head a known call."""
    if not tasks:
        yield Problem(("tasks",), "the spec declares no task",
                      "add e.g. `a: head linear(classes=10)`")
    seen: set[str] = set()
    for i, task in enumerate(tasks):
        if task.name in seen:
            yield Problem(("tasks", i, "name"), f"task `{task.name}` is declared twice")
        yield from reserved_name_problems(task.name, "task", ("tasks", i, "name"))
        seen.add(task.name)
        yield from call_problems(task.head, catalog.HEADS, "head", ("tasks", i, "head"))


def call_problems(
    c: ir.Call, known: dict[str, catalog.Signature], what: str, path: Path_
) -> Iterator[Problem]:
    """A known callable (head, op) with arguments of the right kinds and values."""
    sig = known.get(c.name)
    if sig is None:
        hint = did_you_mean(c.name, sorted(known)) or f"{what}s: " + ", ".join(sorted(known))
        yield Problem((*path, "name"), f"unknown {what} `{c.name}`", hint)
        return
    for key, val in c.args.items():
        kind = sig.args.get(key)
        where = (*path, "args", key)
        if kind is None:
            options = ", ".join(sorted(sig.args)) or "none"
            yield Problem(where, f"{what} `{c.name}` has no argument `{key}`",
                          did_you_mean(key, sorted(sig.args)) or f"its arguments: {options}")
        elif not _has_kind(val, kind):
            yield Problem(where, f"argument `{key}` of `{c.name}` must be {_article(kind)}")
        elif key in sig.positive and _not_positive(val):
            yield Problem(where, f"argument `{key}` of `{c.name}` must be positive")
        else:
            yield from _range_problems(c.name, key, val, sig.range_of(key), where)
    for group in sig.one_of:
        given = [k for k in group if k in c.args]
        if len(given) != 1:
            names = " or ".join(f"`{k}=`" for k in group)
            verb = "takes only one of" if given else "needs"
            yield Problem(path, f"{what} `{c.name}` {verb} {names}",
                          "e.g. `classes=13` for logits, `out=1` for a regression map"
                          if "classes" in group else None)


def _range_problems(name: str, key: str, val: ir.Value, bounds: tuple[float, float] | None,
                    where: Path_) -> Iterator[Problem]:
    values = val if isinstance(val, tuple) else (val,)
    if len(values) > catalog.MAX_LIST_ITEMS:
        yield Problem(where, f"argument `{key}` of `{name}` lists {len(values)} values; at "
                      f"most {catalog.MAX_LIST_ITEMS}")
    if bounds is None:
        return
    low, high = bounds
    bad = [v for v in values if not low <= v <= high]
    if bad:
        shown = bad[0] if len(repr(bad[0])) <= 20 else f"{repr(bad[0])[:12]}… (too large)"
        yield Problem(where, f"argument `{key}` of `{name}` must be between {_num(low)} and "
                      f"{_num(high)}, got {shown}")


def _num(x: float) -> str:
    return f"{x:_}".replace("_", ",") if isinstance(x, int) else f"{x:g}"


def _has_kind(val: ir.Value, kind: str) -> bool:
    if kind == catalog.BOOL:
        return isinstance(val, bool)
    if kind == catalog.STR:
        return isinstance(val, str)
    if isinstance(val, bool):
        return False
    if kind == catalog.INT:
        return isinstance(val, int)
    if kind == catalog.FLOAT:
        return isinstance(val, int | float)
    # int list: one int is accepted as a list of one
    return isinstance(val, int) or (isinstance(val, tuple) and bool(val)
                                    and all(_has_kind(v, catalog.INT) for v in val))


def _not_positive(val: ir.Value) -> bool:
    values = val if isinstance(val, tuple) else (val,)
    return any(v <= 0 for v in values)


def _article(kind: str) -> str:
    return {"int list": "a list of integers", "int": "an integer"}.get(kind, f"a {kind}")


def budget_problems(spec: ir.AnySpec) -> Iterator[Problem]:
    """Positive, finite limits; no `units` on a DAG."""
    budget = spec.budget
    if budget is None:
        return
    for key in ("gmacs", "params", "units"):
        val = getattr(budget, key)
        if val is None:
            continue
        if not math.isfinite(val) or val <= 0:
            yield Problem(("budget", key), f"budget `{key}` must be positive, got {val}")
    if budget.latency_ms is not None:
        yield from _latency_problems(budget.latency_ms)
    if budget.units is not None and spec.kind == "dag":
        yield Problem(("budget", "units"), "`units` budgets apply to model and grouping specs",
                      "a DAG has no single-task network to count in; use `gmacs` or `params`")


def _latency_problems(latency: ir.Latency) -> Iterator[Problem]:
    """A positive time, a runtime mtlspec can measure on, a batch and threads ≥ 1."""
    path = ("budget", "latency_ms")
    if not math.isfinite(latency.ms) or latency.ms <= 0:
        yield Problem(path, f"budget `latency_ms` must be positive, got {latency.ms}")
    if latency.runtime not in LATENCY_RUNTIMES:
        known = ", ".join(f"`{r}`" for r in LATENCY_RUNTIMES)
        yield Problem(path, f"unknown runtime `{latency.runtime}` for `latency_ms`",
                      did_you_mean(latency.runtime, list(LATENCY_RUNTIMES))
                      or f"latency is measured on {known}")
    for name in ("batch", "threads"):
        value = getattr(latency, name)
        if value is not None and value < 1:
            yield Problem(path, f"`{name}` of `latency_ms` must be at least 1, got {value}")


def reserved_name_problems(name: str, what: str, path: Path_) -> Iterator[Problem]:
    """A name that would clash with an attribute of the compiled torch module."""
    if catalog.is_reserved_name(name):
        yield Problem(path, f"{what} name `{name}` is reserved: the compiled model (a torch "
                      "module) has an attribute of that name",
                      f"rename the {what}, e.g. `{name.strip('_')}_{what}`")


def builtin_backbone_problems(ref: str, args: dict[str, ir.Value], inp: ir.TensorInput,
                              path: Path_) -> Iterator[Problem]:
    """Arguments of a built-in backbone: known, of their kind and range, and an
    `in_channels` that matches the input's channels."""
    images = ref.startswith("torchvision.") or ref in catalog.BUILTIN_BACKBONES
    if images and len(inp.shape) != 4:
        yield Problem(("input",), f"`{ref}` takes images: the input must be [N, C, H, W], "
                      f"got {len(inp.shape)} dimensions")
    if ref not in catalog.BUILTIN_BACKBONES:
        return
    # model_construct: the parts are IR already, and building a validator costs start-up time
    call = ir.Call.model_construct(name=ref, args=args)
    yield from call_problems(call, catalog.BUILTIN_BACKBONES, "backbone", path)
    channels = args.get("in_channels", 3)
    if len(inp.shape) == 4 and isinstance(channels, int) and channels != inp.shape[1]:
        where = (*path, "args", "in_channels") if "in_channels" in args else path
        yield Problem(where, f"`{ref}` takes {channels} input channels but the input has "
                      f"{inp.shape[1]}", f"write `{ref}(in_channels={inp.shape[1]})`")


def backbone_ref_problems(ref: str, path: Path_) -> Iterator[Problem]:
    """A known backbone, or a well-formed `"pkg.module:callable"`."""
    if catalog.is_custom_ref(ref):
        module, _, attr = ref.partition(":")
        parts = module.split(".")
        if not all(p.isidentifier() for p in parts) or not attr.isidentifier():
            yield Problem(path, f'"{ref}" is not a `"pkg.module:callable"` reference')
    elif ref in catalog.UNSUPPORTED_BACKBONES:
        yield Problem(path, f"`{ref}` cannot be a backbone: {catalog.UNSUPPORTED_BACKBONES[ref]}",
                      "pick a convolutional backbone (`mtlspec blocks --help`)")
    elif ref not in catalog.known_backbones() and not catalog.is_timm_ref(ref):
        yield Problem(path, f"unknown backbone `{ref}`",
                      did_you_mean(ref, catalog.known_backbones())
                      or 'see `mtlspec blocks --list`, use `timm.NAME`, or "pkg.module:callable"')


def task_ref_problems(tasks: Sequence[str], known: set[str], path: Path_) -> Iterator[Problem]:
    """Every named task is declared."""
    for name in sorted(set(tasks) - known):
        yield Problem(path, f"unknown task `{name}`", did_you_mean(name, sorted(known)))
