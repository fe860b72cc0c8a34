"""timm as a backbone source: any timm model, random weights, its features cut into blocks.

A fast subset runs in the normal suite (one model per mechanism: fx leaves, tokens,
channels-last output); the zoo below (`-m slow`, or bench/zoo.py for the table) spans the
families of issue 20.
"""

from __future__ import annotations

import importlib

import pytest
import torch

from mtlspec.backbone import BackboneError, blocks_for, build, timm_source, verify
from mtlspec.backbone.partition import check, partition
from mtlspec.backbone.trace import trace

pytest.importorskip("timm")

# ≥ 40 models over the families of issue 20, at the size each is made for.
ZOO = [
    "resnet18", "resnet50", "resnetv2_50", "res2net50_26w_4s", "resnest14d", "nf_resnet26",
    "efficientnet_b0", "efficientnetv2_rw_t", "tf_efficientnet_lite0", "mobilenetv2_100",
    "mobilenetv3_small_100", "mnasnet_100", "lcnet_050", "ghostnet_100", "rexnet_100",
    "regnetx_002", "regnety_002", "convnext_atto", "edgenext_xx_small", "poolformer_s12",
    "fastvit_t8", "hgnetv2_b0", "ese_vovnet19b_dw", "cspresnet50", "dla34", "dpn68",
    "densenet121", "inception_v3", "xception41", "selecsls42b", "repvgg_a0", "hrnet_w18_small",
    "vgg11", "vit_tiny_patch16_224", "deit_tiny_distilled_patch16_224",
    "swin_tiny_patch4_window7_224", "mixer_s16_224", "levit_128s", "pit_ti_224",
    "coatnet_0_rw_224", "maxvit_tiny_tf_224", "mobilevit_xxs", "efficientvit_b0",
]


def _input(name: str) -> tuple[int, int, int]:
    return (3, 299, 299) if name in ("inception_v3", "xception41") else (3, 224, 224)


def _check_model(name: str, shape: tuple[int, ...]) -> None:
    bb = blocks_for(f"timm.{name}", input_shape=shape)
    assert verify(bb).ok
    assert bb.uncounted == {}
    assert bb.flops > 0 and len(bb.blocks) >= 1
    built = build(f"timm.{name}", input_shape=(1, *shape))
    traced = trace(built.model, (1, *shape), name=name)
    assert check(traced.graph, traced.source, partition(traced.graph, traced.source,
                                                        traced.sink)) == []


@pytest.mark.parametrize(("name", "leaf"), [("tf_efficientnet_lite0", "Conv2dSame"),
                                            ("mobilevit_xxs", "MobileVitBlock")])
def test_timm_registered_leaf_modules_stay_whole(name, leaf):
    built = build(f"timm.{name}", input_shape=(1, 3, 64, 64))
    traced = trace(built.model, (1, 3, 64, 64), name=name)
    leaves = [v for v, d in traced.graph.nodes(data=True) if d["module"] == leaf]
    assert leaves and all(traced.graph.nodes[v]["op"] == "call_module" for v in leaves)
    bb = blocks_for(f"timm.{name}", input_shape=(3, 64, 64))
    assert verify(bb).ok and bb.uncounted == {}


def test_vit_tokens_become_a_grid():
    bb = blocks_for("timm.vit_tiny_patch16_224", input_shape=(3, 64, 64))
    assert bb.layout.kind == "tokens" and bb.layout.prefix_tokens == 1
    assert bb.info[-1].output_shape == (1, 192, 4, 4)
    assert len(bb.blocks) == 13 and verify(bb).ok


def test_timm_swin_channels_last_output_is_permuted():
    bb = blocks_for("timm.swin_tiny_patch4_window7_224", input_shape=(3, 224, 224),
                    materialize=False)
    assert bb.layout.kind == "nhwc" and bb.layout.declared
    assert bb.info[-1].output_shape == (1, 768, 7, 7)
    assert len(bb.blocks) == 15  # patch embedding, 12 Swin blocks, 2 merges folded in


def test_missing_timm_names_the_extra(monkeypatch):
    real = importlib.import_module

    def no_timm(name, *args):
        if name == "timm":
            raise ImportError("No module named 'timm'")
        return real(name, *args)

    monkeypatch.setattr(timm_source.importlib, "import_module", no_timm)
    with pytest.raises(BackboneError) as err:
        build("timm.resnet18")
    assert "timm" in err.value.message and "mtlspec[timm]" in err.value.hint


def test_unknown_timm_model_and_pretrained_are_clear_errors():
    with pytest.raises(BackboneError) as err:
        build("timm.resnet19")
    assert "timm.resnet18" in err.value.hint
    with pytest.raises(BackboneError) as err:
        build("timm.resnet18", args={"pretrained": True})
    assert "never downloads weights" in err.value.message


def test_timm_arguments_reach_the_model():
    model = build("timm.resnet18", args={"in_chans": 1}, input_shape=(1, 1, 32, 32)).model
    assert model.eval()(torch.zeros(1, 1, 32, 32)).shape == (1, 512, 1, 1)


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_zoo(name):
    _check_model(name, _input(name))
