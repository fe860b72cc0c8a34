"""nyuv2:DIR and cityscapes:DIR on tiny folders written in MTAN/LibMTL's exact layout, and the
clear errors for folders that are not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.data.registry import load_data
from mtlspec.data.serve import serve_splits
from mtlspec.errors import MtlspecError
from tests.data.fakes import write_mtan


@pytest.fixture(scope="module")
def nyu(tmp_path_factory):
    return write_mtan(tmp_path_factory.mktemp("data") / "nyuv2")


def test_nyuv2_items_are_the_files_in_channel_first_layout(nyu):
    data = load_data(f"nyuv2:{nyu}")
    assert list(data.tasks) == ["segment", "depth", "normal"]
    assert data.tasks["segment"].outputs == 13 and data.input_shape == (3, 32, 48)
    assert (len(data.train), len(data.val), len(data.test)) == (4, 2, 2)
    x, y = data.train[3]
    image = np.load(nyu / "train" / "image" / "3.npy")
    assert torch.equal(x, torch.from_numpy(image).permute(2, 0, 1))
    assert torch.equal(y["depth"][0], torch.from_numpy(np.load(nyu / "train/depth/3.npy"))[..., 0])
    assert torch.equal(y["normal"], torch.from_numpy(np.load(nyu / "train/normal/3.npy")).permute(
        2, 0, 1))
    (bx, by), = list(serve_splits(data, "val", batch_size=2))
    assert bx.shape == (2, 3, 32, 48) and by["segment"].dtype == torch.int64
    assert int(by["segment"].min()) == -1  # unlabelled pixels keep MTAN's -1


def test_val_and_test_read_val_unless_a_test_folder_exists(nyu, tmp_path):
    data = load_data(f"nyuv2:{nyu}", tasks=["depth"])
    assert data.test is data.val and list(data.tasks) == ["depth"]
    root = write_mtan(tmp_path / "n", counts=(2, 2))
    (root / "val").rename(root / "test")
    write_mtan(tmp_path / "m", counts=(2, 3))
    (tmp_path / "m" / "val").rename(root / "val")
    data = load_data(f"nyuv2:{root}", train_size=1)
    assert (len(data.train), len(data.val), len(data.test)) == (1, 3, 2)


def test_cityscapes_reads_label_7_label_or_label_19(tmp_path):
    seven = write_mtan(tmp_path / "c7", classes=7, normals=False, label_dir="label_7")
    libmtl = write_mtan(tmp_path / "c", classes=7, normals=False, label_dir="label")
    nineteen = write_mtan(tmp_path / "c19", classes=19, normals=False, label_dir="label_19")
    for root, options in ((seven, {}), (libmtl, {}), (nineteen, {"classes": 19})):
        data = load_data(f"cityscapes:{root}", **options)
        assert list(data.tasks) == ["segment", "depth"]
        assert data.tasks["segment"].outputs == options.get("classes", 7)
        list(serve_splits(data, "train", batch_size=4))  # every value checked
    with pytest.raises(MtlspecError, match=r"missing folder .*label_19"):
        load_data(f"cityscapes:{seven}", classes=19)


def _broken(root, what):
    if what == "no folder":
        return root / "absent"
    if what == "no depth folder":
        for f in (root / "val" / "depth").iterdir():
            f.unlink()
        (root / "val" / "depth").rmdir()
    elif what == "gap":
        (root / "train" / "label" / "2.npy").unlink()
    elif what == "wrong shape":
        np.save(root / "train" / "normal" / "1.npy", np.zeros((32, 48), np.float32))
    elif what == "channels last missing":
        np.save(root / "train" / "depth" / "0.npy", np.ones((32, 48), np.float32))
    elif what == "other size":
        np.save(root / "val" / "image" / "0.npy", np.zeros((16, 24, 3), np.float32))
    return root


@pytest.mark.parametrize(("what", "message"), [
    ("no folder", "is not a folder; expected DIR/{train,val}/{image,label,depth,normal}"),
    ("no depth folder", "missing folder .*val/depth; expected DIR/"),
    ("gap", "lacks 2.npy .*numbered 0..n-1"),
    ("wrong shape", r"1.npy holds float32 \[32, 48\], expected \[32, 48, 3\]"),
    ("channels last missing", r"0.npy holds float32 \[32, 48\], expected \[32, 48, 1\]"),
    ("other size", "sizes follow"),
])
def test_malformed_folders_name_the_expected_layout(tmp_path, what, message):
    root = _broken(write_mtan(tmp_path / "nyu"), what)
    with pytest.raises(MtlspecError, match=message):
        load_data(f"nyuv2:{root}")


@pytest.mark.parametrize(("change", "message"), [
    ("nan depth", "task depth: NaN targets"),
    ("class 13", "task segment: class id 13 out of range 0..12"),
    ("fractional class", "class ids must be integers"),
])
def test_bad_values_are_found_when_batches_are_formed(tmp_path, change, message):
    root = write_mtan(tmp_path / "nyu")
    if change == "nan depth":
        depth = np.load(root / "train/depth/2.npy")
        depth[5, 5, 0] = np.nan
        np.save(root / "train/depth/2.npy", depth)
    else:
        label = np.load(root / "train/label/2.npy")
        label[3, 3] = 13 if change == "class 13" else 0.5
        np.save(root / "train/label/2.npy", label)
    data = load_data(f"nyuv2:{root}")  # item 2 is neither first nor last: found later
    with pytest.raises(MtlspecError, match=message):
        list(serve_splits(data, "train", batch_size=2))


def test_the_cli_reports_a_bad_folder_with_exit_2_and_no_traceback(tmp_path):
    root = _broken(write_mtan(tmp_path / "nyu"), "gap")
    result = CliRunner().invoke(main, ["train", "specs/nyuv2_resnet34.mtl", "--data",
                                       f"nyuv2:{root}", "--epochs", "1"])
    assert result.exit_code == 2, result.output
    assert "lacks 2.npy" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["train", "specs/nyuv2_resnet34.mtl", "--data", "nyuv2"])
    assert result.exit_code == 2 and "write --data nyuv2:DIR" in result.output
