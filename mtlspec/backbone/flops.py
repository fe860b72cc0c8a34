"""Counting FLOPs of any module run, op by op, with a torch dispatch mode.

Every aten op that runs inside `OpCounter` is counted with a shape formula, on real CPU tensors
or on `meta` tensors (shapes only, no arithmetic), so the detector counts costs during the shape
pass it already makes (one pass in all). The convention (see README "What FLOPs count"):

- matrix products (conv, linear, mm/bmm/addmm, einsum, both products of attention): one
  multiply-add is one flop (fvcore's convention; torch's `flop_counter` formulas halved);
- scaled dot-product attention: QKᵀ and AV as above, plus the softmax and the scaling of Q and
  K, exactly what its math decomposition counts, so a fused kernel (CPU) and the decomposed
  path (meta tensors) give the same number;
- normalization: fvcore's rules: batch norm in eval mode 2 per element (1 without affine),
  layer/group/instance norm 5 per element (4 without affine);
- activations and elementwise arithmetic: 1 per output element; softmax 3 per element;
- pooling: windowed pools output elements × window size; reductions (mean, sum, adaptive
  pools) 1 per input element; bilinear resize 4 per output element, nearest 1 (fvcore's);
- data movement (views, permutes, cat, slicing, padding, copies, indexing): 0.

An op with no formula and not known to be free is reported in `uncounted` (op → calls), never
silently counted as zero.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.utils import flop_counter
from torch.utils._python_dispatch import TorchDispatchMode

Formula = Callable[[tuple, dict, Any], int]

# Ops whose cost is truly zero: they move, view, select or create data without arithmetic.
FREE_OPS: frozenset[str] = frozenset({
    "view", "_unsafe_view", "reshape", "permute", "transpose", "t", "expand", "expand_as",
    "squeeze", "unsqueeze", "flatten", "unflatten", "select", "slice", "narrow", "cat", "stack",
    "split", "split_with_sizes", "chunk", "unbind", "clone", "contiguous", "copy", "_to_copy",
    "to", "detach", "alias", "lift_fresh", "lift_fresh_copy", "constant_pad_nd", "pad",
    "reflection_pad2d", "replication_pad2d", "roll", "flip", "index", "index_select", "gather",
    "index_put", "_index_put_impl", "masked_fill", "zeros", "ones", "empty", "empty_like",
    "empty_strided", "full", "full_like", "zeros_like", "ones_like", "new_zeros", "new_ones",
    "new_empty", "new_full", "new_empty_strided", "arange", "scalar_tensor", "fill", "zero",
    "as_strided", "unfold", "im2col", "col2im", "pixel_shuffle", "pixel_unshuffle",
    "channel_shuffle", "native_channel_shuffle", "repeat", "tile", "embedding", "dropout",
    "native_dropout", "feature_dropout", "alpha_dropout", "_assert_async", "_assert_scalar",
    "sym_constrain_range_for_size", "_local_scalar_dense", "item", "diagonal", "tril", "triu",
    "movedim", "swapaxes", "meshgrid", "linspace", "view_as", "resize_", "set_", "bernoulli",
    "rand", "randn", "rand_like", "randn_like", "uniform", "normal", "random",
    "exponential", "masked_select", "where", "nonzero", "topk",
    "sort", "argsort", "argmax", "argmin",
})

# Elementwise arithmetic and activations: one flop per output element.
_ELEMENTWISE = frozenset({
    "add", "sub", "rsub", "mul", "div", "neg", "abs", "pow", "sqrt", "rsqrt", "exp", "exp2",
    "log", "log2", "log1p", "expm1", "reciprocal", "maximum", "minimum", "clamp", "clamp_min",
    "clamp_max", "lerp", "addcmul", "addcdiv", "sign", "floor", "ceil", "round", "trunc",
    "remainder", "floor_divide", "fmod", "erf", "erfinv", "sin", "cos", "tan", "atan", "atan2",
    "eq", "ne", "gt", "ge", "lt", "le", "logical_and", "logical_or", "logical_not",
    "bitwise_and", "bitwise_or", "bitwise_not", "square", "sigmoid", "tanh", "relu", "relu6",
    "hardtanh", "gelu", "silu", "mish", "hardswish", "hardsigmoid", "leaky_relu", "elu", "selu",
    "celu", "softplus", "softsign", "log_sigmoid_forward", "threshold", "prelu",
    "_prelu_kernel", "glu", "nan_to_num", "xlogy", "hypot",
})
_REDUCTIONS = frozenset({
    "mean", "sum", "amax", "amin", "max", "min", "var", "var_mean", "std", "std_mean",
    "logsumexp", "linalg_vector_norm", "norm", "prod", "cumsum", "_adaptive_avg_pool2d",
    "_adaptive_avg_pool3d", "adaptive_max_pool2d", "adaptive_max_pool1d", "_adaptive_avg_pool1d",
})
_WINDOWED_POOLS = frozenset({
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d",
})


def _numel(x: Any) -> int:
    if isinstance(x, torch.Tensor):
        return x.numel()
    if isinstance(x, (tuple, list)) and x and isinstance(x[0], torch.Tensor):
        return x[0].numel()
    return 0


def _largest_tensor(args: tuple) -> int:
    return max((a.numel() for a in args if isinstance(a, torch.Tensor)), default=0)


def _halved(formula: Callable[..., int]) -> Formula:
    """torch's registered formula (2 flops per multiply-add, on shapes) as multiply-adds."""

    def count(args: tuple, kwargs: dict, out: Any) -> int:
        return formula(*args, **kwargs, out_val=out) // 2

    return count


