"""Suite-wide fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own block cache, never the user's ~/.cache/mtlspec."""
    monkeypatch.setenv("MTLSPEC_CACHE_DIR", str(tmp_path_factory.mktemp("mtlspec-cache")))
