"""The command line contract: JSON reports, summaries, exit codes of internal errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mtlspec import __version__
from mtlspec.cli import main

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(str(p) for p in (ROOT / "specs").glob("*.mtl"))


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_validate_json_reports_each_file(tmp_path: Path):
    bad = tmp_path / "bad.mtl"
    bad.write_text(Path(SPECS[0]).read_text().replace("input image", "input image image"))
    result = CliRunner().invoke(main, ["validate", "--json", SPECS[0], str(bad)])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert [r["ok"] for r in report] == [True, False]
    error = report[1]["errors"][0]
    assert error["file"] == str(bad) and error["line"] > 0 and error["column"] > 0
    assert error["message"] and error["hint"]


def test_validate_summary_lists_every_spec():
    result = CliRunner().invoke(main, ["validate", "--summary", *SPECS])
    assert result.exit_code == 0, result.output
    for path in SPECS:
        name = Path(path).stem
        assert name[:10] in result.output


def test_internal_error_exits_3_without_traceback(monkeypatch):
    def broken(path):
        raise RuntimeError("boom")

    monkeypatch.setattr("mtlspec.cli.spec_commands.load", broken)
    result = CliRunner().invoke(main, ["validate", SPECS[0]])
    assert result.exit_code == 3
    assert "internal error: RuntimeError: boom" in result.output
    assert "Traceback" not in result.output


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "mtlspec", "validate", *SPECS],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert f"{len(SPECS)} specs valid" in out.stdout


def test_every_lazily_named_command_resolves():
    import click

    from mtlspec.cli import main

    def walk(group: click.Group, path: str) -> list[str]:
        found = []
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, f"{path} {name}"
            assert command.name == name or name in getattr(group, "lazy", {}), (path, name)
            found.append(f"{path} {name}")
            if isinstance(command, click.Group):
                found += walk(command, f"{path} {name}")
        return found

    names = walk(main, "mtlspec")
    assert {"mtlspec search conal", "mtlspec search dag", "mtlspec import treemtl",
            "mtlspec import conal", "mtlspec recommend plan", "mtlspec group plan",
            "mtlspec validate", "mtlspec run", "mtlspec train"} <= set(names)
