"""Serving batches: the protocol's missing-label masks, dense augmentation applied alike to
image and targets, the same batches with any worker count, exact resume with augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtlspec.data.augment import DenseAugment
from mtlspec.data.protocol import DataSplits
from mtlspec.data.registry import load_data
from mtlspec.data.serve import augment_rng, collate_items, serve
from mtlspec.data.tasks import declare
from mtlspec.errors import MtlspecError
from tests.train.tiny import one_thread

INFOS = {"seg": declare("seg", "segmentation", classes=4), "depth": declare("depth", "depth"),
         "normal": declare("normal", "normals"), "count": declare("count", "classification",
                                                                   classes=3)}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    yield from one_thread()


def _item(h=6, w=8, value=0):
    """An item whose targets all encode each pixel's column, so a crop/flip is checkable."""
    cols = torch.arange(w, dtype=torch.float32).expand(h, w)
    x = torch.stack([cols, cols, cols]) + value
    normal = torch.zeros(3, h, w)
    normal[0] = 0.6
    normal[2] = 0.8
    return x, {"seg": (cols % 4).long(), "depth": (cols + 1)[None].clone(), "normal": normal,
               "count": torch.tensor(2)}


def test_missing_labels_become_ignore_values_per_kind():
    a, b = _item(), _item()
    items = [a, (*b, {"seg": True, "depth": True, "normal": True, "count": True})]
    x, y = collate_items(items, INFOS, "test")
    assert x.shape == (2, 3, 6, 8)
    assert (y["seg"][1] == -1).all() and torch.equal(y["seg"][0], a[1]["seg"])
    assert (y["depth"][1] == 0).all() and (y["normal"][1] == 0).all()
    assert y["count"].tolist() == [2, -1]
    assert y["seg"].dtype == y["count"].dtype == torch.int64


@pytest.mark.parametrize(("bad", "message"), [
    ((torch.zeros(3, 6, 8), {"seg": torch.zeros(6, 8)}), "no target for task depth"),
    ("not an item", "an item must be"),
])
def test_malformed_items_are_clear_errors(bad, message):
    with pytest.raises(MtlspecError, match=message):
        collate_items([bad], INFOS, "test")


def test_augmentation_moves_image_and_dense_targets_alike():
    scales = (1.0, 1.5, 2.0)
    augment = DenseAugment(scales=scales)
    seen_flip = seen_zoom = False
    for seed in range(12):
        x, y = augment(_item(), INFOS, np.random.default_rng(seed))
        source = None  # each output pixel's source column, read off depth = (column + 1) / s
        for scale in scales:
            guess = y["depth"][0, 3] * scale - 1
            if torch.allclose(guess, guess.round(), atol=1e-4) and torch.equal(
                    y["seg"][3], guess.round().long() % 4):
                source, zoom = guess.round(), scale
                break
        assert source is not None, seed
        flipped = bool(source[0] > source[-1])
        seen_flip, seen_zoom = seen_flip or flipped, seen_zoom or zoom > 1
        # the image shows the same columns (bilinear there, nearest for the targets)
        assert (x[0, 3] - source).abs().max() <= 1.0
        # the normals' x component flips sign with the image, z never does
        assert (y["normal"][0] == (-0.6 if flipped else 0.6)).all()
        assert (y["normal"][2] == 0.8).all()
        assert y["count"].item() == 2  # image-level targets untouched
    assert seen_flip and seen_zoom


def _scenes(**kw):
    return load_data("scenes", tasks=["segment", "normal", "count"], train_size=24, val_size=4,
                     test_size=4, size=16, **kw)


def test_the_same_batches_with_any_number_of_workers():
    data = _scenes(augment=True)
    order = torch.randperm(24, generator=torch.Generator().manual_seed(1))
    runs = [list(serve(data.train, data.tasks, batch_size=5, order=order, start_batch=1,
                       epoch=3, seed=7, augment=data.augment, workers=w)) for w in (0, 2)]
    assert [len(x) for x, _ in runs[0]] == [5, 5, 5, 4]
    for (x0, y0), (x1, y1) in zip(*runs, strict=True):
        assert torch.equal(x0, x1) and all(torch.equal(y0[t], y1[t]) for t in y0)
    # augmentation draws from (seed, epoch, item) only: epoch 4 differs, item 3 is the same
    again = augment_rng(7, 3, 3).integers(1 << 30), augment_rng(7, 4, 3).integers(1 << 30)
    assert again[0] != again[1]


def test_serving_does_not_move_the_global_rng():
    data = _scenes()
    state = torch.get_rng_state()
    list(serve(data.train, data.tasks, batch_size=8, workers=0))
    assert torch.equal(state, torch.get_rng_state())


def test_resume_mid_epoch_with_augmentation_and_workers_is_exact(tmp_path):
    from mtlspec.train.loop import train
    from tests.train.tiny import DropoutNet

    class Dense(DropoutNet):  # a tiny dense model: per-pixel heads on a 3x3 conv
        def __init__(self):
            torch.nn.Module.__init__(self)
            self.trunk = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1),
                                              torch.nn.ReLU(), torch.nn.Dropout(0.2))
            self.heads = torch.nn.ModuleDict({"segment": torch.nn.Conv2d(8, 17, 1),
                                              "normal": torch.nn.Conv2d(8, 3, 1)})

    data = _scenes(augment=True)
    data.tasks = {t: data.tasks[t] for t in ("segment", "normal")}
    torch.manual_seed(0)
    full_model = Dense()
    train(full_model, data, epochs=2, batch_size=5, seed=2, weighting="rlw")
    torch.manual_seed(0)
    train(Dense(), data, epochs=2, batch_size=5, seed=2, weighting="rlw", checkpoint=tmp_path,
          max_steps=3, workers=2)
    torch.manual_seed(9)
    resumed = Dense()
    train(resumed, data, epochs=2, batch_size=5, seed=2, weighting="rlw", checkpoint=tmp_path,
          resume=True, workers=1)
    full = full_model.state_dict()
    assert all(torch.equal(v, full[k]) for k, v in resumed.state_dict().items())


def test_bad_data_found_in_a_worker_is_a_clear_error():
    class Bad(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            seg = torch.zeros(4, 4, dtype=torch.long)
            seg[0, 0] = 9 if i == 3 else 0
            return torch.zeros(3, 4, 4), {"seg": seg}

    infos = {"seg": INFOS["seg"]}
    with pytest.raises(MtlspecError, match=r"items 2..3, task seg: class id 9 out of range 0..3"):
        list(serve(Bad(), infos, batch_size=2, workers=1, name="bad"))
    data = DataSplits(Bad(), Bad(), Bad(), infos, name="bad")
    assert data.input_shape == (3, 4, 4)
