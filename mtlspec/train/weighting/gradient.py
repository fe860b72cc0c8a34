"""Gradient-based methods: MGDA (mtlspec's exact min-norm solver) and torchjd's aggregators.

Every method here turns the task gradients into loss weights, so all of them run on the shared
parameters' gradients or — with rep_grad — on the shared representation's (MGDA-UB style).
torchjd's Gramian weightings take the T×T Gram matrix the step computes. The methods that need
more than that are in `matrix`: ConFIG, Nash-MTL (a factor of the Gram matrix), GradDrop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from typing import Any, ClassVar

import numpy as np
import torch

from mtlspec.errors import MtlspecError
from mtlspec.train.weighting.base import GradientWeighting, Learned, need_gram
from mtlspec.train.weighting.solver import NORMALIZATIONS, gradient_normalizers, min_norm

CVXPY = ("cvxpy", "clarabel", "ecos")


def torchjd_aggregation() -> Any:
    """torchjd's aggregation module, imported when a method needs it (it imports cvxpy when
    that is installed, a second of start-up that loss-based runs need not pay)."""
    from torchjd import aggregation

    return aggregation


def require(method: str, modules: Sequence[str], extra: str) -> None:
    """Raise a clear error when an optional dependency of a method is not installed.

    Raises:
        MtlspecError: a module is missing; the message names the pip extra that brings it.
    """
    missing = [m for m in modules if find_spec(m) is None]
    if missing:
        raise MtlspecError(f"weighting {method} needs {', '.join(missing)}, which is not "
                           f"installed; install the extra: pip install 'mtlspec[{extra}]'")


def gram_factor(gram: np.ndarray) -> torch.Tensor:
    """A T×T matrix L with L Lᵀ = gram (float64): rows with the gradients' inner products."""
    values, vectors = np.linalg.eigh((gram + gram.T) / 2)
    return torch.from_numpy(vectors * np.sqrt(np.maximum(values, 0.0)))


class MGDA(GradientWeighting):
    """MGDA: the min-norm point of the convex hull of the (normalised) task gradients.

    Sener and Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018;
    with rep_grad (the name mgda-ub) MGDA-UB, on the gradients w.r.t. the shared representation.
    Solved exactly by Wolfe's algorithm (`min_norm`). Loss weights α_t / n_t with n_t the
    normalisation (none, l2, loss, loss+; default loss+), so the update is the min-norm direction.
    Tasks with a zero gradient in a step (no label in the batch) get α = 0 and are left out.
    """

    name = "mgda"
    paper = "Sener & Koltun, NeurIPS 2018 (MGDA, MGDA-UB)"
    option_help: ClassVar[dict[str, str]] = {
        "normalization": " | ".join(NORMALIZATIONS),
        "rep_grad": "representation gradients (mgda-ub)"}

    def __init__(self, normalization: str = "loss+", rep_grad: bool = False, *,
                 max_iter: int = 1000, tol: float = 1e-12) -> None:
        super().__init__(rep_grad)
        if normalization not in NORMALIZATIONS:
            raise MtlspecError(f"unknown gradient normalization {normalization!r}; use one of "
                               f"{', '.join(NORMALIZATIONS)}")
        self.normalization = normalization
        self.max_iter, self.tol = max_iter, tol
        self.alpha: np.ndarray | None = None

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        gram = need_gram(self.name, gram)
        n = gradient_normalizers(gram, losses.double().cpu().numpy(), self.normalization)
        scaled = gram / np.outer(n, n)
        # A task without a gradient this step (no labelled item in the batch) is left out: its
        # zero vector would be the hull's min-norm point and stop every shared update.
        present = np.diag(gram) > 0
        alpha = np.zeros(len(n))
        if present.any():
            alpha[present] = min_norm(scaled[np.ix_(present, present)], max_iter=self.max_iter,
                                      tol=self.tol)
        else:
            alpha[:] = 1.0 / len(n)
        self.alpha = alpha
        return alpha / n


class _Gramian(GradientWeighting):
    """A torchjd Gramian weighting applied to the step's Gram matrix."""

    def __init__(self, weighting: Any, rep_grad: bool = False) -> None:
        super().__init__(rep_grad)
        self.jd = weighting

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        return self.jd(torch.from_numpy(need_gram(self.name, gram))).double().numpy()


