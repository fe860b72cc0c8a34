"""The shipped `.pre-commit-hooks.yaml`, run by the real pre-commit (`pre-commit try-repo`)
against a temporary git repository, offline: the hooks are `language: system`, so pre-commit
installs nothing and runs the `mtlspec` of this environment (see the file's comment).

The hooks repository is a fresh git repository holding only the manifest (what pre-commit
reads from a hooks repository; with system hooks nothing else of it runs), so the test does
not clone this checkout and sees the manifest as it is on disk, committed or not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pre_commit", reason="pre-commit is in the dev extra")
if shutil.which("git") is None:
    pytest.skip("needs git", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
CONAL = (ROOT / "specs" / "conal_multidigits.mtl").read_text()


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t",
                    *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("pre-commit")
    hooks, work = root / "hooks", root / "work"
    for folder in (hooks, work):
        folder.mkdir()
        git(folder, "init", "-q")
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", hooks)
    git(hooks, "add", ".")
    git(hooks, "commit", "-q", "-m", "hooks")
    specs = {
        "ok.mtl": CONAL,
        "ugly.mtl": CONAL.replace("  tasks {", "  tasks   {"),
        "bad.mtl": CONAL.replace("{left} {right} {parity}\n  ]", "{left} {rigth} {parity}\n  ]"),
        "over.mtl": CONAL.replace("params <= 1M", "params <= 1K"),
    }
    for name, text in specs.items():
        (work / name).write_text(text)
    (work / "notes.txt").write_text("{ not a spec")
    git(work, "add", ".")
    env = {**os.environ, "PRE_COMMIT_HOME": str(root / "cache"),
           # the hooks run `mtlspec` from PATH: this interpreter's scripts folder
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return hooks, work, env


def try_repo(repos, hook: str, *files: str) -> subprocess.CompletedProcess:
    hooks, work, env = repos
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(hooks), hook,
                           "--files", *files], cwd=work, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_the_manifest_declares_three_hooks_on_spec_files():
    from pre_commit.clientlib import load_manifest

    hooks = {h["id"]: h for h in load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))}
    assert set(hooks) == {"mtlspec-fmt", "mtlspec-validate", "mtlspec-check"}
    for hook in hooks.values():
        assert hook["files"] == r"\.mtl$" and hook["entry"].startswith("mtlspec ")


def test_fmt_rewrites_and_fails_then_passes(repos):
    _, work, _ = repos
    first = try_repo(repos, "mtlspec-fmt", "ok.mtl", "ugly.mtl", "notes.txt")
    assert first.returncode == 1, first.stdout
    assert "files were modified by this hook" in first.stdout
    assert "reformatted ugly.mtl" in first.stdout and "notes.txt" not in first.stdout
    assert (work / "ugly.mtl").read_text() == CONAL
    second = try_repo(repos, "mtlspec-fmt", "ok.mtl", "ugly.mtl")
    assert second.returncode == 0 and "Passed" in second.stdout, second.stdout


def test_validate_reports_errors_compiler_style(repos):
    passed = try_repo(repos, "mtlspec-validate", "ok.mtl", "notes.txt")
    assert passed.returncode == 0 and "Passed" in passed.stdout, passed.stdout
    failed = try_repo(repos, "mtlspec-validate", "ok.mtl", "bad.mtl")
    assert failed.returncode == 1
    assert "bad.mtl:17:12: error: unknown task `rigth`" in failed.stdout


def test_check_fails_over_budget(repos):
    # one run (each costs a torch import): the spec within budget passes, the other fails
    failed = try_repo(repos, "mtlspec-check", "ok.mtl", "over.mtl", "notes.txt")
    assert failed.returncode == 1, failed.stdout
    assert "budgets: 3 ok, 1 over" in failed.stdout
    assert "1 budget exceeded (conal_multidigits)" in failed.stdout
