"""Start-up cost: commands import only what they use (issue 19).

Each check runs the real command line in a fresh interpreter (this test process has torch
loaded already) and then looks at `sys.modules`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(str(p) for p in (ROOT / "specs").glob("*.mtl"))

# Runs `mtlspec ARGS...` in this interpreter, then prints its exit code and the heavy modules.
_CLI = """
import runpy, sys, json, io, contextlib
sys.argv = ["mtlspec", *sys.argv[1:]]
code = 0
with contextlib.redirect_stdout(io.StringIO()):
    try:
        runpy.run_module("mtlspec", run_name="__main__")
    except SystemExit as exit:
        code = exit.code or 0
heavy = ("torch", "torchvision", "torch._dynamo", "sympy", "pydantic.main", "rich", "numpy")
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def _loaded(*args: str, env: dict[str, str] | None = None) -> list[str]:
    result = subprocess.run([sys.executable, "-c", _CLI, *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["code"] == 0, (args, result.stderr)
    return report["loaded"]


@pytest.mark.parametrize("args", [
    ("validate", *SPECS),
    ("fmt", "--check", SPECS[0]),
    ("group", "--table", "standley:setting1", "--budget", "2.5"),
], ids=["validate", "fmt", "group-budget"])
def test_spec_and_grouping_commands_never_import_torch(args):
    assert "torch" not in _loaded(*args)


def test_a_grouping_sweep_imports_neither_torch_nor_the_ir():
    # a sweep prints a table of numbers: no IR (pydantic), no torch
    loaded = _loaded("group", "--table", "standley:setting1", "--sweep", "1:5:0.5")
    assert "torch" not in loaded and "pydantic.main" not in loaded, loaded


def test_compiling_a_convnet_spec_imports_no_torchvision_dynamo_or_sympy():
    # torchvision's package import pulls in torch._dynamo and sympy: seconds of start-up
    code = textwrap.dedent("""
        import sys, mtlspec
        for spec in sys.argv[1:]:
            mtlspec.load_model(spec)
        print([m for m in ("torchvision", "torch._dynamo", "sympy") if m in sys.modules])
    """)
    specs = [str(ROOT / "specs" / name) for name in
             ("multidigits_tree.mtl", "multidigits_dag.mtl", "conal_multidigits.mtl")]
    result = subprocess.run([sys.executable, "-c", code, *specs], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_parser_tables_are_cached_and_a_damaged_entry_is_rebuilt(tmp_path, monkeypatch):
    import mtlspec.spec.parse  # noqa: F401 - the module, not the function the package exports
    from mtlspec import cache

    parse_module = sys.modules["mtlspec.spec.parse"]
    monkeypatch.setenv("MTLSPEC_CACHE_DIR", str(tmp_path))
    text = Path(SPECS[0]).read_text("utf-8")
    parse_module._parser.cache_clear()
    try:
        expected = parse_module.syntax_tree(text)
        (entry,) = (tmp_path / "lark").iterdir()
        written = entry.read_bytes()
        parse_module._parser.cache_clear()
        assert parse_module.syntax_tree(text) == expected  # loaded from the entry
        assert entry.read_bytes() == written
        for damaged in (written[:-100], written[:70] + b"x" * 10 + written[80:], b""):
            entry.write_bytes(damaged)
            parse_module._parser.cache_clear()
            assert parse_module.syntax_tree(text) == expected
            rewritten = entry.read_bytes()  # whole again (pickles differ from run to run)
            assert rewritten != damaged
            assert cache.load_bytes(f"lark/{entry.name}") is not None
    finally:
        parse_module._parser.cache_clear()


def test_the_parser_builds_exactly_what_validation_would():
    # the builder skips pydantic's validation (building validators costs start-up time); its
    # IR must equal and serialise like the validated copy, value types included
    from mtlspec.spec import load, to_json

    for path in SPECS:
        spec = load(path).spec
        validated = type(spec).model_validate(spec.model_dump())
        assert validated == spec, path
        assert to_json(validated) == to_json(spec), path


def test_validating_specs_builds_no_pydantic_validator():
    code = textwrap.dedent("""
        import sys
        from mtlspec.spec import load, validate
        for path in sys.argv[1:]:
            validate(load(path))
        print([m for m in ("pydantic.plugin._loader", "importlib.metadata") if m in sys.modules])
    """)
    result = subprocess.run([sys.executable, "-c", code, *SPECS], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
