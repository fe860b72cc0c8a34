"""pytest plugin: budgets of `*.mtl` specs as test items, for users' CI.

    pytest --mtlspec specs/            # or: [tool.pytest.ini_options] mtlspec_specs = true

Each spec file becomes one item that passes when the spec validates, compiles and stays
within its own `budget { }`. A failure reads like `mtlspec validate` (a compiler-style spec
error) or `mtlspec check` (the budget table), never a Python traceback.

Spec files are collected only when asked (the `--mtlspec` flag or the `mtlspec_specs` ini
option), so a project whose tests hold invalid specs as fixtures is unaffected. Installed as a
`pytest11` entry point; importing this module is cheap (torch loads when an item runs).
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mtlspec", "mtlspec spec budgets")
    group.addoption("--mtlspec", action="store_true", default=False,
                    help="collect *.mtl files as tests: each must validate, compile and stay "
                         "within its budget { }")
    group.addoption("--mtlspec-allow-import", action="store_true", default=False,
                    help="allow 'pkg.module:callable' backbones in collected specs")
    parser.addini("mtlspec_specs", type="bool", default=False,
                  help="collect *.mtl files as budget tests (like --mtlspec)")


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("mtlspec") or config.getini("mtlspec_specs"))


def pytest_collect_file(file_path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".mtl" and _enabled(parent.config):
        return SpecFile.from_parent(parent, path=file_path)
    return None


class BudgetExceeded(Exception):
    """A spec costs more than its budget; carries the `mtlspec.cost.Limit`s."""

    def __init__(self, limits: list[Any]) -> None:
        super().__init__(f"{sum(lim.over for lim in limits)} budget(s) exceeded")
        self.limits = limits


class SpecFile(pytest.File):
    """One spec file: one item."""

    def collect(self):
        yield SpecItem.from_parent(self, name="budget")


class SpecItem(pytest.Item):
    """Validate, compile and cost one spec; fail if any budget of its own is exceeded."""

    def runtest(self) -> None:
        from mtlspec.cost import budget_limits
        from mtlspec.spec import load, validate

        allow = bool(self.config.getoption("mtlspec_allow_import"))
        doc = load(str(self.path))
        validate(doc)  # a broken spec fails here, before torch is imported
        from mtlspec import load_model
        from mtlspec.cost import cost

        limits = budget_limits(doc.filename, doc.spec, cost(load_model(doc, allow_import=allow)))
        self.user_properties.append(("mtlspec_budgets", [lim.row() for lim in limits]))
        if any(lim.over for lim in limits):
            raise BudgetExceeded(limits)

    def repr_failure(self, excinfo, style=None) -> str:
        from mtlspec.errors import MtlspecError

        err = excinfo.value
        if isinstance(err, BudgetExceeded):
            over = sum(lim.over for lim in err.limits)
            return (f"{self.path.name}: {over} budget{'s' * (over != 1)} exceeded\n"
                    + budget_table(err.limits))
        if isinstance(err, MtlspecError):
            return err.render()
        return super().repr_failure(excinfo, style)  # a bug in mtlspec: keep the traceback

    def reportinfo(self):
        return self.path, None, f"mtlspec budget: {self.path.name}"


def budget_table(limits: list[Any]) -> str:
    """Plain-text table of `Limit.row()`s (the columns of `mtlspec check`)."""
    rows = [lim.row() for lim in limits]
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    lines.append("  ".join("-" * widths[c] for c in columns))
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns).rstrip() for r in rows]
    return "\n".join(lines)
