"""Compiled multi-task model → ONNX file, checked by `onnx.checker` and by onnxruntime.

The graph has one input, named as in the spec, and one output per task in task order, with a
dynamic batch axis (`batch`) on all of them. Each shared node of a tree is one set of ops in
the graph: the exporter traces `forward`, which computes every node once.

Why the TorchScript exporter (`dynamo=False`): torch ≥ 2.9 defaults to the torch.export-based
exporter, which needs `onnxscript`. Both give the same graph (same Conv count, parity within
1e-5 on ResNet34), but on 2 idle CPU cores the dynamo path takes 2–3 s for the small CoNAL
convnet and ~9 s for the ResNet34 tree (TorchScript: 0.1–0.2 s and ~1.2 s), it needs two more
packages (onnxscript, onnx-ir), and its `dynamo=True` keyword does not exist before torch 2.5
while `pyproject.toml` allows 2.2. What the TorchScript path warns about is either known (its
own deprecation notice, dropped here by exact message) or is exactly what verification checks:
a `TracerWarning` says a Python value read from a tensor (a head comparing feature and input
sizes) is frozen into the graph and might not generalise to other inputs. Only the batch axis
is dynamic, and onnxruntime is compared with PyTorch at two batch sizes, so a frozen value that
mattered would fail verification. Such warnings are kept in `ExportReport.trace_warnings`; the
CLI shows them with --no-verify. When torch removes the TorchScript exporter, switch `_trace`
to `dynamo=True` (and add `onnxscript` to the dependencies).

Writes are atomic and happen only after every check passed: a failed export or a failed
verification leaves any earlier file at the path untouched (see `mtlspec.io.write_atomic`).

The exporter stores identical initializers once. A freshly compiled tree (or one built with
`init backbone`) holds identical copies of each block, so its file is smaller than a trained
one's, and onnxruntime may merge its identical branches: time trained weights, not these.
"""

from __future__ import annotations

import inspect
import io
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mtlspec import __version__
from mtlspec.errors import CheckFailed, MtlspecError
from mtlspec.io import write_atomic

DEFAULT_OPSET = 17  # pinned, not torch's default, so a torch upgrade does not change the file
RTOL = 1e-3  # relative to the largest |output| of the task: folded BatchNorm changes rounding
ATOL = 1e-5
# A float16 model is compared with the same weights in float32 (the math it approximates):
# float16 keeps ~3 significant digits, and rounding grows with depth (ResNet34 at 288×384:
# ~0.2% of max |output| in PyTorch's own float16, 0.05% in onnxruntime's), so 1% is the bar.
TOLERANCES = {torch.float32: (RTOL, ATOL), torch.float16: (1e-2, 1e-3)}
# The TorchScript exporter's own deprecation notices (torch ≥ 2.9), reviewed: see above.
_KNOWN = ("You are using the legacy TorchScript-based ONNX export", "The feature will be removed")
METADATA_SPEC = "mtlspec.spec"
METADATA_VERSION = "mtlspec.version"
METADATA_TASKS = "mtlspec.tasks"


@dataclass(frozen=True)
class Parity:
    """onnxruntime against PyTorch (eval mode) for one task at one batch size."""

    task: str
    batch: int
    max_abs_diff: float  # max |onnxruntime − PyTorch| over the output (inf: shapes differ)
    max_abs_output: float  # max |PyTorch output|, the scale the tolerance is relative to
    tolerance: float  # ATOL + RTOL × max_abs_output

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance  # False for NaN too


