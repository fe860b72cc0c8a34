"""The torch-free catalogue of shipped data sets says what the registry builds."""

from __future__ import annotations

import inspect

from mtlspec.data.catalog import SHIPPED
from mtlspec.data.registry import dataset_def, list_datasets


def test_catalog_matches_the_registry():
    assert sorted(SHIPPED) == list_datasets()
    for name, shipped in SHIPPED.items():
        entry = dataset_def(name)
        params = inspect.signature(entry.builder).parameters
        options = tuple(k for k, p in params.items()
                        if p.kind is p.KEYWORD_ONLY and k not in ("tasks", "seed"))
        got = (shipped.tasks, shipped.folder, shipped.description, shipped.layout, shipped.options)
        assert got == (entry.tasks, entry.folder, entry.description, entry.layout, options), name
