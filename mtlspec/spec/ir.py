"""The spec IR: frozen pydantic models, one discriminated union over the three spec kinds.

The IR is what every stage exchanges: the parser produces it, validation checks it, the
formatter prints it, the compiler builds models from it, and searches emit it (as JSON or as
spec text). It holds no source positions: those live in a side table (`Document.spans`)
keyed by IR path, so two IRs that mean the same architecture compare equal.

Sets are frozensets wherever order carries no meaning (the tasks a layout group holds, the
groups of a layout row, a topology's edges), so `{a, b}` and `{b, a}` give one IR; the
formatter prints them in task declaration order. Task declaration order itself is kept: it is
the output order of the compiled model.
"""

from __future__ import annotations

import functools
from typing import Annotated, Literal, TypeAlias, Union

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter
from typing_extensions import TypeAliasType

# A keyword-argument value in a spec: number, string, boolean, or a list of values.
Value = TypeAliasType("Value", Union[bool, int, float, str, tuple["Value", ...]])  # noqa: UP007



def _sorted(value):
    """Sets as sorted lists (recursively), so equal IRs always give the same JSON."""
    if isinstance(value, frozenset | set):
        return sorted(_sorted(v) for v in value)  # one set holds one type: comparable
    if isinstance(value, tuple | list):
        return [_sorted(v) for v in value]
    return value


_AS_SORTED = PlainSerializer(_sorted, when_used="json")
TaskSet: TypeAlias = Annotated[frozenset[str], _AS_SORTED]
StateSet: TypeAlias = Annotated[frozenset[int], _AS_SORTED]
EdgeSet: TypeAlias = Annotated[frozenset[tuple[int, int]], _AS_SORTED]
Row: TypeAlias = Annotated[frozenset[frozenset[str]], _AS_SORTED]


class Node(BaseModel):
    """Base of every IR node: immutable, no unknown fields. Validators are built on first use
    (`defer_build`): the parser constructs nodes directly, so parsing never builds them."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Call(Node):
    """A head or op with keyword arguments, e.g. `aspp(classes=13, rates=[6, 12])`."""

    name: str
    args: dict[str, Value] = Field(default_factory=dict)


class TensorInput(Node):
    """The model input: `input image: float[1, 3, 224, 224]` (batch first)."""

    name: str
    dtype: str = "float"
    shape: tuple[int, ...]


class AutoBlocks(Node):
    """`blocks: auto` (every detected block) or `blocks: auto(K)` (K MACs-balanced blocks)."""

    kind: Literal["auto"] = "auto"
    count: int | None = None


class CutAfter(Node):
    """`blocks: [layer1, layer2.1, layer3]`: cut the backbone after these modules/nodes."""

    kind: Literal["after"] = "after"
    after: tuple[str, ...]


BlockSelection = Annotated[AutoBlocks | CutAfter, Field(discriminator="kind")]


class Backbone(Node):
    """A backbone reference: a registered name or `"pkg.module:callable"` (user code).

    User code is imported only when the user allows it (`mtlspec.usercode`); `allow_import`
    here documents intent and grants nothing.
    """

    ref: str
    args: dict[str, Value] = Field(default_factory=dict)
    blocks: BlockSelection = Field(default_factory=AutoBlocks)
    allow_import: bool = False

    @property
    def block_count(self) -> int | None:
        """The number of blocks, when the spec fixes it without running the detector."""
        if isinstance(self.blocks, CutAfter):
            return len(self.blocks.after) + 1
        return self.blocks.count


class Task(Node):
    """One task and its head: `segment: head aspp(classes=13)`."""

    name: str
    head: Call


class Latency(Node):
    """A latency limit and how it is measured: `latency_ms <= 12 @ ort-cpu batch 1`.

    The median time of one forward pass of the exported model (`runtime`: onnxruntime on the
    CPU) on `batch` inputs, with `threads` intra-op threads (None: the runtime's default).
    Machine-dependent by nature: `mtlspec check` names the machine it measured on.
    """

    ms: float
    runtime: str = "ort-cpu"
    batch: int = 1
    threads: int | None = None


class Budget(Node):
    """Limits `mtlspec check` enforces.

    `gmacs` is compute in 10^9 multiply-accumulates, fvcore's convention (one multiply-add
    counts once; spec text and IR JSON also accept the older name `gflops`, same meaning).
    `units` counts cost in single-task networks, TreeMTL's "N models" budget: for a tree, its
    MACs ÷ the MACs of one task's own backbone-plus-head; for a grouping, Σ network widths.
    `latency_ms` is measured, not counted (see `Latency`).
    """

    gmacs: float | None = Field(default=None, validation_alias=AliasChoices("gmacs", "gflops"))
    params: int | None = None
    units: float | None = None
    latency_ms: Latency | None = None


class TreeSpec(Node):
    """A tree-structured multi-task model over B sequential backbone blocks.

    `layout[i]` is the partition of the tasks at block i+1: each group shares one copy of
    that block. Each row refines the row above (groups only split as depth grows).
    """

    kind: Literal["model"] = "model"
    name: str
    input: TensorInput
    backbone: Backbone
    tasks: tuple[Task, ...]
    layout: tuple[Row, ...]
    budget: Budget | None = None
    init: str | None = None
    weights: str | None = None


class Central(Node):
    """The DAG's central network: N hidden states, edges i→j allowed for 0 < j−i ≤ flow."""

    states: int
    flow: int
    stem: Call
    edge: Call