@dataclass
class ExportReport:
    """What `export` wrote and how it was checked.

    Attributes:
        path: the file written; None when nothing was written (verification failed).
        parity: one entry per (batch size, task); empty with `verify=False`.
        trace_warnings: the tracer's warnings, deduplicated (see the module docstring).
    """

    path: Path | None
    opset: int
    input_name: str
    input_shape: tuple[int, ...]
    outputs: list[str]
    size_bytes: int
    conv_nodes: int
    export_seconds: float
    input_dtype: str = "float32"  # the graph's input and output element type
    verify_seconds: float = 0.0
    parity: list[Parity] = field(default_factory=list)
    trace_warnings: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return bool(self.parity)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.parity)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = None if self.path is None else str(self.path)
        data["verified"], data["ok"] = self.verified, self.ok
        for row, parity in zip(data["parity"], self.parity, strict=True):
            row["ok"] = parity.ok
        return data

    def parity_table(self) -> str:
        """The parity checks as a plain-text table (also shown when verification fails)."""
        rtol, atol = TOLERANCES[getattr(torch, self.input_dtype)]
        versus = "onnxruntime vs PyTorch (eval)" if self.input_dtype == "float32" else \
            f"onnxruntime ({self.input_dtype}) vs PyTorch (eval, float32 math on its weights)"
        lines = [f"{versus}, tolerance {atol:g} + {rtol:g} × max |output|:",
                 f"  {'task':<16} {'batch':>5} {'max |diff|':>11} {'max |out|':>11} "
                 f"{'tolerance':>11}  ok"]
        for p in self.parity:
            lines.append(f"  {p.task:<16} {p.batch:>5} {p.max_abs_diff:>11.3g} "
                         f"{p.max_abs_output:>11.3g} {p.tolerance:>11.3g}  "
                         f"{'yes' if p.ok else 'NO'}")
        return "\n".join(lines)


class ParityFailed(CheckFailed):
    """onnxruntime disagrees with PyTorch (exit 1); carries the report, nothing was written."""

    def __init__(self, report: ExportReport, path: Path) -> None:
        bad = sorted({p.task for p in report.parity if not p.ok})
        super().__init__(f"ONNX export of {path} does not match PyTorch for {', '.join(bad)}; "
                         f"{path} was not written")
        self.report = report

    def render(self) -> str:
        return f"{self.report.parity_table()}\nerror: {self}"


def export(model: nn.Module, path: str | Path, *, opset: int | None = None, verify: bool = True,
           spec_text: str | None = None, batches: tuple[int, ...] | None = None,
           seed: int = 0) -> ExportReport:
    """Export a compiled model to ONNX, check it, compare onnxruntime with PyTorch, write it.

    Args:
        model: a compiled model (`mtlspec.compile.compile`): has `spec` and `task_names`, and
            `forward(x)` returns {task: tensor}. It is exported in eval mode; its mode is
            restored afterwards.
        path: the .onnx file; replaced atomically, and only when every check passed.
        opset: ONNX opset (default `DEFAULT_OPSET`).
        verify: compare onnxruntime with PyTorch on random inputs for every task.
        spec_text: the spec text stored in the metadata (default: the canonical form of
            `model.spec`).
        batches: batch sizes to verify at (default: the spec's batch size and one more,
            which proves the batch axis is dynamic).
        seed: seed of the random inputs.

    Returns:
        The report (path, opset, sizes, parity per task and batch, timings).

    Raises:
        MtlspecError: the model cannot be traced or exported, or the file cannot be written.
        CheckFailed: `onnx.checker` rejects the graph; `ParityFailed` (a CheckFailed) when
            onnxruntime disagrees with PyTorch (the file is then not written).

    Example:
        >>> import tempfile
        >>> from mtlspec import load_model
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     report = export(load_model("specs/conal_multidigits.mtl"), f"{folder}/m.onnx")
        >>> report.verified, report.outputs
        (True, ['left', 'right', 'parity'])
    """
    path = Path(path)
    spec, tasks = _spec_and_tasks(model)
    _check_opset(opset or DEFAULT_OPSET)
    dtype = _model_dtype(model)
    shape = tuple(spec.input.shape)
    mode = model.training
    wrapper = _TaskTuple(model, tasks).eval()  # eval() reaches the model too
    report = ExportReport(None, opset or DEFAULT_OPSET, spec.input.name, shape, list(tasks),
                          0, 0, 0.0, input_dtype=str(dtype).removeprefix("torch."))
    checked = (batches or (shape[0], shape[0] + 1)) if verify else ()
    try:
        blob = _build(wrapper, report, spec_text if spec_text is not None else _text(spec),
                      checked, seed)
    finally:
        model.train(mode)
    if not report.ok:
        raise ParityFailed(report, path)
    write_atomic(path, blob)
    report.path = path
    return report


