"""The package's layers, checked on the source: no module imports a layer above its own, no two
packages import each other (even through others), no module is longer than 400 lines, and
the torch-free entry points stay torch-free.

Layers, low to high: errors/io/registry/usercode/cache → spec → backbone, exporters, draw →
compile → cost → data → train → search → plan → cli (and the pytest plugin). `draw` reads
only the IR. Every import counts, also one inside a function; `mtlspec.load_model` (the
package's lazy facade) counts as the compile layer, `mtlspec.__version__` as the lowest.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    ("mtlspec.errors", "mtlspec.io", "mtlspec.registry", "mtlspec.usercode", "mtlspec.cache",
     "mtlspec.inputs", "mtlspec.limits"),
    ("mtlspec.spec",),
    ("mtlspec.backbone", "mtlspec.exporters", "mtlspec.draw"),
    ("mtlspec.compile",),
    ("mtlspec.cost",),
    ("mtlspec.data",),
    ("mtlspec.train",),
    ("mtlspec.search",),
    ("mtlspec.plan",),
    ("mtlspec.cli", "mtlspec.pytest_plugin", "mtlspec.__main__"),
]
ROOT_NAMES = {"__version__": 0, "load_model": 3}  # what `from mtlspec import x` reaches
DATA_TABLES = {"mtlspec/spec/syntax_examples.py"}  # a table of examples, not code to read
MAX_LINES = 400


def _sources() -> dict[str, Path]:
    """Module name → file, for mtlspec/ and exporters/ (installed as mtlspec.exporters)."""
    out = {}
    for base, package in ((ROOT / "mtlspec", "mtlspec"), (ROOT / "exporters", "mtlspec.exporters")):
        for path in base.rglob("*.py"):
            parts = [package, *path.relative_to(base).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


SOURCES = _sources()
PACKAGES = {name for name, path in SOURCES.items() if path.name == "__init__.py"}


def _layer(module: str) -> int | None:
    best = None
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or module.startswith(prefix + ".")
            if inside and (best is None or len(prefix) > best[1]):
                best = (level, len(prefix))
    return None if best is None else best[0]


def _imports(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, module, names) of every import of mtlspec, anywhere in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, ()) for a in node.names if a.name.startswith("mtlspec")]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            if node.module and node.module.startswith("mtlspec"):
                found.append((node.lineno, node.module, tuple(a.name for a in node.names)))
    return found


def _targets(module: str, names: tuple[str, ...]) -> list[tuple[str, int | None]]:
    """The modules an import reaches, with their layers."""
    if module == "mtlspec":
        return [(f"mtlspec.{n}", ROOT_NAMES.get(n, _layer(f"mtlspec.{n}"))) for n in names]
    return [(module, _layer(module))]


def _package(module: str) -> str:
    return module if module in PACKAGES else module.rsplit(".", 1)[0]


def test_every_module_is_in_a_layer():
    missing = [m for m in SOURCES if m != "mtlspec" and _layer(m) is None]
    assert missing == []


def test_no_module_imports_a_higher_layer():
    upward = []
    for module, path in SOURCES.items():
        if module == "mtlspec":
            continue  # the package's facade: `load_model` is a lazy re-export
        own = _layer(module)
        for line, target, names in _imports(path):
            for reached, level in _targets(target, names):
                if level is None or level > own:
                    upward.append(f"{path.relative_to(ROOT)}:{line}: {module} (layer {own}) "
                                  f"imports {reached} (layer {level})")
    assert upward == []


def test_no_cycles_between_packages():
    graph = nx.DiGraph()
    for module, path in SOURCES.items():
        if module == "mtlspec":
            continue
        for _, target, names in _imports(path):
            for reached, _ in _targets(target, names):
                a, b = _package(module), _package(reached if reached in SOURCES else target)
                if a != b and not b.startswith(a + "."):  # a package may import its own parts
                    graph.add_edge(a, b)
    assert list(nx.simple_cycles(graph)) == []


def test_conal_and_conal_pro_do_not_import_each_other():
    graph = nx.DiGraph()
    for module, path in SOURCES.items():
        if module.startswith("mtlspec.search.conal."):
            graph.add_edges_from((module, t) for _, t, _ in _imports(path)
                                 if t.startswith("mtlspec.search.conal."))
    assert nx.is_directed_acyclic_graph(graph), list(nx.simple_cycles(graph))


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_modules_are_short(module: str):
    path = SOURCES[module]
    if path.relative_to(ROOT).as_posix() in DATA_TABLES:
        return
    lines = len(path.read_text("utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"


@pytest.mark.parametrize("args", [
    ["group", "--table", "standley:setting1", "--budget", "2.5"],
    ["group", "--table", "standley:setting2", "--sweep", "1:3:1", "--method", "esa",
     "--early", "standley:setting2-esa", "--json"],
    ["enumerate", "--tasks", "segment,normal,depth", "--blocks", "5", "--id", "7"],
    ["datasets"],
])
def test_torch_free_commands_do_not_import_torch(args: list[str]):
    code = textwrap.dedent("""
        import sys
        from click.testing import CliRunner
        from mtlspec.cli import main
        result = CliRunner().invoke(main, sys.argv[1:])
        assert result.exit_code == 0, result.output
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))
        assert not heavy, heavy[:5]
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_torch_free_packages_stay_torch_free():
    code = ("import sys, mtlspec, mtlspec.search, mtlspec.search.grouping, "
            "mtlspec.search.treemtl, mtlspec.cost, mtlspec.draw, mtlspec.cli.options;"
            "assert 'torch' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
