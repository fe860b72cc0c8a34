"""`mtlspec/spec/` never imports torch: parsing, validating and formatting stay instant.

Checked in a fresh interpreter (this test process may well have torch loaded already), both
for importing the spec package and the spec commands, and after really using them on every
shipped spec and every identity fixture; and statically, over every module's imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC_PACKAGE = ROOT / "mtlspec" / "spec"
HEAVY = ("torch", "torchvision", "onnx", "onnxruntime", "fvcore")
TORCH_SIDE = ("mtlspec.backbone", "mtlspec.compile", "mtlspec.train", "mtlspec.exporters",
              "mtlspec.cost.")


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def test_importing_the_spec_package_loads_no_torch():
    result = _run("""
        import mtlspec.spec, mtlspec.cli.spec_commands, sys
        assert 'torch' not in sys.modules, 'torch was imported'
        heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})
        assert not heavy, heavy
        print('ok')
    """.replace("{heavy!r}", repr(set(HEAVY))))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_parse_validate_format_every_spec_without_torch():
    files = [str(p) for p in sorted((ROOT / "specs").glob("*.mtl"))]
    fixture = str(Path(__file__).with_name("identity.mtl"))
    result = _run("""
        import sys
        from mtlspec.spec import find_problems, format, from_json, parse_document, to_json
        from mtlspec.spec import validate

        def use(text, name):
            doc = parse_document(text, name)
            validate(doc)
            assert format(doc.spec, doc.comments) == text, name
            assert from_json(to_json(doc.spec)) == doc.spec
            return 1

        count = 0
        fixture, *files = sys.argv[1:]
        for path in files:
            count += use(open(path, encoding='utf-8').read(), path)
        chunks = open(fixture, encoding='utf-8').read().split('# ---\\n')
        for i, text in enumerate(chunks):
            count += use(text, f'{fixture}#{i}')
        assert 'torch' not in sys.modules, 'torch was imported'
        print(count)
    """, fixture, *files)
    assert result.returncode == 0, result.stderr
    chunks = Path(fixture).read_text("utf-8").count("\n# ---\n") + 1
    assert int(result.stdout) == len(files) + chunks


def test_spec_commands_run_without_torch(tmp_path: Path):
    spec = tmp_path / "m.mtl"
    spec.write_text("model m {\n  input image: float[1, 3, 8, 8]\n  backbone convnet\n"
                    "  tasks { a: head linear(out=1) }\n  layout [ {a} ]\n}\n")
    result = _run("""
        import sys
        from click.testing import CliRunner
        from mtlspec.cli import main
        runner = CliRunner()
        for args in (['validate', sys.argv[1]], ['fmt', sys.argv[1]], ['schema']):
            out = runner.invoke(main, args)
            assert out.exit_code == 0, (args, out.output)
        assert 'torch' not in sys.modules, 'torch was imported'
        print('ok')
    """, str(spec))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert spec.read_text().startswith("model m {\n  input image")


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports, anywhere (function bodies included), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            found.append((node.lineno, str(node.args[0].value)))
    return found


@pytest.mark.parametrize("path", sorted(SPEC_PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_no_module_of_the_spec_package_imports_torch(path: Path):
    heavy = [(line, name) for line, name in _imports(path) if name.split(".")[0] in HEAVY]
    assert heavy == [], f"{path.name} imports {heavy}"
    # nor, even lazily inside a function, the parts of mtlspec that are built on torch
    torch_side = [(line, name) for line, name in _imports(path)
                  if name.startswith(TORCH_SIDE) or name in {"mtlspec.cost"}]
    assert torch_side == [], f"{path.name} imports {torch_side}"
