"""mtlspec: multi-task learning architectures as declarative specs.

The pipeline flows one way: spec text → IR → blocks → model → cost/export.
Importing this package is cheap: nothing here pulls in torch; `mtlspec.load_model` (spec →
compiled model, `mtlspec.compile.load.load_model`) imports it on first use.

    >>> import mtlspec
    >>> mtlspec.load_model("specs/nyuv2_dag.mtl").task_names
    ['segment', 'normal', 'depth']
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_model"]


def __getattr__(name: str) -> Any:
    if name == "load_model":  # torch loads here, not on `import mtlspec`
        from mtlspec.compile.load import load_model

        return load_model
    raise AttributeError(f"module 'mtlspec' has no attribute {name!r}")