def _sdpa(args: tuple, kwargs: dict, out: Any) -> int:
    """Attention as its math decomposition counts it: scaling, QKᵀ, softmax, AV, mask add."""
    q, k, v = args[:3]
    *batch, length, dim = q.shape
    source = k.shape[-2]
    heads = math.prod(batch)
    scores = heads * length * source
    mask = kwargs.get("attn_mask", args[3] if len(args) > 3 else None)
    mask_add = scores if isinstance(mask, torch.Tensor) else 0
    return (q.numel() + k.numel() + scores * dim + 3 * scores + scores * v.shape[-1]
            + mask_add)


def _batch_norm(args: tuple, kwargs: dict, out: Any) -> int:
    affine = isinstance(args[1], torch.Tensor)
    training = bool(args[5]) if len(args) > 5 and isinstance(args[5], bool) else False
    if training:
        return args[0].numel() * (5 if affine else 4)
    return args[0].numel() * (2 if affine else 1)


def _batch_norm_no_training(args: tuple, kwargs: dict, out: Any) -> int:
    return args[0].numel() * (2 if isinstance(args[1], torch.Tensor) else 1)


def _norm(affine_index: int) -> Formula:
    def count(args: tuple, kwargs: dict, out: Any) -> int:
        affine = len(args) > affine_index and isinstance(args[affine_index], torch.Tensor)
        return args[0].numel() * (5 if affine else 4)

    return count


def _elementwise(args: tuple, kwargs: dict, out: Any) -> int:
    return _numel(out) or _largest_tensor(args)


def _reduction(args: tuple, kwargs: dict, out: Any) -> int:
    return _numel(args[0])


def _softmax(args: tuple, kwargs: dict, out: Any) -> int:
    return 3 * _numel(args[0])


def _windowed_pool(dims: int) -> Formula:
    def count(args: tuple, kwargs: dict, out: Any) -> int:
        kernel = args[1] if len(args) > 1 else kwargs.get("kernel_size", 1)
        kernel = list(kernel) if isinstance(kernel, (tuple, list)) else [int(kernel)]
        window = math.prod(kernel) if len(kernel) == dims else kernel[0] ** dims
        return _numel(out) * window

    return count


def _resize(per_output: int) -> Formula:
    def count(args: tuple, kwargs: dict, out: Any) -> int:
        return per_output * _numel(out)

    return count


