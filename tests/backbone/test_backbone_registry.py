"""The backbone registry: agreement with the torch-free catalogue, names, arguments, weights."""

from __future__ import annotations

import pytest
import torch
import torchvision

from mtlspec.backbone import (
    EXCLUDED,
    BackboneError,
    blocks_for,
    build,
    list_backbones,
    load_weights,
    register_backbone,
    trace,
)
from mtlspec.backbone.registry import _REGISTRY
from mtlspec.spec import catalog


def test_registry_is_a_subset_of_the_catalogue():
    assert set(list_backbones()) <= set(catalog.known_backbones())
    assert list_backbones() == sorted(list_backbones())


def test_every_catalogue_name_is_registered_or_excluded_with_a_reason():
    known = set(catalog.known_backbones())
    assert set(EXCLUDED) <= known
    assert known == set(list_backbones()) | set(EXCLUDED)
    assert not set(EXCLUDED) & set(list_backbones())


def test_catalogue_lists_every_torchvision_classification_model():
    # guards against drift when torchvision adds a model
    models = set(torchvision.models.list_models(module=torchvision.models))
    assert models == set(catalog.TORCHVISION_BACKBONES)


@pytest.mark.parametrize(("name", "suggestion"), [
    ("torchvision.resnet43", "torchvision.resnet34"),
    ("resnet34", "torchvision.resnet34"),
    ("torchvision.mobilenetv2", "torchvision.mobilenet_v2"),
])
def test_unknown_names_suggest_close_ones(name, suggestion):
    with pytest.raises(BackboneError) as err:
        build(name)
    assert suggestion in err.value.hint


def test_duplicates_are_rejected():
    with pytest.raises(ValueError, match="already registered"):
        register_backbone("convnet")(lambda: torch.nn.Identity())


def test_custom_backbones_need_explicit_permission():
    ref = "torchvision.ops.misc:Conv2dNormActivation"
    with pytest.raises(BackboneError) as err:
        build(ref, args={"in_channels": 3, "out_channels": 8})
    assert "--allow-import" in err.value.hint
    bb = blocks_for(ref, args={"in_channels": 3, "out_channels": 8}, input_shape=(3, 16, 16),
                    allow_import=True)
    assert len(bb.blocks) == 1 and bb.info[0].output_shape == (1, 8, 16, 16)


@pytest.mark.parametrize("ref", ["no_such_module_xyz:f", "torch.nn:NoSuchThing", "torch:"])
def test_bad_custom_references(ref):
    with pytest.raises(BackboneError):
        build(ref, allow_import=True)


def test_custom_callable_must_return_a_module():
    with pytest.raises(BackboneError, match=r"not a torch\.nn\.Module"):
        build("torch:zeros", args={"size": (1,)}, allow_import=True)


def test_builder_arguments_pass_through():
    narrow = build("torchvision.mobilenet_v2", args={"width_mult": 0.5}).model
    assert narrow.features[0][0].out_channels == 16  # 32 at width 1.0
    deep = build("convnet", args={"depth": 6, "width": 5}).model
    assert len(deep.stages) == 6 and deep.stages[0].conv.out_channels == 5


@pytest.mark.parametrize("args", [{"depth": 0}, {"wdith": 3}, {"width": "wide"}])
def test_bad_builder_arguments(args):
    with pytest.raises(BackboneError, match="cannot build convnet"):
        build("convnet", args=args)


def test_weights_arguments_are_refused():
    with pytest.raises(BackboneError, match="never downloads"):
        build("torchvision.resnet18", args={"weights": "DEFAULT"})


def test_input_size_limits():
    with pytest.raises(BackboneError, match="at least 63x63"):
        build("torchvision.alexnet", input_shape=(1, 3, 62, 62))
    with pytest.raises(BackboneError, match="multiples of 224"):
        build("torchvision.maxvit_t", input_shape=(1, 3, 256, 256))
    # every registered minimum really works: shapes propagate at exactly that size
    for name in ("torchvision.alexnet", "torchvision.inception_v3", "torchvision.squeezenet1_0",
                 "torchvision.densenet121", "torchvision.googlenet", "torchvision.swin_t"):
        size = _REGISTRY[name].min_size
        built = build(name, input_shape=(1, 3, size, size))
        trace(built.model, (1, 3, size, size), head=built.head, name=name)
        with pytest.raises(BackboneError, match="fails on a 3x"):  # and one pixel less fails
            trace(built.model, (1, 3, size - 1, size - 1), head=built.head, name=name)


def test_weights_file_round_trip(tmp_path):
    torch.manual_seed(0)
    source = build("torchvision.resnet18").model
    path = tmp_path / "r18.pt"
    torch.save(source.state_dict(), path)  # the full model, classifier included
    bb = blocks_for("torchvision.resnet18", input_shape=(3, 32, 32), weights=path)
    assert torch.equal(bb.features.get_submodule("layer4.1.conv2").weight,
                       source.layer4[1].conv2.weight)
    assert torch.equal(bb.blocks[-1].get_submodule("layer4.1.conv2").weight,
                       source.layer4[1].conv2.weight)  # blocks share the loaded weights


def test_bad_weights_files(tmp_path):
    partial = tmp_path / "partial.pt"
    state = build("convnet").model.state_dict()
    del state["stages.2.conv.weight"]
    torch.save(state, partial)
    with pytest.raises(BackboneError, match=r"lacks 1 .*stages\.2\.conv\.weight"):
        blocks_for("convnet", input_shape=(3, 16, 16), weights=partial)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(BackboneError, match="cannot read weights file"):
        blocks_for("convnet", input_shape=(3, 16, 16), weights=garbage)
    code = tmp_path / "code.pt"
    torch.save({"model": torch.nn.Conv2d(1, 1, 1)}, code)  # pickled module: refused
    with pytest.raises(BackboneError, match="cannot read weights file"):
        load_weights(torch.nn.Conv2d(1, 1, 1), code)
