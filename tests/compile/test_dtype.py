"""The input dtype a spec declares is honoured end to end: model, cost, ONNX, training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.compile import compile
from mtlspec.cost import cost
from mtlspec.errors import MtlspecError
from mtlspec.exporters.onnx import export
from mtlspec.spec import parse

SPEC = """model half {
  input image: DTYPE[1, 3, 16, 16]
  backbone convnet(depth=3, width=8) { blocks: auto(3) }
  tasks {
    a: head conv(out=2, hidden=4)
    b: head linear(classes=4)
  }
  layout [
    {a, b}
    {a} {b}
    {a} {b}
  ]
}
"""


def spec(dtype: str):
    return parse(SPEC.replace("DTYPE", dtype))


@pytest.mark.parametrize(("name", "dtype"), [("float", torch.float32),
                                             ("float16", torch.float16),
                                             ("bfloat16", torch.bfloat16)])
def test_compiled_model_has_the_declared_dtype_and_runs_on_it(name, dtype):
    torch.manual_seed(0)
    model = compile(spec(name)).eval()
    assert {p.dtype for p in model.parameters()} == {dtype}
    with torch.no_grad():
        out = model(torch.randn(2, 3, 16, 16).to(dtype))
    assert {t.dtype for t in out.values()} == {dtype}
    assert out["a"].shape == (2, 2, 16, 16) and out["b"].shape == (2, 4)


def test_training_dtype_override_keeps_float32_master_weights():
    model = compile(spec("float16"), dtype=torch.float32)
    assert {p.dtype for p in model.parameters()} == {torch.float32}


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_cost_does_not_depend_on_the_dtype(name):
    base, other = cost(compile(spec("float"))), cost(compile(spec(name)))
    assert (other.flops, other.total_params, other.per_task) == \
        (base.flops, base.total_params, base.per_task)


def test_float16_onnx_has_float16_input_and_outputs_and_matches(tmp_path: Path):
    torch.manual_seed(0)
    model = compile(spec("float16"))
    report = export(model, tmp_path / "half.onnx")
    assert report.ok and report.input_dtype == "float16"
    session = ort.InferenceSession(str(tmp_path / "half.onnx"))
    assert [i.type for i in session.get_inputs()] == ["tensor(float16)"]
    assert {o.type for o in session.get_outputs()} == {"tensor(float16)"}
    x = torch.randn(3, 3, 16, 16).half()
    got = session.run(None, {"image": x.numpy()})
    want = compile(spec("float")).eval()
    want.load_state_dict(model.state_dict())           # the same weights, float32 math
    with torch.no_grad():
        expected = want(x.float())
    for have, task in zip(got, ("a", "b"), strict=True):
        assert have.dtype == np.float16
        scale = expected[task].abs().max().item()
        assert np.abs(have.astype(np.float32) - expected[task].numpy()).max() <= 1e-2 * scale


def test_bfloat16_is_refused_at_build_with_the_reason(tmp_path: Path):
    with pytest.raises(MtlspecError, match=r"no bfloat16 convolution(.|\n)*float16"):
        export(compile(spec("bfloat16")), tmp_path / "bf.onnx")
    assert not (tmp_path / "bf.onnx").exists()


def test_train_then_build_a_float16_spec(tmp_path: Path):
    """Weights train in float32; `build --weights` casts them into the float16 model."""
    path = tmp_path / "half.mtl"
    path.write_text(SPEC.replace("DTYPE", "float16").replace("3, 16, 16", "1, 8, 16")
                    .replace("a: head conv(out=2, hidden=4)", "left: head linear(classes=10)")
                    .replace("b: head", "right: head").replace("classes=4", "classes=10")
                    .replace("{a, b}", "{left, right}").replace("{a} {b}", "{left} {right}")
                    .replace("width=8)", "width=8, in_channels=1)"))
    runner = CliRunner()
    out = runner.invoke(main, ["train", str(path), "--data", "multidigits", "--epochs", "1",
                               "--train-size", "64", "-o", str(tmp_path / "w.pt"), "--json"])
    assert out.exit_code == 0, out.output
    state = torch.load(tmp_path / "w.pt", weights_only=True)
    assert {t.dtype for t in state.values() if t.is_floating_point()} == {torch.float32}
    out = runner.invoke(main, ["build", str(path), "--weights", str(tmp_path / "w.pt"),
                               "-o", str(tmp_path / "half.onnx"), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["input_dtype"] == "float16"