class PCGrad(_Gramian):
    """PCGrad: project each gradient off the normal plane of every gradient it conflicts with.

    Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020 (torchjd's PCGrad).
    For each task i (others in random order): g_i ← g_i − (g_i·g_j / ‖g_j‖²) g_j when
    g_i·g_j < 0; the update is the sum of the projected gradients.
    """

    name = "pcgrad"
    paper = "Yu et al., NeurIPS 2020 (PCGrad)"
    option_help: ClassVar[dict[str, str]] = {"rep_grad": "representation gradients"}

    def __init__(self, rep_grad: bool = False) -> None:
        super().__init__(torchjd_aggregation().PCGradWeighting(), rep_grad)


class GradVac(_Gramian):
    """GradVac: raise each pair's cosine to an exponential average of past cosines.

    Wang et al., "Gradient Vaccine: Investigating and Improving Multi-task Optimization in
    Massively Multilingual Models", ICLR 2021 (torchjd's GradVac). With the targets at 0 (the
    first step) it is PCGrad; β = 0.5 is LibMTL's default average factor.
    """

    name = "gradvac"
    paper = "Wang et al., ICLR 2021 (GradVac)"
    option_help: ClassVar[dict[str, str]] = {"beta": "average factor of the target cosines",
                                             "rep_grad": "representation gradients"}

    def __init__(self, beta: float = 0.5, rep_grad: bool = False) -> None:
        if not 0 <= beta <= 1:
            raise MtlspecError(f"gradvac: beta must be in [0, 1], got {beta}")
        super().__init__(torchjd_aggregation().GradVacWeighting(beta=beta), rep_grad)

    def state_dict(self) -> dict[str, Any]:
        return {"phi": self.jd._phi_t}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        phi = state["phi"]
        self.jd._phi_t = None if phi is None else phi.clone()
        self.jd._state_key = None if phi is None else (phi.shape[0], phi.dtype)


class IMTLG(_Gramian):
    """IMTL-G: weights that give the update equal projections on every task's unit gradient.

    Liu et al., "Towards Impartial Multi-task Learning", ICLR 2021 (torchjd's IMTL-G, which
    also handles linearly dependent gradients). Weights sum to 1.
    """

    name = "imtl-g"
    paper = "Liu et al., ICLR 2021 (IMTL-G)"
    option_help: ClassVar[dict[str, str]] = {"rep_grad": "representation gradients"}

    def __init__(self, rep_grad: bool = False) -> None:
        super().__init__(torchjd_aggregation().IMTLGWeighting(), rep_grad)


class CAGrad(_Gramian):
    """CAGrad: the best worst-task improvement within a ball of radius c‖g₀‖ around the mean.

    Liu et al., "Conflict-Averse Gradient Descent for Multi-task Learning", NeurIPS 2021
    (torchjd's CAGrad, solved with cvxpy: needs the extra mtlspec[cvxpy]). c = 0.4 (the paper's
    NYUv2 and CityScapes setting).
    """

    name = "cagrad"
    paper = "Liu et al., NeurIPS 2021 (CAGrad)"
    extra = "cvxpy"
    option_help: ClassVar[dict[str, str]] = {"c": "radius factor c ≥ 0",
                                             "rep_grad": "representation gradients"}

    def __init__(self, c: float = 0.4, rep_grad: bool = False) -> None:
        require(self.name, CVXPY[:2], self.extra)
        if c < 0:
            raise MtlspecError(f"cagrad: c must be ≥ 0, got {c}")
        super().__init__(torchjd_aggregation().CAGradWeighting(c=c), rep_grad)


class AlignedMTL(_Gramian):
    """Aligned-MTL: make the gradient system's condition number 1, then add up.

    Senushkin et al., "Independent Component Alignment for Multi-Task Learning", CVPR 2023
    (torchjd's Aligned-MTL). Scale of the aligned gradients: the smallest singular value
    (scale_mode min, the paper's) or the median / mean one.
    """

    name = "aligned-mtl"
    paper = "Senushkin et al., CVPR 2023 (Aligned-MTL)"
    option_help: ClassVar[dict[str, str]] = {"scale_mode": "min | median | rmse",
                                             "rep_grad": "representation gradients"}

    def __init__(self, scale_mode: str = "min", rep_grad: bool = False) -> None:
        if scale_mode not in ("min", "median", "rmse"):
            raise MtlspecError(f"aligned-mtl: scale_mode must be min, median or rmse, "
                               f"got {scale_mode!r}")
        super().__init__(torchjd_aggregation().AlignedMTLWeighting(scale_mode=scale_mode), rep_grad)  # type: ignore[arg-type]


