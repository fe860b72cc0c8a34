"""Names a spec may use, known without importing torch.

Validation needs to know which heads, DAG ops and backbones exist and which arguments they
take, but `mtlspec/spec/` must stay torch-free so that `mtlspec validate` starts instantly.
The torch-side registries (backbones, heads, ops) are checked against this catalogue by the
test suite, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Argument kinds a catalogue entry can declare.
INT = "int"
FLOAT = "float"
BOOL = "bool"
INT_LIST = "int list"
STR = "str"


@dataclass(frozen=True)
class Signature:
    """Keyword arguments one head or op accepts.

    Attributes:
        args: argument name → kind (one of INT, FLOAT, BOOL, INT_LIST, STR).
        one_of: groups of arguments of which exactly one must be given
            (heads need `classes=` or `out=`).
        summary: one line shown by `mtlspec explain` and in "did you mean" hints.
    """

    args: dict[str, str]
    one_of: tuple[tuple[str, ...], ...] = ()
    summary: str = ""
    positive: frozenset[str] = field(default_factory=frozenset)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)

    def range_of(self, arg: str) -> tuple[float, float] | None:
        """The inclusive (low, high) every value of `arg` must lie in (list items each)."""
        return self.ranges.get(arg)


# Ranges declared once here and checked by `validate` (every value of a list each): beyond
# them torch refuses the module, or it could not fit in memory. Widths and class counts are
# capped so that one layer stays below a few GB; `mtlspec.cost` estimates the whole model.
MAX_WIDTH = 65_536
MAX_CLASSES = 1_000_000
MAX_LIST_ITEMS = 64  # `hidden=[...]`, `rates=[...]`
_WIDTH = (1, MAX_WIDTH)
_OUT_RANGES = {"classes": (1, MAX_CLASSES), "out": (1, MAX_CLASSES)}


_OUT = {"classes": INT, "out": INT}
_POSITIVE_OUT = frozenset({"classes", "out"})

HEADS: dict[str, Signature] = {
    "linear": Signature(
        {**_OUT, "dropout": FLOAT},
        one_of=(("classes", "out"),),
        summary="global average pool, then one fully connected layer",
        positive=_POSITIVE_OUT,
        ranges={**_OUT_RANGES, "dropout": (0, 1)},
    ),
    "conv": Signature(
        {**_OUT, "hidden": INT},
        one_of=(("classes", "out"),),
        summary="1x1 convolution (optionally after a 3x3 conv of `hidden` channels), "
        "upsampled to the input size",
        positive=_POSITIVE_OUT | {"hidden"},
        ranges={**_OUT_RANGES, "hidden": _WIDTH},
    ),
    "aspp": Signature(
        {**_OUT, "rates": INT_LIST, "channels": INT},
        one_of=(("classes", "out"),),
        summary="DeepLab atrous spatial pyramid pooling, upsampled to the input size",
        positive=_POSITIVE_OUT | {"channels"},
        ranges={**_OUT_RANGES, "channels": _WIDTH, "rates": (1, 64)},
    ),
    "mlp": Signature(
        {**_OUT, "hidden": INT_LIST, "dropout": FLOAT},
        one_of=(("classes", "out"),),
        summary="global average pool, then fully connected layers of `hidden` widths",
        positive=_POSITIVE_OUT,
        ranges={**_OUT_RANGES, "hidden": _WIDTH, "dropout": (0, 1)},
    ),
}

# Operations of a DAG spec's central network: the stem (input → state 0) and the edge op
# (state i → state j, same shape in and out).
STEM_OPS: dict[str, Signature] = {
    "conv": Signature(
        {"out": INT, "stride": INT, "kernel": INT},
        one_of=(("out",),),
        summary="conv-BN-ReLU from the input image to the first hidden state",
        positive=frozenset({"out", "stride", "kernel"}),
        ranges={"out": _WIDTH, "stride": (1, 64), "kernel": (1, 31)},
    ),
}
EDGE_OPS: dict[str, Signature] = {
    "conv3x3": Signature({}, summary="3x3 conv-BN-ReLU keeping the channel count"),
    "conv1x1": Signature({}, summary="1x1 conv-BN-ReLU keeping the channel count"),
    "sepconv3x3": Signature({}, summary="depthwise-separable 3x3 conv-BN-ReLU"),
    "residual": Signature({}, summary="two 3x3 conv-BN layers with a skip connection"),
}

# Backbones built into mtlspec (referenced by bare name).
BUILTIN_BACKBONES: dict[str, Signature] = {
    "convnet": Signature(
        {"depth": INT, "width": INT, "in_channels": INT},
        summary="small conv-BN-ReLU stack for fast tests and small images",
        positive=frozenset({"depth", "width", "in_channels"}),
        ranges={"depth": (1, 256), "width": _WIDTH, "in_channels": _WIDTH},
    ),
    "resnet": Signature(
        {"stages": INT, "blocks": INT, "width": INT, "in_channels": INT},
        summary="small ResNet (3x3 stem, basic residual blocks, width doubling per stage) "
        "for small images and dense tasks",
        positive=frozenset({"stages", "blocks", "width", "in_channels"}),
        ranges={"stages": (1, 16), "blocks": (1, 256), "width": _WIDTH,
                "in_channels": _WIDTH},
    ),
}

# torchvision classification models (torchvision.models.list_models(module=torchvision.models)
# for torchvision 0.29). Referenced as `torchvision.NAME`; built with random weights.
TORCHVISION_BACKBONES: frozenset[str] = frozenset({
    "alexnet", "convnext_base", "convnext_large", "convnext_small", "convnext_tiny",
    "densenet121", "densenet161", "densenet169", "densenet201", "efficientnet_b0",
    "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4",
    "efficientnet_b5", "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_l",
    "efficientnet_v2_m", "efficientnet_v2_s", "googlenet", "inception_v3", "maxvit_t",
    "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3", "mobilenet_v2",
    "mobilenet_v3_large", "mobilenet_v3_small", "regnet_x_16gf", "regnet_x_1_6gf",
    "regnet_x_32gf", "regnet_x_3_2gf", "regnet_x_400mf", "regnet_x_800mf", "regnet_x_8gf",
    "regnet_y_128gf", "regnet_y_16gf", "regnet_y_1_6gf", "regnet_y_32gf", "regnet_y_3_2gf",
    "regnet_y_400mf", "regnet_y_800mf", "regnet_y_8gf", "resnet101", "resnet152", "resnet18",
    "resnet34", "resnet50", "resnext101_32x8d", "resnext101_64x4d", "resnext50_32x4d",
    "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
    "squeezenet1_0", "squeezenet1_1", "swin_b", "swin_s", "swin_t", "swin_v2_b", "swin_v2_s",
    "swin_v2_t", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
    "vgg19_bn", "vit_b_16", "vit_b_32", "vit_h_14", "vit_l_16", "vit_l_32", "wide_resnet101_2",
    "wide_resnet50_2"
})

# torchvision models the detector cannot cut (registry.EXCLUDED is this dict): listed so that
# `mtlspec validate` rejects them early, with the reason. Empty since ViTs are supported
# (their tokens are reshaped to the patch grid for dense heads).
UNSUPPORTED_BACKBONES: dict[str, str] = {}

# Attributes of torch's module containers: a task or network of this name would clash with
# them in the compiled model's `nn.ModuleDict` (tests/compile/test_reserved.py keeps the list
# in step with torch). Names spelled `__x__` are reserved too.
RESERVED_NAMES: frozenset[str] = frozenset({
    "T_destination", "add_module", "append", "apply", "bfloat16", "buffers", "call_super_init",
    "children", "clear", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extend",
    "extra_repr", "float", "forward", "get_buffer", "get_extra_state", "get_parameter",
    "get_submodule", "half", "insert", "ipu", "items", "keys", "load_state_dict", "modules",
    "mtia", "named_buffers", "named_children", "named_modules", "named_parameters",
    "parameters", "pop", "register_backward_hook", "register_buffer", "register_forward_hook",
    "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
    "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty",
    "train", "training", "type", "update", "values", "xpu", "zero_grad",
})


def is_reserved_name(name: str) -> bool:
    """A name the compiled model cannot hold as a submodule name.

    Example:
        >>> is_reserved_name("state_dict"), is_reserved_name("__class__"), is_reserved_name("depth")
        (True, True, False)
    """
    return name in RESERVED_NAMES or (name.startswith("_") and name[1:2] == "_") or (
        name.startswith("_") and name.lstrip("_") in _PRIVATE)


# torch.nn.Module's own private attributes (`_modules`, `_parameters`, ...), without `_`.
_PRIVATE = frozenset({
    "apply", "backward_hooks", "backward_pre_hooks", "buffers", "call_impl",
    "compiled_call_impl", "forward_hooks", "forward_hooks_always_called",
    "forward_hooks_with_kwargs", "forward_pre_hooks", "forward_pre_hooks_with_kwargs",
    "get_backward_hooks", "get_backward_pre_hooks", "get_item_by_idx", "get_name",
    "is_full_backward_hook", "load_from_state_dict", "load_state_dict_post_hooks",
    "load_state_dict_pre_hooks", "maybe_warn_non_full_backward_hook", "modules",
    "named_members", "non_persistent_buffers_set", "parameters",
    "register_load_state_dict_pre_hook", "register_state_dict_hook",
    "replicate_for_data_parallel", "save_to_state_dict", "slow_forward", "state_dict_hooks",
    "state_dict_pre_hooks", "version", "wrapped_call_impl",
})

DTYPES: frozenset[str] = frozenset({"float", "float16", "bfloat16"})


def known_backbones() -> list[str]:
    """Every backbone name a spec may use without importing user code, sorted."""
    return sorted(BUILTIN_BACKBONES) + sorted(f"torchvision.{n}" for n in TORCHVISION_BACKBONES)


def is_custom_ref(ref: str) -> bool:
    """True for a `"pkg.module:callable"` reference to user code."""
    return ":" in ref


def is_timm_ref(ref: str) -> bool:
    """True for `timm.NAME` (any timm model; checked when the backbone is built).

    Example:
        >>> is_timm_ref("timm.resnet50"), is_timm_ref("timm."), is_timm_ref("torchvision.vgg11")
        (True, False, False)
    """
    name = ref[len("timm."):]
    return ref.startswith("timm.") and bool(name) and name.replace(".", "_").isidentifier()
