"""Importing a paper's result onto a base spec that cuts the backbone elsewhere warns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.search.published_blocks import PUBLISHED_CUTS, mismatch
from mtlspec.spec import load, validate

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = "[[{0, 1, 2}], [{0, 1, 2}], [{0, 1, 2}], [{0, 1}, {2}], [{0}, {1}, {2}]]"


def _base(tmp_path: Path, blocks: str) -> Path:
    text = (ROOT / "specs" / "nyuv2_resnet34.mtl").read_text()
    text = text.replace("[maxpool, layer1, layer2, layer3]", blocks)
    text = text.replace("float[1, 3, 288, 384]", "float[1, 3, 64, 64]")   # fast to trace
    path = tmp_path / "base.mtl"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("blocks", "warns"), [
    ("[maxpool, layer1, layer2, layer3]", False),
    ("auto(5)", True),
    ("[layer1, layer2, layer3, layer4.0]", True),
])
def test_import_treemtl_warns_when_the_blocks_differ(tmp_path: Path, blocks: str, warns: bool):
    out = CliRunner().invoke(main, ["import", "treemtl", LAYOUT, "--tasks", "segment,normal,depth",
                                    "--base", str(_base(tmp_path, blocks)),
                                    "-o", str(tmp_path / "out.mtl")])
    assert out.exit_code == 0, out.output
    assert ("warning: TreeMTL cuts torchvision.resnet34 into 5 blocks" in out.output) == warns
    assert (tmp_path / "out.mtl").exists()


def test_import_conal_warns_for_a_resnet_cut_elsewhere(tmp_path: Path):
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"0": 5, "1": 3, "2": 1}))
    out = CliRunner().invoke(main, ["import", "conal", str(arch), "--base",
                                    str(_base(tmp_path, "auto(5)")), "-o", str(tmp_path / "c.mtl")])
    assert out.exit_code == 0, out.output
    assert "warning: CoNAL cuts torchvision.resnet34" in out.output
    assert "blocks: [maxpool, layer1, layer2, layer3]" in out.output


def test_recommend_warns_only_for_a_shipped_treemtl_table(tmp_path: Path):
    base = _base(tmp_path, "auto(5)")
    out = CliRunner().invoke(main, ["recommend", "--spec", str(base), "--pairs",
                                    "treemtl:nyuv2-resnet34", "--max-models", "2", "--json"])
    assert out.exit_code == 0, out.output
    assert "warning: TreeMTL cuts" in out.output


def test_no_mapping_is_known_for_other_backbones():
    spec = validate(load(ROOT / "specs" / "conal_multidigits.mtl"))
    assert mismatch(spec, "treemtl") is None and mismatch(spec, "conal") is None
    assert all(len(cuts) == 4 for table in PUBLISHED_CUTS.values() for cuts in table.values())
