"""Every docstring example of every module of mtlspec runs and prints what it claims.

The modules are found by walking the package (nothing is listed by hand, so a new module is
covered the day it lands); none may skip an example (`+SKIP`). Examples read the shipped
specs and published tables by paths relative to the repository root, where they run.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules() -> list[str]:
    import mtlspec.exporters  # installed from exporters/, outside mtlspec/'s folder

    names = ["mtlspec", "mtlspec.exporters"]
    for package in (mtlspec, mtlspec.exporters):
        prefix = f"{package.__name__}."
        names += [info.name for info in pkgutil.walk_packages(package.__path__, prefix)]
    return sorted(set(names))


MODULES = _modules()


def test_every_subpackage_is_walked():
    packages = {p.parent.relative_to(ROOT).as_posix().replace("/", ".")
                for p in (ROOT / "mtlspec").rglob("__init__.py")}
    assert packages <= set(MODULES)
    assert "mtlspec.exporters.onnx" in MODULES  # installed from exporters/ into mtlspec


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder().find(module, name)
    skipped = [f"{t.name}:{e.lineno}" for t in tests for e in t.examples
               if e.options.get(doctest.SKIP)]
    assert not skipped, f"examples must run, not be skipped: {skipped}"
    runner = doctest.DocTestRunner(optionflags=FLAGS, verbose=False)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
