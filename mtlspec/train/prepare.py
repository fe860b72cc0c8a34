"""Fit a compiled spec to the data it is about to train on (every training entry calls it).

The spec's heads must suit the data set's tasks (`mtlspec.data.spec_check.check_spec`); when
the data's images have another size than the spec's input, the dense heads predict at the
data's size (heads hold no size-dependent weights, so the state dict still loads into the
model compiled from the spec, e.g. for `mtlspec build --weights`).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from mtlspec.compile.heads import set_output_size
from mtlspec.data.protocol import DataSplits
from mtlspec.data.spec_check import check_spec


def fit_to_data(spec: Any, model: nn.Module | None, data: DataSplits) -> dict[str, Any] | None:
    """Check `spec` against `data`, then make `model`'s dense heads predict at the data's size.

    Args:
        spec: a `Document` (located errors) or a bare tree/DAG spec.
        model: its compiled model (None: only check).
        data: the splits it will train on.

    Returns:
        {"spec": [C, H, W], "data": [C, H, W]} when the sizes differ, else None.

    Raises:
        SpecError, SpecErrors: a task the data lacks, a head unfit for its task, channels.

    Example:
        >>> from mtlspec import load_model
        >>> from mtlspec.data import load_data
        >>> data = load_data("multidigits", train_size=4, val_size=2, test_size=2)
        >>> from mtlspec.spec import load
        >>> fit_to_data(load("specs/conal_multidigits.mtl"), None, data) is None
        True
    """
    check_spec(spec, data.tasks, data_name=data.name, input_shape=data.input_shape)
    ir_spec = getattr(spec, "spec", spec)
    spec_shape = tuple(ir_spec.input.shape[1:])
    data_shape = tuple(data.input_shape)
    if spec_shape == data_shape:
        return None
    if model is not None:
        set_output_size(model, data_shape[-2:])
    return {"spec": list(spec_shape), "data": list(data_shape)}
