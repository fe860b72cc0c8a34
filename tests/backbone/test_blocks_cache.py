"""The on-disk cache of `mtlspec blocks`: hits skip detection, anything doubtful is recomputed."""

from __future__ import annotations

import doctest
import json

from click.testing import CliRunner

import mtlspec.backbone
import mtlspec.cache
from mtlspec import cache
from mtlspec.cli import main

ARGS = ["blocks", "convnet", "--input", "3x16x16", "--json"]


def _run(*extra: str) -> dict:
    result = CliRunner().invoke(main, [*ARGS, *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _no_detection(monkeypatch) -> list[int]:
    calls = []
    real = mtlspec.backbone.blocks_for

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(mtlspec.backbone, "blocks_for", counting)
    return calls


def test_second_call_reads_the_cache(monkeypatch):
    first = _run()
    calls = _no_detection(monkeypatch)
    assert _run() == first and calls == []
    assert _run("--no-cache") == first and calls == [1]


def test_key_changes_with_arguments_shape_and_versions(monkeypatch):
    key = cache.blocks_key("convnet", {"depth": 2}, (3, 16, 16), None)
    assert key != cache.blocks_key("convnet", {"depth": 3}, (3, 16, 16), None)
    assert key != cache.blocks_key("convnet", {"depth": 2}, (3, 32, 16), None)
    assert key != cache.blocks_key("convnet", {"depth": 2}, (3, 16, 16), 2)
    monkeypatch.setattr(cache, "_version", lambda package: "9.9")
    assert key != cache.blocks_key("convnet", {"depth": 2}, (3, 16, 16), None)
    assert cache.blocks_key("pkg.mod:fn", {}, (3, 16, 16), None) is None  # user code


def test_corrupt_or_tampered_entries_are_ignored_and_rewritten(monkeypatch):
    first = _run()
    key = cache.blocks_key("convnet", {}, (3, 16, 16), None)
    path = cache.entry_path(key)
    calls = _no_detection(monkeypatch)
    path.write_text(path.read_text()[:40])  # truncated
    assert _run() == first and calls == [1]
    entry = json.loads(path.read_text())  # rewritten whole
    entry["report"]["total"]["macs"] += 1  # a changed figure no longer matches its checksum
    path.write_text(json.dumps(entry))
    assert _run() == first and calls == [1, 1]
    assert _run() == first and calls == [1, 1]  # and the rewritten entry is used again


def test_verify_always_detects(monkeypatch):
    _run()
    calls = _no_detection(monkeypatch)
    assert _run("--verify")["verify"]["ok"] and calls == [1]


def test_docstring_examples():
    result = doctest.testmod(mtlspec.cache, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0 and result.failed == 0
