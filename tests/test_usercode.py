"""A spec cannot grant itself code execution: only the user's flag or environment can."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlspec import usercode
from mtlspec.cli import main
from mtlspec.errors import MtlspecError

SPEC = """model custom {
  input image: float[1, 3, 16, 16]
  backbone "torchvision.ops.misc:Conv2dNormActivation"(in_channels=3, out_channels=8) {
    blocks: auto
    allow_import: true
  }
  tasks {
    a: head conv(out=1)
  }
  layout [
    {a}
  ]
}
"""


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(usercode.ENV, raising=False)
    path = tmp_path / "custom.mtl"
    path.write_text(SPEC)
    return path


@pytest.mark.parametrize("command", [["cost"], ["check"], ["build", "-o", "OUT"]])
def test_allow_import_in_the_spec_is_not_enough(spec: Path, command: list[str]):
    args = [a.replace("OUT", str(spec.with_suffix(".onnx"))) for a in command]
    out = CliRunner().invoke(main, [*args, str(spec)])
    assert out.exit_code == 2, out.output
    assert "is user code" in out.output and "--allow-import" in out.output
    assert "cannot grant itself" in out.output
    assert not spec.with_suffix(".onnx").exists()


def test_the_flag_or_the_environment_allows_it(spec: Path, monkeypatch: pytest.MonkeyPatch):
    assert CliRunner().invoke(main, ["cost", "--allow-import", str(spec)]).exit_code == 0
    monkeypatch.setenv(usercode.ENV, "1")
    assert CliRunner().invoke(main, ["cost", str(spec)]).exit_code == 0


def test_import_object_checks_permission_and_form(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(usercode.ENV, raising=False)
    with pytest.raises(MtlspecError, match="is user code"):
        usercode.import_object("json:dumps", what="data set", allow=False)
    with pytest.raises(MtlspecError, match="must look like"):
        usercode.import_object("json", what="data set", allow=True)
    with pytest.raises(MtlspecError, match="cannot import data set 'json:nope'"):
        usercode.import_object("json:nope", what="data set", allow=True)
    monkeypatch.setenv(usercode.ENV, "yes")
    assert usercode.import_object("json:dumps", what="data set", allow=False)({}) == "{}"
