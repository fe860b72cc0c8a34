"""The shipped data sets as plain data (name, tasks, options, layout), without importing torch:
what `mtlspec datasets` lists and what the plan writers check a spec"s task names against.
A test keeps it equal to the registry (`mtlspec.data.registry`), which builds the data.

Example:
    >>> SHIPPED["scenes"].tasks[:3], SHIPPED["nyuv2"].folder
    (('segment', 'depth', 'normal'), True)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShippedDataset:
    """A shipped data set: what `--data` calls it and what it offers."""

    name: str
    description: str
    tasks: tuple[str, ...]
    options: tuple[str, ...] = ()
    folder: bool = False  # read from `--data NAME:DIR`
    layout: str = ""  # for folder data sets: the expected files


SHIPPED: dict[str, ShippedDataset] = {d.name: d for d in (
    ShippedDataset(
        "celeba",
        "CelebA: 40 binary attributes (+ `attributes`, multi-label)",
        ("five_o_clock_shadow", "arched_eyebrows", "attractive", "bags_under_eyes",
         "bald", "bangs", "big_lips", "big_nose", "black_hair", "blond_hair", "blurry",
         "brown_hair", "bushy_eyebrows", "chubby", "double_chin", "eyeglasses",
         "goatee", "gray_hair", "heavy_makeup", "high_cheekbones", "male",
         "mouth_slightly_open", "mustache", "narrow_eyes", "no_beard", "oval_face",
         "pale_skin", "pointy_nose", "receding_hairline", "rosy_cheeks", "sideburns",
         "smiling", "straight_hair", "wavy_hair", "wearing_earrings", "wearing_hat",
         "wearing_lipstick", "wearing_necklace", "wearing_necktie", "young",
         "attributes"),
        options=("size",), folder=True,
        layout=("DIR/img_align_celeba/<name>.jpg, DIR/list_attr_celeba.txt (count, 40 attribute "
                "names, then `<name>.jpg` and 40 values of 1/-1 per line) and "
                "DIR/list_eval_partition.txt (`<name>.jpg 0|1|2` per line)")),
    ShippedDataset(
        "cityscapes",
        "Cityscapes in MTAN's .npy layout: segment (7 or 19), depth",
        ("segment", "depth"),
        options=("classes",), folder=True,
        layout=("DIR/{train,val}/{image,label_7 (or label),depth}/<i>.npy for i = 0..n-1: image "
                "[H, W, 3], label [H, W] (class ids 0-6, -1 = none), depth [H, W, 1] (0 = none) "
                "(MTAN/LibMTL's preprocessed Cityscapes, 128x256; classes=19 reads label_19)")),
    ShippedDataset(
        "multidigits",
        "two load_digits digits side by side, 1x8x16; 9 image-level tasks",
        ("left", "right", "parity", "greater", "has7", "max", "equal", "sum", "absdiff"),
        options=("train_size", "val_size", "test_size", "overlap")),
    ShippedDataset(
        "nyuv2",
        "NYUv2 in MTAN's .npy layout: segment (13), depth, normal",
        ("segment", "depth", "normal"),
        folder=True,
        layout=("DIR/{train,val}/{image,label,depth,normal}/<i>.npy for i = 0..n-1: image [H, W, "
                "3], label [H, W] (class ids 0-12, -1 = none), depth [H, W, 1] (0 = none), normal"
                " [H, W, 3] (MTAN/LibMTL's preprocessed NYUv2, 288x384)")),
    ShippedDataset(
        "scenes",
        "rendered spheres/boxes/cylinders: segment, depth, normal, edge, keypoint, count, shapes",
        ("segment", "depth", "normal", "edge", "keypoint", "count", "shapes"),
        options=("train_size", "val_size", "test_size", "size", "max_objects")),
)}
