"""The shipped scenes: deterministic per seed, targets that agree with the geometry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtlspec.data.registry import dataset_tasks, load_data
from mtlspec.data.scenes import TASKS, render_item
from mtlspec.data.scenes_render import (
    CLASSES,
    FLOOR,
    FOV,
    MAX_DEPTH,
    SKY,
    Scene,
    Thing,
    render,
    sample_scene,
)
from mtlspec.errors import MtlspecError


@pytest.fixture(scope="module")
def data():
    return load_data("scenes", tasks=list(TASKS), train_size=12, val_size=3, test_size=3,
                     size=32)


def test_items_have_the_declared_kinds_shapes_and_dtypes(data):
    assert dataset_tasks("scenes") == TASKS
    assert data.input_shape == (3, 32, 32)
    kinds = {t: info.kind for t, info in data.tasks.items()}
    assert kinds == {"segment": "segmentation", "depth": "depth", "normal": "normals",
                     "edge": "edges", "keypoint": "keypoints", "count": "classification",
                     "shapes": "multi-label"}
    x, y = data.train[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= x.min() <= x.max() <= 1
    assert y["segment"].shape == (32, 32) and y["segment"].dtype == torch.int64
    assert int(y["segment"].min()) >= 0 and int(y["segment"].max()) < CLASSES == 17
    assert y["depth"].shape == y["edge"].shape == y["keypoint"].shape == (1, 32, 32)
    assert y["normal"].shape == (3, 32, 32)
    assert y["count"].dtype == torch.int64 and y["shapes"].shape == (3,)


def test_generation_is_deterministic_per_seed_and_prefix_stable(data):
    again = load_data("scenes", tasks=["segment", "depth"], train_size=5, val_size=1,
                      test_size=1, size=32)
    for i in range(5):
        assert torch.equal(again.train[i][0], data.train[i][0])
        assert torch.equal(again.train[i][1]["depth"], data.train[i][1]["depth"])
    other = render_item(1, 0, 0, 32, 5)
    assert not np.array_equal(other["image"], data.train[0][0].numpy())


def test_bad_options_are_clear_errors():
    for options, message in (({"size": 4}, "size must be 8-512"),
                             ({"max_objects": 0}, "max_objects must be 1-12"),
                             ({"tasks": ["segment", "colour"]}, "unknown task")):
        with pytest.raises(MtlspecError, match=message):
            load_data("scenes", **options)


def _scene(things=(), pitch_deg=20.0, height=1.5):
    return Scene(height, np.deg2rad(pitch_deg), np.array([0.0, 1.0, 0.0]),
                 np.array([0.6, 0.6, 0.6]), tuple(things),
                 tuple(np.array([0.8, 0.2, 0.2]) for _ in things))


def test_floor_depth_and_normals_are_analytic():
    pitch, height, size = np.deg2rad(20.0), 1.5, 32
    out = render(_scene(pitch_deg=20.0, height=height), (size, size))
    seg, depth, normal = out["segment"], out["depth"][0], out["normal"]
    focal = (size / 2) / np.tan(FOV / 2)
    for row in range(size):
        yc = -(row + 0.5 - size / 2) / focal  # the ray's camera-y over camera-z
        falls = np.sin(pitch) - yc * np.cos(pitch)  # how fast it descends per unit of z
        if falls <= 0:
            assert (seg[row] == SKY).all() and (depth[row] == 0).all()
            assert (normal[:, row] == 0).all()
            continue
        assert (seg[row] == FLOOR).all()
        expected = height / falls
        assert depth[row] == pytest.approx(np.full(size, expected if expected <= MAX_DEPTH
                                                   else 0.0), rel=1e-5)
        # the floor's normal (0, 1, 0) in the camera frame: x right, y up, z to the camera
        floor_normal = np.tile([0, np.cos(pitch), np.sin(pitch)], (size, 1))
        assert np.allclose(normal[:, row].T, floor_normal, atol=1e-6)


def test_a_sphere_has_unit_normals_edges_around_it_and_a_keypoint():
    sphere = Thing(0, 3, 0.0, 4.0, (0.8, 0.0, 0.0))  # blue sphere straight ahead
    out = render(_scene([sphere]), (48, 48))
    mask = out["segment"] == 2 + 0 * 5 + 3
    assert mask.sum() > 50
    norms = np.linalg.norm(out["normal"][:, mask], axis=0)
    assert norms == pytest.approx(np.ones(mask.sum()), abs=1e-5)
    # occlusion edges: sphere pixels next to the floor behind it, never floor pixels there
    edge = out["edge"][0] > 0
    assert edge[mask].any()
    # the floor is behind the sphere: its only edges are at the horizon (sky above them)
    below_sky = np.roll(out["segment"] == SKY, 1, axis=0)
    assert not (edge & ~mask & ~below_sky).any()
    inner = mask & np.roll(mask, 1, 0) & np.roll(mask, -1, 0) & np.roll(mask, 1, 1) & np.roll(
        mask, -1, 1)
    assert not edge[inner].any()
    # one keypoint: the sphere point nearest the camera, projected (pinhole, pitched camera)
    origin, centre = np.array([0.0, 1.5, 0.0]), np.array([0.0, 0.8, 4.0])
    point = centre + 0.8 * (origin - centre) / np.linalg.norm(origin - centre)
    pitch, focal = np.deg2rad(20.0), 24 / np.tan(FOV / 2)
    up, forward = np.array([0, np.cos(pitch), np.sin(pitch)]), np.array(
        [0, -np.sin(pitch), np.cos(pitch)])
    rel = point - origin
    row = -focal * (rel @ up) / (rel @ forward) + 24
    peak = np.unravel_index(out["keypoint"][0].argmax(), (48, 48))
    assert abs(peak[0] + 0.5 - row) <= 0.5 and abs(peak[1] + 0.5 - 24) <= 0.5
    assert out["keypoint"][0].sum() == pytest.approx(2 * np.pi * 0.75 ** 2, rel=0.1)
    item = render_item(0, 0, 0, 16, 5)
    assert item["count"] == len(sample_scene(np.random.default_rng(
        np.random.SeedSequence([0, 0, 0])), 5).things)


def test_mtlspec_datasets_lists_the_data_sets_with_tasks_and_options():
    import json

    from click.testing import CliRunner

    from mtlspec.cli import main

    result = CliRunner().invoke(main, ["datasets", "--json"])
    assert result.exit_code == 0, result.output
    data = {row["name"]: row for row in json.loads(result.stdout)["data"]}
    assert set(data) == {"multidigits", "scenes", "nyuv2:DIR", "cityscapes:DIR", "celeba:DIR"}
    assert data["scenes"]["tasks"] == list(TASKS)
    assert data["scenes"]["options"] == ["train_size", "val_size", "test_size", "size",
                                         "max_objects"]
    assert "label [H, W]" in data["nyuv2:DIR"]["layout"]
