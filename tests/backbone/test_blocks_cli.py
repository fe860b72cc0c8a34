"""`mtlspec blocks`: table, JSON, --verify exit codes, bad flags (exit 2), the issue's examples."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from mtlspec.cli import main


def _run(*args: str):
    return CliRunner().invoke(main, ["blocks", *args])


def test_table_lists_blocks_with_costs():
    result = _run("convnet", "--input", "3x32x32", "--arg", "depth=3", "--arg", "width=8")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "convnet at 3x32x32: 3 blocks (3 detected, 9 cut points)" in out
    assert "stages.0.conv .. stages.0" in out and "8x32x32" in out and "8x8x8" in out
    assert "100.0" in out and "total" in out


def test_json_report():
    result = _run("convnet", "--input", "3x32x32", "--json", "--verify")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["backbone"] == "convnet" and report["input_shape"] == [1, 3, 32, 32]
    blocks = report["blocks"]
    assert [b["index"] for b in blocks] == [0, 1, 2, 3] and report["detected_blocks"] == 4
    assert blocks[-1]["cumulative_percent"] == 100.0
    assert sum(b["macs"] for b in blocks) == report["total"]["macs"]
    assert sum(b["params"] for b in blocks) == report["total"]["params"]
    assert blocks[1]["output_shape"] == [1, 32, 16, 16]
    assert report["verify"]["ok"] is True and report["verify"]["eval_max_rel_diff"] == 0
    assert "stages.1" in report["cut_points"]


def test_named_and_counted_selections():
    result = _run("convnet", "--input", "3x16x16", "--json", "--blocks", "stages.1.bn,stages.2")
    assert result.exit_code == 0, result.output
    assert [b["cut"] for b in json.loads(result.stdout)["blocks"]] == [
        "stages_1_bn", "stages_2_relu", "stages_3_relu"]
    for flag in ("2", "auto(2)"):
        result = _run("convnet", "--input", "3x16x16", "--json", "--blocks", flag)
        assert len(json.loads(result.stdout)["blocks"]) == 2


@pytest.mark.parametrize("args", [
    ["convnet", "--input", "3x32"],
    ["convnet", "--input", "3x0x32"],
    ["convnet", "--input", "axbxc"],
    ["convnet", "--blocks", "0"],
    ["convnet", "--blocks", "a,,b"],
    ["convnet", "--arg", "depth"],
    ["convnet", "--blocks", "9"],
    ["convnet", "--blocks", "nope"],
    ["torchvision.resnet43"],
    ["torchvision.vit_b_16", "--input", "3x224x160"],
    ["os:getcwd"],
    ["torchvision.alexnet", "--input", "3x32x32"],
])
def test_bad_input_exits_2_without_a_traceback(args):
    result = _run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "rror" in result.output  # click's "Error:" or mtlspec's "error:"


_NOISY = """
    import torch
    from torch import nn

    class Noisy(nn.Module):
        # Random in eval mode too: the blocks draw other numbers than the original did.
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 4, 1)
            self.b = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            return self.b(self.a(x) + torch.rand_like(self.a(x)))
"""


def test_verify_mismatch_exits_1(tmp_path, monkeypatch):
    (tmp_path / "noisy_backbone.py").write_text(textwrap.dedent(_NOISY))
    monkeypatch.syspath_prepend(str(tmp_path))
    result = _run("noisy_backbone:Noisy", "--input", "3x8x8", "--verify", "--allow-import")
    assert result.exit_code == 1, result.output
    assert "do not recompose" in result.output
    result = _run("noisy_backbone:Noisy", "--input", "3x8x8")  # no --allow-import
    assert result.exit_code == 2 and "--allow-import" in result.output


def test_resnet34_done_criteria():
    result = _run("torchvision.resnet34", "--input", "3x224x224", "--verify", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    blocks = report["blocks"]
    assert len(blocks) == 17 and len(report["cut_points"]) == 36
    assert (blocks[0]["first"], blocks[0]["last"]) == ("conv1", "maxpool")
    assert [b["last"] for b in blocks[1:4]] == ["layer1.0", "layer1.1", "layer1"]
    assert report["verify"]["ok"]
    five = json.loads(_run("torchvision.resnet34", "--input", "3x224x224", "--blocks", "5",
                           "--json").stdout)
    assert len(five["blocks"]) == 5
    assert five["total"] == report["total"]
    share = [b["macs"] / five["total"]["macs"] for b in five["blocks"]]
    assert max(share) < 0.25  # balanced: the ideal is 0.2 and ResNet blocks are ~6% each