def _formulas() -> dict[str, Formula]:
    table: dict[str, Formula] = {}
    for packet, formula in flop_counter.flop_registry.items():
        name = packet.__name__
        if "backward" not in name and not getattr(formula, "_get_raw", False):
            table[name] = _halved(formula)
    for name in ("_scaled_dot_product_flash_attention_for_cpu",
                 "_scaled_dot_product_flash_attention", "_scaled_dot_product_efficient_attention",
                 "_scaled_dot_product_cudnn_attention", "_scaled_dot_product_attention_math",
                 "scaled_dot_product_attention"):
        table[name] = _sdpa
    table["native_batch_norm"] = table["batch_norm"] = _batch_norm
    table["_native_batch_norm_legit_no_training"] = _batch_norm_no_training
    table["_native_batch_norm_legit"] = _batch_norm
    table["native_layer_norm"] = table["layer_norm"] = _norm(2)
    table["native_group_norm"] = table["group_norm"] = _norm(1)
    table["_fused_rms_norm"] = table["rms_norm"] = _norm(2)
    for name in _ELEMENTWISE:
        table[name] = _elementwise
    for name in _REDUCTIONS:
        table[name] = _reduction
    for name in _WINDOWED_POOLS:
        table[name] = _windowed_pool(int(name.split("_pool")[1][0]))
    for name in ("_softmax", "_safe_softmax", "_log_softmax", "softmax", "log_softmax"):
        table[name] = _softmax
    for name in ("upsample_bilinear2d", "_upsample_bilinear2d_aa", "upsample_linear1d",
                 "grid_sampler_2d"):
        table[name] = _resize(4)
    for name in ("upsample_nearest2d", "_upsample_nearest_exact2d", "upsample_nearest1d"):
        table[name] = _resize(1)
    table["upsample_bicubic2d"] = _resize(16)
    return table


FORMULAS: dict[str, Formula] = _formulas()


def _op_name(func: Any) -> str:
    name = func._overloadpacket.__name__
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]  # in-place variant (add_, relu_) costs what the op costs
    return name


class OpCounter(TorchDispatchMode):
    """Counts the flops of every aten op run inside it (see the module docstring).

    Attributes:
        flops: flops counted so far.
        uncounted: ops with no formula that are not free → calls (`aten::NAME`).

    Example:
        >>> layer = nn.Linear(4, 3)
        >>> with torch.no_grad(), OpCounter() as counter:
        ...     _ = layer(torch.zeros(2, 4)).relu()
        >>> counter.flops, counter.uncounted
        (30, Counter())
    """

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0
        self.uncounted: Counter[str] = Counter()

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Counting never runs under torch.compile; saying so keeps torch from wrapping
        # __torch_dispatch__ in a dynamo guard whose first call imports torch._dynamo and
        # sympy (~1 s of start-up). Read once, at class creation, by TorchDispatchMode.
        return False

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = _op_name(func)
        if name not in FORMULAS and name not in FREE_OPS:
            decomposed = func.decompose(*args, **kwargs)  # as FlopCounterMode does
            if decomposed is not NotImplemented:
                return decomposed
        out = func(*args, **kwargs)
        formula = FORMULAS.get(name)
        if formula is not None:
            self.flops += int(formula(args, kwargs, out))
        elif name not in FREE_OPS and not name.startswith(("sym_", "_to_", "is_")):
            self.uncounted[f"aten::{name}"] += 1
        return out


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """One batch-1 pass of mostly small ops gains little from intra-op threads, and loses a
    lot when another process holds a core (thread barriers then stall: 10x slower on DenseNet).
    Tracing, shape propagation and counting all run under this policy.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def counting() -> Iterator[OpCounter]:
    """`OpCounter` in inference conditions: no grad, one thread, no fused MHA fast path.

    PyTorch's `nn.MultiheadAttention` fast path is one fused op without a formula; with it
    off, attention runs as projections plus scaled dot-product attention, which are counted.
    """
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), one_thread(), OpCounter() as counter:
            yield counter
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


def count(module: nn.Module, x: torch.Tensor) -> tuple[int, dict[str, int]]:
    """Flops of one call `module(x)` (see the module docstring), and the ops not counted.

    Args:
        module: any module taking one tensor; it runs as it is (set eval mode first).
        x: its input.

    Returns:
        (flops, uncounted ops → calls).

    Example:
        >>> count(nn.Conv2d(1, 1, 3, bias=False), torch.zeros(1, 1, 5, 5))
        (81, {})
    """
    with counting() as counter:
        module(x)
    return counter.flops, dict(counter.uncounted)
