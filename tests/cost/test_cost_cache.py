"""Cost reports through the on-disk cache: a second `cost`/`check`/`diff` of the same spec
compiles nothing and gives the same figures; anything that could change the cost misses.
(Every test has its own cache folder: tests/conftest.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import mtlspec.compile.load
from mtlspec import cache
from mtlspec.cli import main
from mtlspec.cost.cached import spec_cost
from mtlspec.spec import load

ROOT = Path(__file__).resolve().parents[2]
CONAL = (ROOT / "specs" / "conal_multidigits.mtl").read_text()


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts compilations (every path to a model goes through load_model)."""
    calls: list[str] = []
    real = mtlspec.compile.load.load_model

    def counting(source, **kwargs):
        calls.append(getattr(source, "filename", str(source)))
        return real(source, **kwargs)

    monkeypatch.setattr(mtlspec.compile.load, "load_model", counting)
    return calls


def run(*args):
    result = CliRunner().invoke(main, [*map(str, args)])
    return result


def test_second_cost_reads_the_cache(tmp_path: Path, compiles: list[str]):
    spec = tmp_path / "a.mtl"
    spec.write_text(CONAL)
    first = json.loads(run("cost", spec, "--json").stdout)
    second = json.loads(run("cost", spec, "--json").stdout)
    assert first == second and len(compiles) == 1
    assert json.loads(run("cost", spec, "--json", "--no-cache").stdout) == first
    assert len(compiles) == 2


def test_comments_and_layout_of_the_text_do_not_matter_its_meaning_does(tmp_path: Path,
                                                                       compiles: list[str]):
    doc = tmp_path / "a.mtl"
    doc.write_text(CONAL)
    spec_cost(load(doc))
    doc.write_text("# a new comment\n" + CONAL.replace("  tasks {", "  tasks   {"))
    again = spec_cost(load(doc))
    assert again.cached and again.data["spec_text"].startswith("# a new comment")
    doc.write_text(CONAL.replace("{left, right} {parity}\n    {left} {right}",
                                 "{left} {right} {parity}\n    {left} {right}"))
    assert not spec_cost(load(doc)).cached
    assert len(compiles) == 2


def test_check_and_diff_use_it_and_agree(tmp_path: Path, compiles: list[str]):
    spec = tmp_path / "a.mtl"
    spec.write_text(CONAL)
    cold = json.loads(run("check", spec, "--json").stdout)
    warm = json.loads(run("check", spec, "--json").stdout)
    assert cold == warm and cold["ok"] and len(compiles) == 1
    diff = run("diff", spec, spec, "--output-format", "json")
    assert diff.exit_code == 0 and len(compiles) == 1


def test_a_latency_budget_compiles_unless_skipped(tmp_path: Path, compiles: list[str]):
    spec = tmp_path / "a.mtl"
    spec.write_text(CONAL.replace("params <= 1M", "latency_ms <= 1000"))
    assert run("check", spec, "--skip-latency").exit_code == 0
    assert run("check", spec, "--skip-latency").exit_code == 0
    assert len(compiles) == 1
    assert run("check", spec, "--latency-runs", 2).exit_code == 0
    assert len(compiles) == 2  # the model is timed, so it is built


def test_what_is_never_cached(tmp_path: Path):
    assert cache.cost_key("{}", ["pkg.module:build"]) is None  # user code
    weights = load(ROOT / "specs" / "conal_multidigits.mtl").spec
    from mtlspec.cost.cached import _key

    assert _key(weights) is not None
    assert _key(weights.model_copy(update={"init": "w.pt"})) is None  # files to check


def test_a_tampered_entry_is_recomputed(tmp_path: Path, compiles: list[str]):
    spec = tmp_path / "a.mtl"
    spec.write_text(CONAL)
    first = spec_cost(load(spec)).data
    entry = next((Path(cache.cache_dir()) / "cost").glob("*.json"))
    data = json.loads(entry.read_text())
    data["report"]["total"]["macs"] += 1
    entry.write_text(json.dumps(data))
    again = spec_cost(load(spec))
    assert not again.cached and again.data == first and len(compiles) == 2
