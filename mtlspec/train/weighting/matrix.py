"""Gradient methods that need more than a Gramian weighting: torchjd's matrix-based ConFIG and
Nash-MTL, given a T×T factor L of the Gram matrix (L Lᵀ = G) — both depend on the gradients only
through their inner products, so the weights found for L are the weights for the real
gradients — and GradDrop, which masks coordinates and so gets the gradients themselves
(`aggregates`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from mtlspec.errors import MtlspecError
from mtlspec.train.weighting.base import GradientWeighting, need_gram
from mtlspec.train.weighting.gradient import CVXPY, gram_factor, require, torchjd_aggregation


class ConFIG(GradientWeighting):
    """ConFIG: the direction with equal cosine to every task gradient, scaled by their sum.

    Liu et al., "ConFIG: Towards Conflict-free Training of Physics Informed Neural Networks",
    ICLR 2025 (torchjd's ConFIG, applied to a factor of the Gram matrix; the weights are the
    coordinates of its answer in the task gradients).
    """

    name = "config"
    paper = "Liu et al., ICLR 2025 (ConFIG)"
    option_help: ClassVar[dict[str, str]] = {"rep_grad": "representation gradients"}

    def __init__(self, rep_grad: bool = False) -> None:
        super().__init__(rep_grad)
        self.jd = torchjd_aggregation().ConFIG()

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        factor = gram_factor(need_gram(self.name, gram))
        direction = self.jd(factor).numpy()
        return np.linalg.lstsq(factor.numpy().T, direction, rcond=None)[0]


class NashMTL(GradientWeighting):
    """Nash-MTL: the Nash bargaining solution, weights with (G α)_t = 1/α_t.

    Navon et al., "Multi-Task Learning as a Bargaining Game", ICML 2022 (torchjd's Nash-MTL,
    solved with cvxpy/ECOS: needs the extra mtlspec[cvxpy]). Defaults as the paper's code:
    max_norm 1 (the update's norm is clipped to it; 0: no clipping), 20 solver iterations,
    new weights every step.
    """

    name = "nash-mtl"
    paper = "Navon et al., ICML 2022 (Nash-MTL)"
    extra = "cvxpy"
    option_help: ClassVar[dict[str, str]] = {
        "max_norm": "clip the update's norm (0: off)", "optim_niter": "solver iterations",
        "update_weights_every": "steps between solves", "rep_grad": "representation gradients"}

    def __init__(self, max_norm: float = 1.0, optim_niter: int = 20,
                 update_weights_every: int = 1, rep_grad: bool = False) -> None:
        require(self.name, (CVXPY[0], CVXPY[2]), self.extra)
        super().__init__(rep_grad)
        if max_norm < 0 or optim_niter < 1 or update_weights_every < 1:
            raise MtlspecError("nash-mtl: need max_norm ≥ 0, optim_niter ≥ 1 and "
                               "update_weights_every ≥ 1")
        self.options = {"max_norm": max_norm, "optim_niter": optim_niter,
                        "update_weights_every": update_weights_every}
        self.jd: Any = None

    def bind(self, tasks: Sequence[str]) -> None:
        super().bind(tasks)
        self.jd = torchjd_aggregation().NashMTL(n_tasks=len(tasks), **self.options).weighting

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        factor = gram_factor(need_gram(self.name, gram))
        # cvxpy warns that the problem is not DPP (no faster re-solves), that a solution "may
        # be inaccurate", and divides by zero when G·α has a zero entry; torchjd then keeps the
        # previous weights, as the paper's code does. Not the user's to act on.
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.filterwarnings("ignore", message=".*(not DPP|inaccurate).*")
            return self.jd(factor).double().numpy()

    def state_dict(self) -> dict[str, Any]:
        return {"alpha": torch.as_tensor(np.asarray(self.jd.prvs_alpha, dtype=np.float64)),
                "step": float(self.jd.step),
                "scale": torch.as_tensor(np.asarray(self.jd.normalization_factor))}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.jd.prvs_alpha = state["alpha"].numpy().astype(np.float32)
        self.jd.normalization_factor = state["scale"].numpy()
        self.jd.step = state["step"]
        if self.jd.step > 0:  # the cvxpy problem is otherwise built on the first call
            self.jd._init_optim_problem()


class GradDrop(GradientWeighting):
    """GradDrop: keep, per coordinate, only the gradients of one sign, chosen by sign purity.

    Chen et al., "Just Pick a Sign: Optimizing Deep Multitask Models with Gradient Sign
    Dropout", NeurIPS 2020. P = ½(1 + Σ_t g_t / Σ_t |g_t|); with U ~ U(0, 1) per coordinate,
    task t keeps its gradient where (P > U and g_t > 0) or (P < U and g_t < 0); leak ℓ keeps a
    share ℓ of every gradient. On parameter gradients torchjd's GradDrop; with rep_grad (where
    the paper applies it) the per-item representation gradients, signs corrected by the
    activations' and summed over the batch as in the paper. Task-specific parts get ∇ Σ_t L_t.
    """

    name = "graddrop"
    paper = "Chen et al., NeurIPS 2020 (GradDrop)"
    aggregates = True
    option_help: ClassVar[dict[str, str]] = {"leak": "share ℓ ∈ [0, 1] kept of every gradient",
                                             "rep_grad": "representation gradients (paper)"}

    def __init__(self, leak: float = 0.0, rep_grad: bool = False) -> None:
        super().__init__(rep_grad)
        if not 0 <= leak <= 1:
            raise MtlspecError(f"graddrop: leak must be in [0, 1], got {leak}")
        self.leak = leak

    def aggregate(self, losses: torch.Tensor, grads: torch.Tensor,
                  rep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        t = len(grads)
        ones = torch.ones(t, dtype=losses.dtype, device=losses.device)
        self.last = np.ones(t)
        if rep is None:
            leak = torch.full((t,), self.leak, dtype=grads.dtype, device=grads.device)
            return ones, torchjd_aggregation().GradDrop(leak=leak)(grads)
        per_item = grads.reshape(t, rep.shape[0], -1)
        signed = (per_item * rep.reshape(1, rep.shape[0], -1).sign()).sum(1)
        purity = 0.5 * (1 + signed.sum(0) / (signed.abs().sum(0) + 1e-7))
        u = torch.rand(purity.shape, dtype=purity.dtype, device=purity.device)
        keep = ((purity > u) & (signed > 0)) | ((purity < u) & (signed < 0))
        mask = self.leak + (1 - self.leak) * keep.to(grads.dtype)
        return ones, (per_item * mask[:, None, :]).sum(0).reshape(-1)
