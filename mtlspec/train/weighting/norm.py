"""Loss weightings that balance gradient magnitudes: GradNorm and DB-MTL.

They weight losses (the issue files them with the loss-based methods) but need each task's
gradient on the shared parameters — GradNorm its norm only (from the Gram diagonal, so it also
runs on representation gradients), DB-MTL the gradients themselves (an average of them per task).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from mtlspec.errors import MtlspecError
from mtlspec.train.weighting.base import GradientWeighting, Learned, need_gram


class GradNorm(Learned, GradientWeighting):
    """GradNorm: learn weights that give each task a gradient norm matched to its training rate.

    Chen et al., "GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep Multitask
    Networks", ICML 2018. With G_t = ‖w_t ∇L_t‖ on the shared parameters (the paper: the last
    shared layer; here all of them, or the representation with rep_grad), Ḡ their mean,
    r_t = (L_t/L_t(0)) / mean_j (L_j/L_j(0)): minimise Σ_t |G_t − Ḡ r_t^α| over w with the
    target Ḡ r_t^α held constant, then renormalise Σ w = T. Here w = T · softmax(ŵ) (renormalised
    by construction, as LibMTL does), ŵ trained by Adam at the model's learning rate; L(0) are the
    first step's losses; α = 1.5 (the paper's NYUv2 value). At equilibrium w_t ∝ r_t^α / ‖∇L_t‖
    when mean_t r_t^α = 1 (always for α = 1); otherwise no w meets every target.
    """

    name = "gradnorm"
    kind: Literal["loss", "gradient"] = "loss"
    paper = "Chen et al., ICML 2018 (GradNorm)"
    option_help: ClassVar[dict[str, str]] = {
        "alpha": "restoring-force strength α", "lr": "Adam rate of the weights (default: model's)",
        "rep_grad": "norms of representation gradients (needs an all-shared trunk)"}

    def __init__(self, alpha: float = 1.5, lr: float | None = None, rep_grad: bool = False
                 ) -> None:
        GradientWeighting.__init__(self, rep_grad)
        Learned.__init__(self, 0.0, lr)
        if alpha < 0:
            raise MtlspecError(f"gradnorm: alpha must be ≥ 0, got {alpha}")
        self.alpha = alpha
        self.initial_losses: torch.Tensor | None = None

    def bind(self, tasks: Sequence[str]) -> None:
        super().bind(tasks)
        self.create(len(tasks))

    def default_lr(self, lr: float) -> None:
        self.set_default_lr(lr)

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        norms = torch.from_numpy(np.sqrt(np.maximum(np.diag(need_gram(self.name, gram)), 0)))
        loss = losses.double().cpu()
        if self.initial_losses is None:
            self.initial_losses = loss.clone()
        t = len(loss)
        logits = self.param
        with torch.enable_grad():
            w = t * torch.softmax(logits, 0)
            g = w * norms
            ratio = loss / self.initial_losses.clamp_min(1e-12)
            target = (g.mean() * (ratio / ratio.mean()) ** self.alpha).detach()
            grad = torch.autograd.grad((g - target).abs().sum(), logits)[0]
        used = w.detach().numpy().copy()
        self.descend(grad)
        return used

    def state_dict(self) -> dict[str, Any]:
        return {**self.learned_state(), "initial_losses": self.initial_losses}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.load_learned(state)
        self.initial_losses = state["initial_losses"]


class DBMTL(GradientWeighting):
    """DB-MTL: log losses, then scale every task's averaged gradient to the largest norm.

    Lin et al., "Dual-Balancing Multi-Task Learning", arXiv:2308.12029, 2023. Loss-scale
    balancing: train on log L_t. Gradient-magnitude balancing: ĝ_t ← β_k ĝ_t +
    (1 − β_k) ∇ log L_t with β_k = β / k^σ (an exponential average over steps k, from 0), and
    the shared update Σ_t (max_j ‖ĝ_j‖ / ‖ĝ_t‖) ĝ_t.
    β = 0.9, σ = 0 (LibMTL's defaults). The averages are over steps, so it needs parameter
    gradients (no rep_grad); the task-specific parameters get ∇ Σ_t log L_t (weights 1/L_t,
    the recorded weights).
    """

    name = "db-mtl"
    kind: Literal["loss", "gradient"] = "loss"
    paper = "Lin et al., arXiv 2023 (DB-MTL)"
    aggregates = True
    rep_grad_ok = False
    option_help: ClassVar[dict[str, str]] = {"beta": "average factor β",
                                             "beta_sigma": "decay σ of β_k = β / k^σ"}
    EPS = 1e-8

    def __init__(self, beta: float = 0.9, beta_sigma: float = 0.0) -> None:
        super().__init__(rep_grad=False)
        if not 0 <= beta < 1:
            raise MtlspecError(f"db-mtl: beta must be in [0, 1), got {beta}")
        self.beta, self.beta_sigma = beta, beta_sigma
        self.step = 0
        self.buffer: torch.Tensor | None = None

    def aggregate(self, losses: torch.Tensor, grads: torch.Tensor,
                  rep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        scale = 1.0 / (losses.detach().to(grads.dtype) + self.EPS)  # ∇ log L = ∇L / L
        log_grads = grads * scale[:, None]
        self.step += 1
        if self.buffer is None:
            self.buffer = torch.zeros_like(log_grads)
        beta = self.beta / self.step ** self.beta_sigma
        self.buffer = log_grads + beta * (self.buffer - log_grads)
        norms = self.buffer.norm(dim=1)
        alpha = norms.max() / (norms + self.EPS)
        self.last = scale.double().cpu().numpy()
        return scale, alpha @ self.buffer

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "buffer": self.buffer}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.step, self.buffer = int(state["step"]), state["buffer"]