def _build(wrapper: nn.Module, report: ExportReport, spec_text: str, batches: tuple[int, ...],
           seed: int) -> bytes:
    """Trace, verify at `batches` (none: skip), finish the graph; fill in `report`."""
    start = time.perf_counter()
    dtype = getattr(torch, report.input_dtype)
    example = torch.zeros(report.input_shape, dtype=dtype)
    blob, report.trace_warnings = _trace(wrapper, example, report.input_name,
                                         tuple(report.outputs), report.opset)
    report.export_seconds = time.perf_counter() - start
    if batches:
        start = time.perf_counter()
        report.parity, out_shapes = _compare(wrapper, blob, report.input_name,
                                             tuple(report.outputs), report.input_shape,
                                             batches, seed, dtype)
        report.verify_seconds = time.perf_counter() - start
    else:  # the output sizes the graph declares come from one PyTorch run
        with torch.no_grad():
            out_shapes = [tuple(t.shape) for t in wrapper(example)]
    start = time.perf_counter()
    blob, report.conv_nodes = _finish(blob, spec_text, tuple(report.outputs), out_shapes)
    report.size_bytes = len(blob)
    report.export_seconds += time.perf_counter() - start
    return blob


def _model_dtype(model: nn.Module) -> torch.dtype:
    """The compiled model's dtype, if onnxruntime can run it on the CPU (verification)."""
    dtypes = {p.dtype for p in model.parameters()} or {torch.float32}
    if len(dtypes) > 1:
        raise MtlspecError(f"the model mixes parameter types ({', '.join(map(str, dtypes))}); "
                           "export needs one")
    (dtype,) = dtypes
    if dtype == torch.bfloat16:
        raise MtlspecError(
            "cannot build a bfloat16 ONNX model: onnxruntime's CPU provider has no bfloat16 "
            "convolution, so the graph could neither be verified nor run on a CPU\n"
            "hint: declare the input as `float16` (half-precision ONNX for edge devices) or "
            "`float`; bfloat16 specs still compile and train in PyTorch")
    if dtype not in TOLERANCES:
        raise MtlspecError(f"cannot export a {dtype} model to ONNX (float32 or float16)")
    return dtype


def _spec_and_tasks(model: nn.Module) -> tuple[Any, tuple[str, ...]]:
    spec, tasks = getattr(model, "spec", None), getattr(model, "task_names", None)
    if spec is None or not tasks:
        raise MtlspecError("export needs a compiled mtlspec model (with `spec` and `task_names`)")
    return spec, tuple(tasks)


def _check_opset(opset: int) -> None:
    """Refuse an opset the TorchScript exporter lacks before it runs: on failure it dumps its
    whole IR graph to stderr (torch's ONNX log is always on)."""
    try:
        from torch.onnx import _constants  # private; the range moves with torch versions

        low = _constants.ONNX_MIN_OPSET
        high = getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", _constants.ONNX_MAX_OPSET)
    except (ImportError, AttributeError):
        return  # let the exporter decide
    if not low <= opset <= high:
        raise MtlspecError(f"opset {opset} is not supported by torch {torch.__version__}'s ONNX "
                           f"exporter; use {low} to {high} (default {DEFAULT_OPSET})")


def _text(spec: Any) -> str:
    from mtlspec.spec import format as format_spec

    return format_spec(spec)


class _TaskTuple(nn.Module):
    """The model with a tuple output in task order (what tracers want), in eval mode."""

    def __init__(self, model: nn.Module, tasks: tuple[str, ...]) -> None:
        super().__init__()
        self.model = model
        self.tasks = tasks

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(x)
        return tuple(out[t] for t in self.tasks)


def _trace(wrapper: nn.Module, example: torch.Tensor, input_name: str, tasks: tuple[str, ...],
           opset: int) -> tuple[bytes, list[str]]:
    """Trace to ONNX bytes with the TorchScript exporter; return its tracer warnings."""
    buffer = io.BytesIO()
    kwargs: dict[str, Any] = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # why not dynamo: see the module docstring
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with torch.no_grad():
                torch.onnx.export(
                    wrapper, (example,), buffer, opset_version=opset,
                    input_names=[input_name], output_names=list(tasks),
                    dynamic_axes={name: {0: "batch"} for name in (input_name, *tasks)},
                    do_constant_folding=True, **kwargs)
        except Exception as err:  # an op with no ONNX symbolic, a data-dependent shape, ...
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise MtlspecError(f"cannot export to ONNX (opset {opset}): "
                               f"{type(err).__name__}: {first}") from None
    return buffer.getvalue(), _tracer_warnings(caught)


