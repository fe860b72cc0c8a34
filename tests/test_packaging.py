"""The wheel ships the grammar and maps exporters/ to mtlspec.exporters (non-editable install)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources, and a
    # stale egg-info in the checkout would shadow the installed entry points.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("mtlspec", "grammar", "exporters"):
        shutil.copytree(ROOT / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(out)],
        check=True, capture_output=True, cwd=out,
    )
    (found,) = out.glob("mtlspec-*.whl")
    return found


def test_every_package_is_listed_in_pyproject():
    import re

    text = (ROOT / "pyproject.toml").read_text()  # tomllib is 3.11+: read the one list
    block = re.search(r"^packages = \[(.*?)\]", text, re.S | re.M)
    listed = set(re.findall(r'"([\w.]+)"', block.group(1)))
    found = {p.parent.relative_to(ROOT).as_posix().replace("/", ".")
             for p in (ROOT / "mtlspec").rglob("__init__.py")}
    assert found - listed == set(), "packages missing from pyproject.toml"


def test_wheel_contents(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "mtlspec/grammar/mtlspec.lark" in names
    assert "mtlspec/exporters/__init__.py" in names
    tops = {n.split("/")[0] for n in names}
    assert "exporters" not in tops and "grammar" not in tops
    assert not any(n.startswith("tests/") or n.startswith("specs/") for n in names)
    # every subpackage of the source tree ships, and every published table with its README
    for init in (ROOT / "mtlspec").rglob("__init__.py"):
        assert init.relative_to(ROOT).as_posix() in names, init
    published = ROOT / "mtlspec" / "data" / "published"
    data = [p for p in published.rglob("*") if p.suffix in (".txt", ".csv", ".md")]
    assert len(data) == 17 + 2
    for path in data:
        assert path.relative_to(ROOT).as_posix() in names, path


def test_installed_wheel_parses_specs(wheel: Path, tmp_path: Path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel)], check=True, capture_output=True)
    script = (
        "import mtlspec, mtlspec.exporters, sys;"
        "from mtlspec.spec import load, validate;"
        f"assert mtlspec.__file__.startswith({str(target)!r}), mtlspec.__file__;"
        "[validate(load(p)) for p in sys.argv[1:]];"
        "from mtlspec.search.grouping.table import load_table;"
        "assert len(load_table('standley:setting2-esa').candidates) == 36;"
        "print('ok')"
    )
    specs = [str(p) for p in (ROOT / "specs").glob("*.mtl")]
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", script, *specs], capture_output=True, text=True,
                         env=env, cwd=tmp_path, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
