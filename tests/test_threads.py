"""`--threads N` / MTLSPEC_THREADS: torch's CPU threads for train, build, blocks and cost."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.cli.options import DEFAULT_THREADS


@pytest.fixture()
def _threads_restored(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("_threads_restored")
@pytest.mark.parametrize(("args", "env", "expected"), [
    (["--threads", "2"], {}, 2),
    ([], {"MTLSPEC_THREADS": "3"}, 3),
    (["--threads", "2"], {"MTLSPEC_THREADS": "3"}, 2),  # the option wins
    ([], {}, DEFAULT_THREADS),
])
def test_blocks_and_cost_set_torch_threads(args, env, expected):
    for command in (["blocks", "convnet", "--input", "3x16x16"],
                    ["cost", "specs/multidigits_tree.mtl"]):
        torch.set_num_threads(5)
        out = CliRunner().invoke(main, [*command, *args], env=env)
        assert out.exit_code == 0, out.output
        assert torch.get_num_threads() == expected, command


@pytest.mark.parametrize(("args", "env"), [(["--threads", "0"], {}),
                                           ([], {"MTLSPEC_THREADS": "many"})])
def test_a_bad_thread_count_is_a_usage_error(args, env):
    out = CliRunner().invoke(main, ["blocks", "convnet", *args], env=env)
    assert out.exit_code == 2
    assert "threads" in out.output.lower()


def test_before_torch_loads_the_count_reaches_torch_through_the_environment():
    code = textwrap.dedent("""
        import os, sys
        os.environ.pop("OMP_NUM_THREADS", None)
        from mtlspec.cli.options import apply_threads
        apply_threads(2)
        assert "torch" not in sys.modules
        import torch
        print(torch.get_num_threads())
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"