def _projector(norm_eps: float, reg_eps: float) -> Any:
    from torchjd._linalg import QuadprogProjector

    if norm_eps < 0 or reg_eps < 0:
        raise MtlspecError("norm_eps and reg_eps must be ≥ 0")
    return QuadprogProjector(norm_eps=norm_eps, reg_eps=reg_eps)


class UPGrad(_Gramian):
    """UPGrad: project every gradient onto the dual cone of all of them, then average.

    Quinton and Rey, "Jacobian Descent for Multi-Objective Optimization", arXiv:2406.16232
    (torchjd's UPGrad). The update has a non-negative inner product with every task gradient.
    """

    name = "upgrad"
    paper = "Quinton & Rey, arXiv 2024 (UPGrad, torchjd)"
    option_help: ClassVar[dict[str, str]] = {"reg_eps": "ridge added to the normalised Gram",
                                             "rep_grad": "representation gradients"}

    def __init__(self, reg_eps: float = 1e-4, rep_grad: bool = False) -> None:
        projector = _projector(1e-4, reg_eps)
        super().__init__(torchjd_aggregation().UPGradWeighting(projector=projector), rep_grad)


class DualProj(_Gramian):
    """DualProj: project the mean gradient onto the dual cone of the task gradients.

    Lopez-Paz and Ranzato, "Gradient Episodic Memory for Continual Learning", NeurIPS 2017
    (Eq. 11), as an MTL aggregator in torchjd.
    """

    name = "dualproj"
    paper = "Lopez-Paz & Ranzato, NeurIPS 2017 (GEM's projection)"
    option_help: ClassVar[dict[str, str]] = {"reg_eps": "ridge added to the normalised Gram",
                                             "rep_grad": "representation gradients"}

    def __init__(self, reg_eps: float = 1e-4, rep_grad: bool = False) -> None:
        projector = _projector(1e-4, reg_eps)
        super().__init__(torchjd_aggregation().DualProjWeighting(projector=projector), rep_grad)


class FairGrad(_Gramian):
    """FairGrad: α-fair allocation of the update across tasks, weights solving G w = w^(−1/α).

    Ban and Ji, "Fair Resource Allocation in Multi-Task Learning", ICML 2024 (torchjd's
    FairGrad, scipy's least squares). α = 2 (the authors' scripts); α → 0 is linear
    scalarisation, α = 1 proportional fairness.
    """

    name = "fairgrad"
    paper = "Ban & Ji, ICML 2024 (FairGrad)"
    option_help: ClassVar[dict[str, str]] = {"alpha": "fairness α > 0",
                                             "rep_grad": "representation gradients"}

    def __init__(self, alpha: float = 2.0, rep_grad: bool = False) -> None:
        if not alpha > 0:
            raise MtlspecError(f"fairgrad: alpha must be > 0, got {alpha}")
        super().__init__(torchjd_aggregation().FairGradWeighting(alpha=alpha), rep_grad)


class IMTL(Learned, GradientWeighting):
    """IMTL (hybrid): IMTL-L's learnt loss scales, then IMTL-G on the scaled losses' gradients.

    Liu et al., "Towards Impartial Multi-task Learning", ICLR 2021. Scaled losses e^(s_t) L_t
    − s_t; IMTL-G weights α for the gradients e^(s_t) ∇L_t, so w_t = α_t e^(s_t); s takes an Adam
    step along e^(s_t) L_t − 1 at the model's learning rate.
    """

    name = "imtl"
    paper = "Liu et al., ICLR 2021 (IMTL = IMTL-L + IMTL-G)"
    option_help: ClassVar[dict[str, str]] = {"lr": "Adam rate of s (default: the model's)",
                                             "rep_grad": "representation gradients"}

    def __init__(self, lr: float | None = None, rep_grad: bool = False) -> None:
        GradientWeighting.__init__(self, rep_grad)
        Learned.__init__(self, 0.0, lr)
        self.jd = torchjd_aggregation().IMTLGWeighting()

    def bind(self, tasks: Sequence[str]) -> None:
        super().bind(tasks)
        self.create(len(tasks))

    def default_lr(self, lr: float) -> None:
        self.set_default_lr(lr)

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        scale = torch.exp(self.value())
        g = torch.from_numpy(need_gram(self.name, gram))
        alpha = self.jd(g * scale[:, None] * scale[None, :]).double()
        self.descend(scale * losses.double().cpu() - 1.0)
        return (alpha * scale).numpy()

    def state_dict(self) -> dict[str, Any]:
        return self.learned_state()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.load_learned(state)
