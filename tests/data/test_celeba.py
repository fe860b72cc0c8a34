"""celeba:DIR on a tiny folder in CelebA's layout: 40 attribute tasks, the official partition,
missing labels, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtlspec.data.celeba import ATTRIBUTES, TASKS, task_name
from mtlspec.data.registry import dataset_tasks, load_data
from mtlspec.data.serve import serve_splits
from mtlspec.errors import MtlspecError
from tests.data.fakes import write_celeba


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_celeba(tmp_path_factory.mktemp("data") / "celeba")


def _row(folder, i):
    line = (folder / "list_attr_celeba.txt").read_text().split("\n")[2 + i]
    return [int(v) for v in line.split()[1:]]


def test_forty_attribute_tasks_and_a_multilabel_one(folder):
    assert len(ATTRIBUTES) == 40 and dataset_tasks("celeba") == TASKS
    data = load_data(f"celeba:{folder}", size=16)
    assert len(data.tasks) == 40 and "five_o_clock_shadow" in data.tasks
    assert all(info.kind == "classification" and info.outputs == 2
               for info in data.tasks.values())
    assert (len(data.train), len(data.val), len(data.test)) == (4, 2, 2)
    x, y, missing = data.val[1]  # image 000006.jpg
    assert x.shape == (3, 16, 16) and 0 <= x.min() <= x.max() <= 1
    row = _row(folder, 5)
    assert [int(y[task_name(a)]) for a in ATTRIBUTES] == [int(v == 1) for v in row]
    assert not any(missing.values())


def test_an_unknown_attribute_is_a_missing_label(folder):
    data = load_data(f"celeba:{folder}", tasks=["smiling", "attributes"], size=8)
    _, y = next(iter(serve_splits(data, "train", batch_size=4)))
    assert y["smiling"][1].item() == -1  # the 0 in the list: no label for image 2
    assert y["smiling"][0].item() == int(_row(folder, 0)[31] == 1)
    assert y["attributes"].shape == (4, 40) and y["attributes"][1, 31].item() == -1
    assert torch.equal(y["attributes"][0], torch.tensor(
        [float(v == 1) for v in _row(folder, 0)]))


@pytest.mark.parametrize(("breakage", "message"), [
    ("no partition", "missing .*list_eval_partition.txt; expected DIR/img_align_celeba"),
    ("bad value", "line 4: expected a file name and 40 values of 1 or -1"),
    ("unlisted", "000008.jpg .* has no line in list_eval_partition.txt"),
    ("count", "says 9 images but lists 8"),
])
def test_malformed_lists_are_clear_errors(tmp_path, breakage, message):
    root = write_celeba(tmp_path / "c")
    attrs = root / "list_attr_celeba.txt"
    if breakage == "no partition":
        (root / "list_eval_partition.txt").unlink()
    elif breakage == "bad value":
        lines = attrs.read_text().split("\n")
        lines[3] = lines[3][:-2] + " 2"  # the second image's last value
        attrs.write_text("\n".join(lines))
    elif breakage == "unlisted":
        part = root / "list_eval_partition.txt"
        part.write_text("".join(part.read_text().splitlines(True)[:-1]))
    else:
        attrs.write_text("9" + attrs.read_text()[1:])
    with pytest.raises(MtlspecError, match=message):
        load_data(f"celeba:{root}")


def test_a_missing_image_is_found_when_its_batch_is_formed(tmp_path):
    root = write_celeba(tmp_path / "c")
    (root / "img_align_celeba" / "000002.jpg").unlink()
    data = load_data(f"celeba:{root}", size=8)
    with pytest.raises(MtlspecError, match=r"cannot read image .*000002\.jpg"):
        list(serve_splits(data, "train", batch_size=2))
    assert np.isfinite(data.train[0][0].numpy()).all()
