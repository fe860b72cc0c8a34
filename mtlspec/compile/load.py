"""One way from a spec to a model: read it, validate it, compile it, load its weights.

`load_model` is what the command line, the pytest plugin, the plan runner and the recommender
call (and what `mtlspec.load_model` names), like timm's `create_model`: whatever the spec is
given as (a file, spec text, a parsed document or the IR), the result is the compiled
`nn.Module` with `spec` and `task_names`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mtlspec.spec import Document, load, parse_document, validate
from mtlspec.spec.ir import AnySpec, DagSpec, GroupingSpec, TreeSpec

SpecSource = str | Path | Document | AnySpec
_IR = (TreeSpec, DagSpec, GroupingSpec)


def is_spec_text(source: object) -> bool:
    """Whether a string is spec text rather than a path: spec text always holds a `{`.

    Example:
        >>> is_spec_text("specs/nyuv2_dag.mtl"), is_spec_text("model m { ... }")
        (False, True)
    """
    return isinstance(source, str) and ("{" in source or "\n" in source)


def load_document(source: str | Path | Document) -> Document:
    """A parsed spec from a path (`-`: standard input), spec text or a `Document`.

    Raises:
        SpecError, SpecErrors: unreadable file or a syntax error (located).

    Example:
        >>> load_document("specs/nyuv2_dag.mtl").spec.name
        'nyuv2_dag'
    """
    if isinstance(source, Document):
        return source
    if is_spec_text(source):
        return parse_document(str(source))
    return load(source)


def spec_folder(document: Document) -> Path:
    """The folder a spec's relative paths (weights) are read from: the spec file's own folder,
    or the working folder for standard input and text.

    Example:
        >>> spec_folder(load_document("specs/nyuv2_dag.mtl")).as_posix()
        'specs'
    """
    name = document.filename
    return Path(".") if name.startswith("<") else Path(name).parent


def load_model(source: SpecSource, *, allow_import: bool = False,
               weights: str | Path | None = None, base_dir: str | Path | None = None,
               seed: int | None = None, dtype: torch.dtype | None = None) -> nn.Module:
    """Read, validate and compile a spec of any kind; optionally load trained weights.

    Args:
        source: a spec file's path (`-` for standard input), spec text, a `Document` (from
            `mtlspec.spec.load`) or a spec's IR.
        allow_import: allow a `"pkg.module:callable"` backbone (imports and runs that code).
        weights: a state dict of the whole model (`mtlspec train -o`), read with
            `weights_only=True`.
        base_dir: the folder relative weight paths inside the spec are read from (default:
            the spec file's folder; the working folder for text and IR).
        seed: seed torch before the modules are built, so the initial weights depend on it
            only (None: torch's RNG as it is).
        dtype: the parameters' dtype (default: the spec input's; training passes float32 to
            keep float32 master weights, see `mtlspec.compile.compile`).

    Returns:
        The compiled model: `forward(x)` returns `{task: tensor}`; it carries `spec` and
        `task_names`.

    Raises:
        SpecError, SpecErrors: the spec does not parse or validate.
        MtlspecError: the spec cannot be built, or the weights are missing or do not fit.

    Example:
        >>> import torch
        >>> model = load_model("specs/conal_multidigits.mtl", seed=0)
        >>> model.task_names
        ['left', 'right', 'parity']
        >>> {t: tuple(y.shape) for t, y in model(torch.zeros(2, 1, 8, 16)).items()}
        {'left': (2, 10), 'right': (2, 10), 'parity': (2, 2)}
    """
    from mtlspec.compile import compile
    from mtlspec.compile.tree import load_state

    if isinstance(source, _IR):
        spec, folder = validate(source), Path(".")
    else:
        document = load_document(source)
        spec, folder = validate(document), spec_folder(document)
    if seed is not None:
        torch.manual_seed(seed)
    model = compile(spec, base_dir=folder if base_dir is None else base_dir,
                    allow_import=allow_import, dtype=dtype)
    if weights is not None:
        load_state(model, Path(weights))
    return model