class Topology(Node):
    """One task's sub-graph of the central network (states numbered 1..N)."""

    task: str
    read_in: StateSet
    edges: EdgeSet = frozenset()
    read_out: StateSet


class DagSpec(Node):
    """Per-task topologies over a shared central network of hidden states."""

    kind: Literal["dag"] = "dag"
    name: str
    input: TensorInput
    central: Central
    tasks: tuple[Task, ...]
    topologies: tuple[Topology, ...]
    budget: Budget | None = None


class Network(Node):
    """One network of a grouping spec: trained on `trains`, used at inference for `serves`."""

    name: str
    backbone: str
    args: dict[str, Value] = Field(default_factory=dict)
    width: float = 1.0
    trains: TaskSet
    serves: TaskSet


class GroupingSpec(Node):
    """Several networks, each trained on a task subset, each serving some of its tasks."""

    kind: Literal["grouping"] = "grouping"
    name: str
    input: TensorInput
    tasks: tuple[Task, ...]
    networks: tuple[Network, ...]
    budget: Budget | None = None


Spec = Annotated[TreeSpec | DagSpec | GroupingSpec, Field(discriminator="kind")]
AnySpec: TypeAlias = TreeSpec | DagSpec | GroupingSpec



@functools.cache
def _adapter() -> TypeAdapter[AnySpec]:
    # Built on first use: validating a spec file never needs it, and it costs start-up time.
    return TypeAdapter(Spec)


def from_json(data: str | bytes) -> AnySpec:
    """Read an IR from JSON text (as written by `to_json` or by a search run).

    Raises:
        pydantic.ValidationError: the JSON does not describe a spec.
    """
    return _adapter().validate_json(data)


def to_json(spec: AnySpec, *, indent: int | None = 2) -> str:
    """The IR as JSON text (sets become sorted arrays: equal IRs give equal JSON)."""
    return _adapter().dump_json(spec, indent=indent).decode()


def json_schema() -> dict:
    """JSON Schema of the IR (what `mtlspec schema` prints)."""
    return _adapter().json_schema()


def task_names(spec: AnySpec) -> tuple[str, ...]:
    """The spec's task names in declaration order (= the compiled model's output order)."""
    return tuple(task.name for task in spec.tasks)


def require_kind(spec: AnySpec, kind: str, needed_by: str, where: str | None = None) -> None:
    """Refuse a spec of another kind than a stage needs (a search's base spec, say).

    Args:
        spec: the spec given.
        kind: the kind needed: `model` (a tree), `dag` or `grouping`.
        needed_by: who needs it and for what, ending before "a ... spec" (e.g. "CoNAL needs
            its backbone and heads from").
        where: the file it came from, to start the message with.

    Raises:
        MtlspecError: `spec` is of another kind.

    Example:
        >>> from mtlspec.spec import load
        >>> require_kind(load("specs/nyuv2_dag.mtl").spec, "model", "CoNAL needs")
        Traceback (most recent call last):
        ...
        mtlspec.errors.MtlspecError: `nyuv2_dag` is a dag spec; CoNAL needs a model (tree) spec
    """
    if spec.kind == kind:
        return
    from mtlspec.errors import MtlspecError

    label = "model (tree)" if kind == "model" else kind
    prefix = f"{where}: " if where else ""
    raise MtlspecError(f"{prefix}`{spec.name}` is a {spec.kind} spec; {needed_by} a {label} spec")
