"""Backbones that do not end in N×C×H×W: adapted for heads, or rejected with the reason."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from mtlspec.backbone import BackboneError, blocks_for, verify
from mtlspec.cli import main
from mtlspec.compile import compile
from mtlspec.spec import parse

REF = "tests.backbone.layout_nets"
SPEC = """model m {
  input image: float[1, 3, 16, 16]
  backbone "REF" { allow_import: true; blocks: auto(1) }
  tasks {
    seg: head HEAD
    cls: head linear(classes=4)
  }
  layout [
    {seg, cls}
  ]
}
"""


def _spec(ref: str, head: str = "conv(out=3)") -> str:
    return SPEC.replace("REF", f"{REF}:{ref}").replace("HEAD", head)


def _blocks(ref: str):
    return blocks_for(f"{REF}:{ref}", input_shape=(3, 16, 16), allow_import=True)


def test_channels_last_output_is_permuted_not_misread():
    bb = _blocks("channels_last")
    assert bb.layout.kind == "nhwc" and not bb.layout.declared
    assert bb.info[-1].output_shape == (1, 5, 8, 8)  # 5 channels, not H=8
    model = compile(parse(_spec("channels_last")), allow_import=True).eval()
    out = model(torch.randn(1, 3, 16, 16))
    assert out["seg"].shape == (1, 3, 16, 16) and out["cls"].shape == (1, 4)
    assert model.heads["seg"][0].in_channels == 5


def test_token_output_drops_the_class_token_and_becomes_the_patch_grid():
    bb = _blocks("tokens")
    assert (bb.layout.kind, bb.layout.prefix_tokens, bb.layout.grid) == ("tokens", 1, (4, 4))
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        raw = __import__(REF, fromlist=["tokens"]).tokens().eval()
        raw.load_state_dict(bb.features.state_dict())
        tokens = raw(x)
        expected = tokens[:, 1:].transpose(1, 2).reshape(1, 6, 4, 4)
        assert torch.equal(bb.features(x), expected)
    assert verify(bb).ok


def test_pooled_output_feeds_pooled_heads_and_rejects_dense_ones(tmp_path):
    bb = _blocks("pooled")
    assert bb.layout.kind == "pooled" and bb.info[-1].output_shape == (1, 8)
    path = tmp_path / "m.mtl"
    path.write_text(_spec("pooled", head="mlp(classes=2)"))
    ok = CliRunner().invoke(main, ["cost", "--allow-import", str(path)])
    assert ok.exit_code == 0, ok.output
    path.write_text(_spec("pooled"))
    bad = CliRunner().invoke(main, ["cost", "--allow-import", str(path)])
    assert bad.exit_code == 2, bad.output
    assert "needs a spatial feature map" in bad.output and "pooled (N×8)" in bad.output


def test_a_rank_no_head_reads_is_rejected_with_the_reason():
    with pytest.raises(BackboneError) as err:
        _blocks("odd")
    assert "not a feature map heads can read" in err.value.message
    assert "mtlspec_layout" in err.value.hint
