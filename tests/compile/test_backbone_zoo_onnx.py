"""Real-world backbones through the whole pipeline: a 3-task tree spec → verified ONNX model.

Slow (about a minute each on a busy 2-core machine; `pytest -m slow`): a token backbone,
channels-last output, timm's leaf modules and a torchvision ConvNeXt.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mtlspec.cli import main

SPEC = """model zoo {
  input image: float[1, 3, SIZE, SIZE]
  backbone BACKBONE { blocks: auto(3) }
  tasks {
    seg: head conv(classes=5)
    depth: head conv(out=1, hidden=16)
    scene: head linear(classes=7)
  }
  layout [
    {seg, depth, scene}
    {seg, depth} {scene}
    {seg} {depth} {scene}
  ]
}
"""


def _build(tmp_path, backbone: str, size: int) -> None:
    spec = tmp_path / "zoo.mtl"
    spec.write_text(SPEC.replace("BACKBONE", backbone).replace("SIZE", str(size)))
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(tmp_path / "zoo.onnx")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "zoo.onnx").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize(("backbone", "size"), [
    ("timm.vit_tiny_patch16_224", 64), ("timm.swin_tiny_patch4_window7_224", 224),
    ("timm.tf_efficientnet_lite0", 64), ("timm.mobilevit_xxs", 64),
    ("torchvision.convnext_tiny", 64)])
def test_zoo_tree_builds_a_verified_onnx_model(tmp_path, backbone, size):
    if backbone.startswith("timm."):
        pytest.importorskip("timm")
    _build(tmp_path, backbone, size)