def _tracer_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """Tracer warnings worth keeping, deduplicated; the exporter's deprecation notice is not."""
    kept: dict[str, None] = {}
    for w in caught:
        if issubclass(w.category, DeprecationWarning) and str(w.message).startswith(_KNOWN):
            continue
        if issubclass(w.category, torch.jit.TracerWarning):
            kept[f"{Path(w.filename).name}:{w.lineno}: {w.message}"] = None
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return list(kept)


def _finish(blob: bytes, spec_text: str, tasks: tuple[str, ...],
            out_shapes: list[tuple[int, ...]]) -> tuple[bytes, int]:
    """Add output shapes and metadata, run the full checker; return the bytes and Conv count."""
    import onnx

    proto = onnx.load_from_string(blob)
    _static_outputs(proto, out_shapes)
    for key, value in ((METADATA_SPEC, spec_text), (METADATA_VERSION, __version__),
                       (METADATA_TASKS, ",".join(tasks))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as err:  # ValidationError, InferenceError: the graph itself is wrong
        raise CheckFailed(f"onnx.checker rejects the exported graph: {err}") from None
    try:
        data = proto.SerializeToString()
    except ValueError as err:  # protobuf's 2 GB limit
        raise MtlspecError(f"the ONNX model is too large to serialise: {err}") from None
    return data, sum(node.op_type == "Conv" for node in proto.graph.node)


def _static_outputs(proto: Any, shapes: list[tuple[int, ...]]) -> None:
    """Declare each output's non-batch sizes (the tracer leaves names like `Resizea_dim_1`).

    Only the batch axis is dynamic and the model works per sample, so every other size is the
    one PyTorch produced at the example shape; verification checks shapes at two batch sizes.
    """
    for value, shape in zip(proto.graph.output, shapes, strict=True):
        dims = value.type.tensor_type.shape.dim
        if len(dims) != len(shape):
            continue  # not expected; leave the tracer's declaration as it is
        for dim, size in zip(list(dims)[1:], shape[1:], strict=True):
            dim.Clear()
            dim.dim_value = size


def _compare(wrapper: nn.Module, blob: bytes, input_name: str, tasks: tuple[str, ...],
             shape: tuple[int, ...], batches: tuple[int, ...], seed: int,
             dtype: torch.dtype = torch.float32,
             ) -> tuple[list[Parity], list[tuple[int, ...]]]:
    """Run onnxruntime and PyTorch on the same random inputs: one Parity per task and batch,
    and PyTorch's output shapes at the first batch size. A float16 graph is compared with the
    float32 math of its own weights (see `TOLERANCES`)."""
    import copy

    import numpy as np
    import onnxruntime as ort

    reference = wrapper if dtype == torch.float32 else copy.deepcopy(wrapper).float()
    rtol, atol = TOLERANCES[dtype]
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: ORT's info lines are noise on a terminal
    options.intra_op_num_threads = torch.get_num_threads()  # same threads as PyTorch uses
    session = ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    result: list[Parity] = []
    shapes: list[tuple[int, ...]] = []
    for batch in batches:
        x = torch.randn((batch, *shape[1:]), generator=generator).to(dtype)
        with torch.no_grad():
            expected = [t.float().numpy() for t in reference(x.float())]
        shapes = shapes or [want.shape for want in expected]
        got = session.run(list(tasks), {input_name: x.numpy()})
        for task, want, have in zip(tasks, expected, got, strict=True):
            have = have.astype(np.float32)
            scale = float(np.max(np.abs(want))) if want.size else 0.0
            diff = (float(np.max(np.abs(have - want))) if have.shape == want.shape and want.size
                    else (0.0 if have.shape == want.shape else float("inf")))
            result.append(Parity(task, batch, diff, scale, atol + rtol * scale))
    return result, shapes
