"""The examples in the data layer's docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["tasks", "protocol", "registry", "serve", "augment", "checks", "spec_check",
           "scenes", "celeba", "multidigits"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"mtlspec.data.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_the_package_exports_load_lazily():
    import mtlspec.data as data

    assert data.load_data is importlib.import_module("mtlspec.data.registry").load_data
    with pytest.raises(AttributeError):
        data.nothing  # noqa: B018
