"""Loss weighting and gradient aggregation: 24 methods behind one interface.

`make_weighting(name, **options)` builds one (`METHODS` lists them; `mtlspec weightings` prints
them with papers and options); `mtlspec.train.step.Stepper` runs a training step with it.

- base: the `Weighting` interface, learnable-parameter support, conflict statistics.
- solver: MGDA's exact min-norm solver (Wolfe) and its gradient normalisations.
- loss: methods on the losses alone (uniform, fixed, RLW, UW, DWA, GLS, IMTL-L, FAMO).
- norm: gradient-magnitude balancing (GradNorm, DB-MTL).
- gradient: MGDA / MGDA-UB and torchjd's Gramian weightings (PCGrad, GradVac, IMTL-G, IMTL,
  CAGrad, Aligned-MTL, UPGrad, DualProj, FairGrad).
- matrix: ConFIG, Nash-MTL (on a factor of the Gram matrix) and GradDrop (on the gradients).
- registry: the names, `make_weighting`, `describe`.

Example:
    >>> w = make_weighting("upgrad", rep_grad="true")
    >>> w.kind, w.requires
    ('gradient', 'representation')
"""

from mtlspec.train.weighting.base import Weighting, cosine_stats
from mtlspec.train.weighting.registry import METHODS, WEIGHTINGS, describe, make_weighting
from mtlspec.train.weighting.solver import (
    NORMALIZATIONS,
    MinNormResult,
    gradient_normalizers,
    min_norm,
    min_norm_solve,
)

__all__ = [
    "METHODS", "NORMALIZATIONS", "WEIGHTINGS", "MinNormResult", "Weighting", "cosine_stats",
    "describe", "gradient_normalizers", "make_weighting", "min_norm", "min_norm_solve",
]
